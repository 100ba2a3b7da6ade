import Foundation
import ModelArchitectures
import ModelFormats

/// Layer inputs captured from text by the reference forward pass: for every linear weight of the
/// decoder blocks, up to `samplesPerLayer` rows of its input, spread evenly over the text's tokens,
/// written as a calibration dataset (`<layer>.input`, docs/CALIBRATION.md). GPTQ's Hessians,
/// AdaRound and static activation ranges then read them as they read an uploaded dataset.
enum InputCapture {
    static let defaultSamplesPerLayer = 512

    /// Runs `forward` over the text in chunks of `context` tokens (BOS first) and writes the dataset
    /// to `path`.
    static func capture(
        _ forward: DecoderForward, text: TextChunks, samplesPerLayer: Int = defaultSamplesPerLayer, to path: String
    ) throws {
        // Every stride-th token of the whole text is kept, so the samples cover all chunks.
        let stride = Swift.max(1, text.count * text.context / samplesPerLayer)
        var rows: [String: [Float]] = [:]
        var widths: [String: Int] = [:]
        var order: [String] = []
        var observed = forward
        var offset = 0
        observed.inputObserver = { weight, input in
            guard weight.hasSuffix(".weight"), weight.contains("layers.") || weight.hasPrefix("blk.") else { return }
            let layer = String(weight.dropLast(".weight".count))
            if rows[layer] == nil {
                rows[layer] = []
                widths[layer] = input.cols
                order.append(layer)
            }
            for row in 0..<input.rows where (offset + row) % stride == 0 && rows[layer]!.count / input.cols < samplesPerLayer {
                rows[layer]! += input.values[(row * input.cols)..<((row + 1) * input.cols)]
            }
        }
        for (chunk, window) in text.windows.enumerated() {
            offset = chunk * text.context
            _ = try observed.hiddenStates([window])
        }
        let specs = order.map {
            TensorSpec(
                name: $0 + CalibrationDataset.inputSuffix, dtype: .f32, shape: [rows[$0]!.count / widths[$0]!, widths[$0]!])
        }
        let writer = try SafetensorsWriter(path: path, tensors: specs)
        for layer in order { try rows[layer]!.withUnsafeBytes { try writer.write($0) } }
        try writer.finish(sync: false)
    }
}

extension Pipeline {
    /// A text dataset turned into layer inputs of the input checkpoint, in a file beside the output
    /// (removed by the caller).
    static func capturedInputs(_ source: SourceModel, text path: String, options: PipelineOptions, scratch: String) throws
        -> String
    {
        guard let checkpoint = source.checkpoint, let tokenizerPath = checkpoint.path(of: "tokenizer.json") else {
            throw CalibrationError.invalidDataset(
                "layer inputs from text need the model as a Hugging Face checkpoint with tokenizer.json")
        }
        let file = (scratch as NSString).appendingPathComponent(
            "inputs-\(ProcessInfo.processInfo.processIdentifier)-\(UInt64.random(in: 0...UInt64.max)).safetensors")
        do {
            let tokenizer = try Tokenizer(path: tokenizerPath)
            let text = try TextChunks(
                text: TextDataset(path: path).joined, tokenizer: tokenizer, context: options.importanceContext)
            try InputCapture.capture(DecoderForward.open(checkpoint.directory), text: text, to: file)
        } catch let error as EvaluationError {
            try? FileManager.default.removeItem(atPath: file)
            throw CalibrationError.invalidDataset("layer inputs from text: \(error.message)")
        } catch let error as TokenizerError {
            throw CalibrationError.invalidDataset("layer inputs from text: \(error.message)")
        }
        return file
    }
}
