import Dispatch
import Foundation
import Int8Kernels
import JSON
import ModelArchitectures
import ModelFormats

/// Progress of a running quantization.
public struct PipelineProgress: Sendable {
    public var tensorsDone: Int
    public var tensorsTotal: Int
    public var bytesDone: Int
    public var bytesTotal: Int
    public var currentTensor: String

    public var fraction: Double { bytesTotal == 0 ? 1 : Double(bytesDone) / Double(bytesTotal) }
}

public struct PipelineOptions: Sendable {
    public var threads: Int
    public var kernels: Kernels
    /// Values per chunk: bounds the memory a tensor takes while it is processed.
    public var chunkElements: Int
    public var progress: (@Sendable (PipelineProgress) -> Void)?
    /// Checked after every chunk; returning true stops the run with `PipelineError.cancelled`.
    public var isCancelled: (@Sendable () -> Bool)?
    /// fsync the artifact before renaming it into place (the job runner needs it durable).
    public var sync = true
    /// The calibration dataset (safetensors of `<layer>.input`): required when the recipe names one;
    /// with it, every layer with samples is also evaluated (output SQNR, W8A8, int8 speed). It may
    /// instead be a llama.cpp importance matrix (`imatrix.gguf`, `imatrix.dat`), which only weights
    /// the GGUF block types' search.
    public var calibrationDataset: String? = nil
    /// The dataset's name for GGUF metadata (`quantize.imatrix.file`); the path's last component without.
    public var calibrationDatasetName: String? = nil
    /// Tokens per chunk when importance weights are computed from text (llama-imatrix's -c).
    public var importanceContext = 512
    /// The model's name for a converted GGUF's `general.name` (default: the checkpoint folder's name).
    public var modelName: String? = nil
    /// Hash the artifact as it is written (`Report.artifactSHA256`), for callers that publish its
    /// digest (the job runner's ETag) and would otherwise read the whole file back.
    public var hashArtifact = false

    public init(
        threads: Int = ProcessInfo.processInfo.activeProcessorCount, kernels: Kernels = .best, chunkElements: Int = 1 << 20,
        progress: (@Sendable (PipelineProgress) -> Void)? = nil, isCancelled: (@Sendable () -> Bool)? = nil
    ) {
        self.threads = Swift.max(1, threads)
        self.kernels = kernels
        self.chunkElements = Swift.max(1024, chunkElements)
        self.progress = progress
        self.isCancelled = isCancelled
    }
}

/// Model file in, artifact plus report out, tensor by tensor (docs/ARTIFACT-LAYOUT.md, docs/RECIPES.md).
public enum Pipeline {
    public static let artifactFormat = "quantservice/1"

    public static func run(input: String, output: String, recipe given: Recipe, options: PipelineOptions = PipelineOptions())
        throws -> Report
    {
        let started = DispatchTime.now().uptimeNanoseconds
        let source = try SourceModel(path: input)
        var recipe = given
        var selection: MixedPrecision.Selection?
        if let spec = given.mixedPrecision {
            let chosen = try MixedPrecision.select(
                source, recipe: given, spec: spec, options: options, scratch: (output as NSString).deletingLastPathComponent)
            selection = chosen
            recipe = MixedPrecision.resolve(given, chosen, spec)
        }
        let notes = try recipe.nonFinite == .keep ? nonFiniteTensors(source, recipe: recipe, options: options) : [:]
        let modelPlan = try plan(source, recipe: recipe, keep: notes, name: options.modelName)
        recipe = modelPlan.recipe
        var plans = modelPlan.tensors
        let scratch = (output as NSString).deletingLastPathComponent
        let importanceMatrix = try importanceMatrix(recipe: recipe, options: options, source: source, scratch: scratch)
        let awq = try applyAWQ(&plans, source: source, recipe: recipe, options: options, scratch: scratch)
        let calibration =
            importanceMatrix == nil && awq == nil
            ? try calibrationContext(source, recipe: recipe, options: options, scratch: scratch) : nil
        if let calibration { addInputQuantization(&plans, calibration) }
        let writer: ArtifactWriter
        if let checkpoint = source.checkpoint, writesFolder(source, recipe: recipe) {
            let layout = BundleLayout(plans: plans, maxShardBytes: recipe.maxShardBytes ?? BundleLayout.defaultMaxShardBytes)
            writer = try ArtifactWriter(
                folder: output, layout: layout, metadata: { safetensorsMetadata(source, plans: $0, recipe: recipe) },
                files: folderFiles(checkpoint, layout: layout, plans: plans, recipe: recipe))
        } else {
            writer = try ArtifactWriter(
                path: output, plans: plans, format: recipe.output,
                safetensorsMetadata: safetensorsMetadata(source, plans: plans, recipe: recipe),
                ggufMetadata: ggufMetadata(
                    source, recipe: recipe, conversion: modelPlan.conversion,
                    importance: importanceMatrix.map {
                        ($0, options.calibrationDatasetName ?? ((options.calibrationDataset ?? "") as NSString).lastPathComponent)
                    }),
                ggufVersion: source.model.ggufVersion ?? 3, hashing: options.hashArtifact)
        }
        var report = Report(
            recipe: recipe.json, inputFormat: source.format.rawValue, outputFormat: recipe.output.rawValue,
            fileBytesIn: source.fileBytes)
        report.mixedPrecision = selection.map { selection in
            .object(
                JSONObject([
                    ("max_bits_per_weight", Report.number(selection.budgetBitsPerWeight)),
                    ("bits_per_weight", Report.number(selection.usedBitsPerWeight)),
                    ("lambda", Report.number(selection.lambda)),
                    ("sensitivity", .string(selection.outputErrorTensors.isEmpty ? "weight_error" : "output_error")),
                ]))
        }
        var progress = PipelineProgress(
            tensorsDone: 0, tensorsTotal: plans.count, bytesDone: 0,
            bytesTotal: plans.reduce(0) { $0 + $1.source.byteRange.count }, currentTensor: "")
        let processor = TensorProcessor(
            source: source, kernels: options.kernels, threads: options.threads, chunkElements: options.chunkElements
        ) { bytes in
            if options.isCancelled?() == true { throw PipelineError.cancelled }
            progress.bytesDone += bytes
            options.progress?(progress)
        }
        processor.calibration = calibration
        processor.importanceMatrix = importanceMatrix
        do {
            for plan in plans {
                progress.currentTensor = plan.source.name
                let tensorStart = DispatchTime.now().uptimeNanoseconds
                var fixedPoint: String?
                let metrics = try processor.process(plan, into: writer, fixedPoint: &fixedPoint)
                var tensorReport = tensorReport(
                    plan, metrics: metrics, seconds: Double(DispatchTime.now().uptimeNanoseconds - tensorStart) / 1e9)
                tensorReport.fixedPoint = fixedPoint
                tensorReport.scheme = selection?.choices.first { $0.tensor == plan.source.name }?.candidate
                if let input = plan.inputQuantization { try writeInputQuantization(input, plan: plan, into: writer) }
                if let calibration { annotate(&tensorReport, plan: plan, calibration: calibration) }
                if let result = awq?.tensors[plan.source.name] { tensorReport.calibration = result }
                if importanceMatrix != nil {
                    annotateImportance(&tensorReport, plan: plan, entry: processor.importanceEntries[plan.source.name])
                }
                report.tensors.append(tensorReport)
                progress.tensorsDone += 1
                options.progress?(progress)
            }
            if options.isCancelled?() == true { throw PipelineError.cancelled }
            report.artifactSHA256 = try writer.commit(sync: options.sync)
        } catch {
            writer.abort()
            throw error
        }
        report.calibration =
            calibration.map { calibrationSummary($0, report: report, recipe: recipe) } ?? awq?.summary
            ?? importanceMatrix.map { importanceSummary($0, used: processor.importanceEntries.count) }
        report.fileBytesOut = outputBytes(output)
        report.seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return report
    }

    static func tensorReport(_ plan: TensorPlan, metrics: ErrorMetrics?, seconds: Double) -> TensorReport {
        var report = TensorReport(
            name: plan.source.name, shape: plan.source.shape, dtype: plan.source.dtypeName, method: "copy", bits: nil, type: nil,
            granularity: nil, axis: nil, groupSize: nil, bytesIn: plan.source.byteRange.count,
            bytesOut: plan.outputs.reduce(0) { $0 + $1.byteCount }, metrics: metrics, seconds: seconds, note: plan.note)
        switch plan.action {
        case .copy: break
        case .linear(let scheme, _):
            report.describe(method: "linear", bits: scheme.bits)
            report.setGranularity(scheme.granularity)
        case .blocks(let format):
            report.describe(method: "gguf", type: format.name, bits: format.codeBits)
            report.setGroups(of: format.blockSize)
        case .float(let dtype):
            report.describe(method: "gguf", type: dtype.rawValue, bits: dtype.bitWidth)
        case .sign(let ternary):
            report.describe(method: ternary ? "ternary" : "binary", bits: ternary ? 2 : 1)
            report.setScales(perChannel: true)
        case .scaledFloat(let element, let perChannel):
            report.describe(method: "float", type: element.rawValue, bits: 8)
            report.setScales(perChannel: perChannel)
        case .kmeans(let bits, let perChannel):
            report.describe(method: "kmeans", bits: bits)
            report.setScales(perChannel: perChannel)
        case .compressedLinear(let scheme, _):
            // compressed-tensors packs groups or, without them, one scale per output channel.
            report.describe(method: "linear", type: "compressed-tensors", bits: scheme.bits)
            if case .group(let size) = scheme.granularity {
                report.setGroups(of: size)
            } else {
                report.setScales(perChannel: true)
            }
        case .mx(let element):
            report.describe(method: "mx", type: element.rawValue, bits: element.bits)
            report.setGroups(of: MXElement.blockSize)
        }
        return report
    }

    /// With "nonfinite": "keep", targeted tensors holding NaN or Inf are found first (one range pass
    /// over them) and copied unchanged.
    static func nonFiniteTensors(_ source: SourceModel, recipe: Recipe, options: PipelineOptions) throws -> [String: String] {
        var notes: [String: String] = [:]
        let scratch = ScratchBuffer<Float>(fill: 0)
        for tensor in source.tensors
        where recipe.quantizes(name: tensor.name, isFloatingPoint: tensor.floatDType != nil, rank: tensor.shape.count) {
            var bad = 0
            var start = 0
            while start < tensor.elementCount {
                let end = Swift.min(tensor.elementCount, start + options.chunkElements)
                let x = try source.floats(of: tensor, start..<end, scratch: scratch, kernels: options.kernels)
                bad += try options.kernels.minMax(x, rows: 1, cols: x.count, group: Swift.max(x.count, 1)).nonFinite
                source.release(tensor, elements: start..<end)
                start = end
            }
            if bad > 0 { notes[tensor.name] = "kept unchanged: \(bad) NaN or Inf values" }
        }
        return notes
    }

    static func safetensorsMetadata(_ source: SourceModel, plans: [TensorPlan], recipe: Recipe) -> [(key: String, value: String)]
    {
        guard recipe.output.isSafetensors else { return [] }
        var tensors = JSONObject()
        for plan in plans {
            switch plan.action {
            case .linear(let scheme, _):
                var entry = JSONObject([
                    ("method", .string("linear")), ("bits", .integer(scheme.bits)), ("symmetric", .bool(scheme.symmetric)),
                ])
                switch scheme.granularity {
                case .tensor:
                    entry["granularity"] = .string("tensor")
                    entry["axis"] = .null
                    entry["group_size"] = .null
                case .channel(let axis):
                    entry["granularity"] = .string("channel")
                    entry["axis"] = .integer(axis)
                    entry["group_size"] = .null
                case .group(let size):
                    entry["granularity"] = .string("group")
                    entry["axis"] = .null
                    entry["group_size"] = .integer(size)
                }
                if let scaleBits = scheme.groupScaleBits { entry["scale_bits"] = .integer(scaleBits) }
                if let input = plan.inputQuantization { entry["input"] = inputEntry(input, plan: plan) }
                entry["shape"] = .array(plan.source.shape.map { .integer($0) })
                entry["dtype"] = .string(plan.source.dtypeName)
                tensors[plan.source.name] = .object(entry)
            case .sign(let ternary):
                tensors[plan.source.name] = .object(
                    JSONObject([
                        ("method", .string(ternary ? "ternary" : "binary")), ("bits", .integer(ternary ? 2 : 1)),
                        ("symmetric", .bool(true)),
                        ("granularity", .string("channel")), ("axis", .integer(0)), ("group_size", .null),
                        ("shape", .array(plan.source.shape.map { .integer($0) })), ("dtype", .string(plan.source.dtypeName)),
                    ]))
            case .scaledFloat(let element, let perChannel):
                tensors[plan.source.name] = .object(
                    JSONObject([
                        ("method", .string("float")), ("format", .string(element.rawValue)),
                        ("granularity", .string(perChannel ? "channel" : "tensor")), ("axis", perChannel ? .integer(0) : .null),
                        ("shape", .array(plan.source.shape.map { .integer($0) })), ("dtype", .string(plan.source.dtypeName)),
                    ]))
            case .compressedLinear(let scheme, _):
                var group: JSONValue = .null
                if case .group(let size) = scheme.granularity { group = .integer(size) }
                tensors[plan.source.name] = .object(
                    JSONObject([
                        ("method", .string("compressed-tensors")), ("bits", .integer(scheme.bits)), ("symmetric", .bool(true)),
                        ("granularity", .string(group == .null ? "channel" : "group")), ("group_size", group),
                        ("shape", .array(plan.source.shape.map { .integer($0) })), ("dtype", .string(plan.source.dtypeName)),
                    ]))
            case .kmeans(let bits, let perChannel):
                tensors[plan.source.name] = .object(
                    JSONObject([
                        ("method", .string("kmeans")), ("bits", .integer(bits)),
                        ("granularity", .string(perChannel ? "channel" : "tensor")), ("axis", perChannel ? .integer(0) : .null),
                        ("shape", .array(plan.source.shape.map { .integer($0) })), ("dtype", .string(plan.source.dtypeName)),
                    ]))
            case .mx(let element):
                tensors[plan.source.name] = .object(
                    JSONObject([
                        ("method", .string("mx")), ("format", .string(element.rawValue)), ("bits", .integer(element.bits)),
                        ("block_size", .integer(MXElement.blockSize)),
                        ("shape", .array(plan.source.shape.map { .integer($0) })), ("dtype", .string(plan.source.dtypeName)),
                    ]))
            case .float(let dtype):
                tensors[plan.source.name] = .object(
                    JSONObject([
                        ("method", .string("float")), ("type", .string(dtype.rawValue)),
                        ("shape", .array(plan.source.shape.map { .integer($0) })),
                        ("dtype", .string(plan.source.dtypeName)),
                    ]))
            default:
                break
            }
        }
        let quantization = JSONObject([
            ("format", .string(artifactFormat)), ("recipe", recipe.json), ("tensors", .object(tensors)),
        ])
        var metadata: [(key: String, value: String)] = []
        if case .safetensors(let file) = source.model {
            metadata = file.metadata.filter { $0.key != "quantization" }
        }
        metadata.append(("quantization", JSONValue.object(quantization).serialized))
        if recipe.output == .compressedTensors {
            metadata.removeAll { $0.key == "quantization_config" }
            metadata.append(("quantization_config", CompressedTensors.config(plans, activations: recipe.activations).serialized))
        }
        return metadata
    }

    /// Where a layer's static input scale (and zero point) are, and their values.
    static func inputEntry(_ input: StaticActivation, plan: TensorPlan) -> JSONValue {
        let zero = plan.outputs.first { $0.name.hasSuffix(".input_zero_point") }
        return .object(
            JSONObject([
                ("bits", .integer(8)), ("symmetric", .bool(zero == nil)),
                ("scale", .string(plan.outputs.first { $0.name.hasSuffix(".input_scale") }?.name ?? "")),
                ("zero_point", zero.map { .string($0.name) } ?? .null),
            ]))
    }

    /// A GGUF input keeps all of its metadata, as llama.cpp's quantize does; the quantization version
    /// is set and the recipe recorded.
    static func ggufMetadata(
        _ source: SourceModel, recipe: Recipe, conversion: GGUFConversion? = nil,
        importance: (ImportanceMatrix, name: String)? = nil
    ) -> [GGUFKeyValue] {
        var metadata: [GGUFKeyValue] = conversion?.metadata ?? []
        if case .gguf(let file) = source.model { metadata = file.metadata }
        var ours = [
            GGUFKeyValue("general.quantization_version", .uint32(2)),
            GGUFKeyValue("quantservice.recipe", .string(recipe.json.serialized)),
        ]
        // An input's own file type (F16, say) would misdescribe the output: llama.cpp sets it too.
        if let fileType = fileType(recipe.weights) { ours.append(GGUFKeyValue("general.file_type", .uint32(fileType))) }
        if let importance { ours += importanceMetadata(importance.0, name: importance.name) }
        for entry in ours {
            if let index = metadata.firstIndex(where: { $0.key == entry.key }) {
                metadata[index] = entry
            } else {
                metadata.append(entry)
            }
        }
        return metadata
    }
}

extension ModelFile {
    var ggufVersion: UInt32? {
        if case .gguf(let file) = self { return file.header.version }
        return nil
    }
}
