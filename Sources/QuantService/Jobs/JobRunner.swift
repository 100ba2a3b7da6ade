import Dispatch
import Foundation
import JSON
import ModelFormats
import QuantCore
import QuantStore
import Synchronization

/// Settings of the workers.
public struct WorkerSettings: Sendable {
    /// A running attempt's lease; renewed every third of it while the job runs.
    public var leaseSeconds: Double = 30
    /// Progress is written at most this often.
    public var progressInterval: Double = 0.5
    /// Artifacts are deleted this long after their job succeeds (nil: kept).
    public var artifactTTL: Double? = 7 * 24 * 3600
    /// Threads each job's pipeline may use.
    public var pipelineThreads: Int = ProcessInfo.processInfo.activeProcessorCount
    /// On a data directory shared by replicas, start-up removes unreferenced files only when they
    /// are older than this (a younger one may be another replica's work in progress).
    public var orphanGraceSeconds: Double = 3600
    /// Extra space required on top of the model size before a job starts.
    public var diskHeadroomBytes: Int64 = 64 << 20
    /// Test knob (QUANTD_TEST_CHUNK_DELAY_MS): sleep after each chunk, so crash tests can kill a
    /// worker mid-job. Zero in production.
    public var chunkDelay: Double = 0
    /// Told of every failed attempt (job id, error code, message): quantd logs them.
    public var onFailure: (@Sendable (String, String, String) -> Void)? = nil
    /// Told of errors no caller can answer (a failed claim or record), with what was being done:
    /// quantd logs them; they are also counted in /metrics.
    public var onError: (@Sendable (String, any Error) -> Void)? = nil
    /// Told how long each successful claim transaction took (seconds): `quant-bench queue` reports
    /// their percentiles.
    public var onClaim: (@Sendable (Double) -> Void)? = nil

    public init() {
        if let ms = ProcessInfo.processInfo.environment["QUANTD_TEST_CHUNK_DELAY_MS"].flatMap(Double.init) {
            chunkDelay = ms / 1000
        }
    }
}

/// Runs one claimed attempt to its end: renews the lease, reports progress, writes the artifact
/// durably, then commits the row; or records why it failed. A runner that loses its lease stops and
/// writes nothing.
struct JobRunner {
    let store: Store
    let data: DataDirectory
    let worker: String
    let settings: WorkerSettings
    let counters: ServiceCounters

    /// Why an attempt stopped early.
    final class StopFlags: Sendable {
        let cancelRequested = Atomic<Bool>(false)
        let leaseLost = Atomic<Bool>(false)
        var shouldStop: Bool { cancelRequested.load(ordering: .relaxed) || leaseLost.load(ordering: .relaxed) }

        /// What a lease renewal or progress write learned: a cancel request or a lost lease stops
        /// the attempt.
        func note(_ status: LeaseStatus?) {
            switch status {
            case .cancelRequested: cancelRequested.store(true, ordering: .relaxed)
            case .lost: leaseLost.store(true, ordering: .relaxed)
            default: break
            }
        }
    }

    func run(_ claim: Claim) {
        let job = claim.job
        let started = Date()
        let flags = StopFlags()
        let renewal = startLeaseRenewal(job: job, flags: flags)
        defer { renewal.cancel() }
        let outcome: Outcome
        do {
            outcome = .succeeded(try execute(claim, flags: flags))
        } catch {
            outcome = classify(error, flags: flags)
        }
        record(outcome, job: job, started: started)
    }

    enum Outcome {
        case succeeded(CompletedJob)
        case failed(code: String, message: String, transient: Bool)
        case cancelled
        case leaseLost
    }

    func execute(_ claim: Claim, flags: StopFlags) throws -> CompletedJob {
        let job = claim.job
        if job.kind == "evaluate" { return try executeEvaluation(claim, flags: flags) }
        let recipe = try Recipe.parse(job.recipe)
        // A checkpoint written as safetensors is a folder, served as one tar (FolderArchive).
        let writesFolder = claim.model.format == "checkpoint" && recipe.output.isSafetensors && job.kind != "qat"
        let needed = try Self.bytesNeeded(claim, recipe: recipe, writesFolder: writesFolder) + settings.diskHeadroomBytes
        let artifacts = ArtifactStore(data: data)
        if let free = artifacts.freeBytes, free < needed {
            throw JobFailure(
                code: "disk_full",
                message:
                    "only \(free) bytes free under \(artifacts.root); the job writes about \(needed) (its outputs, plus \(settings.diskHeadroomBytes) of headroom)",
                transient: true)
        }
        let slot = try artifacts.slot(
            job: job.id, attempt: job.attempt,
            fileExtension: writesFolder ? "tar" : recipe.output == .gguf ? "gguf" : "safetensors")
        let artifact = slot.path
        let output = writesFolder ? slot.folder : artifact
        let settings = settings
        var options = PipelineOptions(threads: settings.pipelineThreads)
        options.modelName = claim.model.name
        options.hashArtifact = true
        if let datasetID = recipe.datasetID {
            let dataset = try Self.dataset(of: claim, named: datasetID)
            options.calibrationDataset = dataset.blobPath
            options.calibrationDatasetName = dataset.name
        }
        options.isCancelled = { flags.shouldStop }
        let reportProgress = progressWriter(claim, flags: flags)
        options.progress = { progress in
            if settings.chunkDelay > 0 { Thread.sleep(forTimeInterval: settings.chunkDelay) }
            reportProgress(progress.bytesDone, progress.bytesTotal, "quantizing")
        }
        var report: Report
        var epochs: [EpochMetricRecord] = []
        var packed: (sha256: String, size: Int64)?
        do {
            if job.kind == "qat" {
                (report, epochs) = try train(claim, recipe: recipe, output: output, options: options, flags: flags)
            } else {
                report = try Pipeline.run(input: claim.model.blobPath, output: output, recipe: recipe, options: options)
                if let evaluation = recipe.evaluation {
                    report.evaluation = try evaluate(claim, evaluation, candidate: output, flags: flags)
                }
            }
            if writesFolder { packed = try artifacts.pack(slot) }
            try artifacts.publish(slot)
        } catch {
            artifacts.discard(slot)
            throw error
        }
        // The pipeline hashed the artifact as it wrote it (the archive was hashed as it was packed);
        // QAT writes through its own path.
        let (sha, size) =
            try packed.map { ($0.sha256, $0.size) } ?? report.artifactSHA256.map { ($0, Int64(report.fileBytesOut)) }
            ?? Durability.sha256(of: output)
        let tensors = report.tensors.map { tensor in
            (
                name: tensor.name, sqnrDb: tensor.metrics.map(\.sqnrDB).flatMap { $0.isFinite ? $0 : nil },
                bitsPerWeight: Optional(tensor.bitsPerWeight), report: tensor.json.serialized
            )
        }
        let summary = report.json.objectValue?["summary"]?.serialized ?? "{}"
        var completed = CompletedJob(
            artifactPath: artifact, artifactSize: size, artifactSha256: sha, summary: summary, tensors: tensors,
            expiresAt: settings.artifactTTL.map { Date().timeIntervalSince1970 + $0 })
        completed.epochs = epochs
        return completed
    }

    /// What a job writes, from its plan (the same one the run follows): every output tensor, the
    /// folder's copied files and its tar beside it, and 1 MiB for headers and the report. QAT
    /// also writes the trained fp32 model before exporting it.
    static func bytesNeeded(_ claim: Claim, recipe: Recipe, writesFolder: Bool) throws -> Int64 {
        let source = try SourceModel(path: claim.model.blobPath)
        let planned = try Pipeline.plan(source, recipe: recipe).tensors.reduce(Int64(0)) { total, plan in
            total + plan.outputs.reduce(Int64(0)) { $0 + Int64($1.byteCount) }
        }
        var bytes = planned + (1 << 20)
        if writesFolder { bytes = 2 * (bytes + Int64(source.checkpoint?.sideFileBytes ?? 0)) }
        if claim.job.kind == "qat" { bytes += Int64(source.tensors.reduce(0) { $0 + $1.elementCount * 4 }) }
        return bytes
    }

    /// Writes a running attempt's progress at most every `progressInterval` (and whenever the stage
    /// changes); what the write learns (a cancel request, a lost lease) goes into `flags`.
    func progressWriter(_ claim: Claim, flags: StopFlags) -> @Sendable (Int, Int, String) -> Void {
        let last = Mutex<(time: Double, stage: String)>((0, ""))
        let store = store
        let settings = settings
        let job = claim.job
        return { done, total, stage in
            let now = Date().timeIntervalSince1970
            let due = last.withLock { last -> Bool in
                guard now - last.time >= settings.progressInterval || stage != last.stage else { return false }
                last = (now, stage)
                return true
            }
            guard due else { return }
            flags.note(
                try? store.reportProgress(job: job.id, attempt: job.attempt, done: Int64(done), total: Int64(total), stage: stage)
            )
        }
    }

    /// An evaluation of `candidate` against the job's model, on its text dataset; a dataset or model
    /// it cannot read is a permanent failure that says why. Progress counts layer passes and chunks.
    func evaluate(_ claim: Claim, _ spec: EvaluationSpec, candidate: String, flags: StopFlags) throws -> JSONValue {
        let record: DatasetRecord
        do { record = try store.scope(claim.job.tenantId).dataset(spec.datasetID) } catch {
            throw JobFailure(
                code: "dataset_missing", message: "the evaluation dataset \(spec.datasetID) was deleted before the job ran",
                transient: false)
        }
        let reportProgress = progressWriter(claim, flags: flags)
        let settings = settings
        do {
            let result = try ModelEvaluation.run(
                original: claim.model.blobPath, candidate: candidate, dataset: TextDataset(path: record.blobPath), spec: spec,
                progress: { done, total in
                    if settings.chunkDelay > 0 { Thread.sleep(forTimeInterval: settings.chunkDelay) }
                    reportProgress(done, total, "evaluating")
                },
                isCancelled: { flags.shouldStop })
            counters.evaluations.record(result)
            return result
        } catch let error as EvaluationError {
            throw JobFailure(code: "evaluation_failed", message: error.message, transient: false)
        } catch let error as FormatError {
            throw JobFailure(code: "evaluation_failed", message: "the candidate cannot be read: \(error)", transient: false)
        }
    }

    /// A job of kind "evaluate": no artifact, the evaluation in the summary.
    func executeEvaluation(_ claim: Claim, flags: StopFlags) throws -> CompletedJob {
        let request = try EvaluationJob.stored(claim.job.recipe)
        let scope = store.scope(claim.job.tenantId)
        let candidate: String
        switch request.candidate {
        case .model(let id):
            guard let model = try? scope.model(id) else {
                throw JobFailure(
                    code: "candidate_missing", message: "the candidate model \(id) was deleted before the job ran",
                    transient: false)
            }
            candidate = model.blobPath
        case .job(let id):
            guard let path = (try? scope.job(id))?.artifactPath else {
                throw JobFailure(
                    code: "candidate_missing", message: "the candidate job \(id) has no artifact any more (deleted or expired)",
                    transient: false)
            }
            candidate = path
        }
        let evaluation = try evaluate(claim, request.evaluation, candidate: candidate, flags: flags)
        let candidateJSON = request.json.objectValue?["candidate"] ?? .null
        let summary = JSONValue.object(JSONObject([("evaluation", evaluation), ("candidate", candidateJSON)])).serialized
        return CompletedJob(
            artifactPath: nil, artifactSize: nil, artifactSha256: nil, summary: summary, tensors: [], expiresAt: nil)
    }

    /// The job's dataset, or a permanent failure saying it was deleted.
    static func dataset(of claim: Claim, named id: String) throws -> DatasetRecord {
        guard let dataset = claim.dataset else {
            throw JobFailure(
                code: "dataset_missing", message: "dataset \(id) no longer exists; upload it again and submit a new job",
                transient: false)
        }
        return dataset
    }

    /// A QAT job: training with progress per epoch, then the export through the pipeline.
    func train(_ claim: Claim, recipe: Recipe, output: String, options given: PipelineOptions, flags: StopFlags) throws -> (
        Report, [EpochMetricRecord]
    ) {
        let job = claim.job
        guard let text = job.training, let request = try? StrictJSON.parse(text) else {
            throw JobFailure(code: "invalid_training", message: "the job has no training request", transient: false)
        }
        let spec = try TrainingSpec.parse(request)
        let dataset = try Self.dataset(of: claim, named: spec.datasetID)
        var options = given
        options.progress = nil  // progress counts epochs here
        options.calibrationDataset = nil
        let store = store
        let result = try QAT.run(
            model: claim.model.blobPath, dataset: dataset.blobPath, recipe: recipe, training: spec, output: output,
            options: options
        ) { epoch in
            if settings.chunkDelay > 0 { Thread.sleep(forTimeInterval: settings.chunkDelay) }
            flags.note(
                try? store.reportProgress(
                    job: job.id, attempt: job.attempt, done: Int64(epoch.epoch), total: Int64(spec.epochs), stage: "training"))
        }
        let epochs = result.epochs.map {
            EpochMetricRecord(
                jobId: job.id, epoch: $0.epoch, trainLoss: $0.trainLoss, validationLoss: $0.validationLoss,
                validationAccuracy: $0.validationAccuracy, seconds: $0.seconds)
        }
        return (result.report, epochs)
    }

    /// Maps an error to a permanent or transient failure with a stable code.
    func classify(_ error: any Error, flags: StopFlags) -> Outcome {
        if flags.leaseLost.load(ordering: .relaxed) { return .leaseLost }
        switch error {
        case PipelineError.cancelled:
            return flags.cancelRequested.load(ordering: .relaxed) ? .cancelled : .leaseLost
        case let failure as JobFailure:
            return .failed(code: failure.code, message: failure.message, transient: failure.transient)
        case let error as RecipeError:
            return .failed(code: "invalid_recipe", message: error.description, transient: false)
        case let error as FormatError where error.code == .noSpace:
            return .failed(code: "disk_full", message: error.description, transient: true)
        case PipelineError.noSpace(let message):
            return .failed(code: "disk_full", message: message, transient: true)
        case let error as FormatError where error.code == .io:
            return .failed(code: "io_error", message: error.description, transient: true)
        case let error as FormatError:
            return .failed(code: "invalid_model", message: error.description, transient: false)
        case PipelineError.output(let message):
            return .failed(code: "io_error", message: message, transient: true)
        case let error as PipelineError:
            return .failed(code: "recipe_not_applicable", message: error.description, transient: false)
        case let error as CalibrationError:
            return .failed(code: "invalid_dataset", message: error.description, transient: false)
        case let error as TrainingError:
            return .failed(code: "invalid_training", message: error.description, transient: false)
        case let error as ServiceError:
            return .failed(code: "io_error", message: error.description, transient: true)
        default:
            return .failed(code: "internal_error", message: String(describing: error), transient: true)
        }
    }

    func record(_ outcome: Outcome, job: JobRecord, started: Date) {
        let seconds = Date().timeIntervalSince(started)
        do {
            switch outcome {
            case .succeeded(let result):
                do {
                    try whileDatabaseUnavailable(job: job) {
                        try store.complete(job: job.id, attempt: job.attempt, result: result)
                    }
                    counters.jobFinished(state: .succeeded, seconds: seconds, bytesOut: result.artifactSize ?? 0)
                } catch {
                    // A stale attempt (the job moved on without us): its artifact must not linger.
                    if let path = result.artifactPath { ArtifactStore(data: data).remove(path) }
                    throw error
                }
            case .failed(let code, let message, let transient):
                settings.onFailure?(job.id, code, message)
                let delay = Swift.min(60, pow(2, Double(job.attempt))) + Double.random(in: 0...0.5)
                let state = try whileDatabaseUnavailable(job: job) {
                    try store.fail(
                        job: job.id, attempt: job.attempt, code: code, message: message, transient: transient, retryDelay: delay)
                }
                counters.jobFinished(state: state, seconds: seconds, bytesOut: 0)
            case .cancelled:
                try store.markCancelled(job: job.id, attempt: job.attempt)
                counters.jobFinished(state: .cancelled, seconds: seconds, bytesOut: 0)
            case .leaseLost:
                settings.onFailure?(
                    job.id, "lease_lost",
                    "attempt \(job.attempt) stopped: its lease expired, so the job belongs to a later attempt")
            }
        } catch StoreError.staleWorker {
            // The job moved on without this attempt (its lease expired): nothing is recorded.
            settings.onFailure?(job.id, "lease_lost", "attempt \(job.attempt)'s result was refused: its lease had expired")
        } catch {
            // A database error: the lease logic re-queues the job; the error is counted and reported.
            counters.unexpected("worker")
            settings.onError?("recording job \(job.id)", error)
        }
    }

    /// Retries a terminal write while the database is unreachable (a shared server restarting, a
    /// network cut), for as long as the lease could still hold: the finished work is not thrown away
    /// over a short outage. After that the write is refused anyway (the lease fences it) and the job
    /// runs again elsewhere.
    func whileDatabaseUnavailable<T>(job: JobRecord, _ write: () throws -> T) throws -> T {
        let deadline = Date().addingTimeInterval(settings.leaseSeconds)
        var pause = 0.25
        while true {
            do {
                return try write()
            } catch StoreError.unavailable(let message) {
                guard Date() < deadline else { throw StoreError.unavailable(message) }
                settings.onError?("recording job \(job.id) (retrying)", StoreError.unavailable(message))
                Thread.sleep(forTimeInterval: pause)
                pause = Swift.min(pause * 2, 4)
            }
        }
    }

    /// Renews the lease every third of its length on a timer; flags a cancel request or a lost lease.
    func startLeaseRenewal(job: JobRecord, flags: StopFlags) -> DispatchSourceTimer {
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue.global(qos: .utility))
        let interval = Swift.max(0.2, settings.leaseSeconds / 3)
        let store = store
        let worker = worker
        let lease = settings.leaseSeconds
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler {
            flags.note(try? store.renewLease(job: job.id, attempt: job.attempt, worker: worker, leaseSeconds: lease))
        }
        timer.resume()
        return timer
    }
}

/// A failure the runner raises itself (before the pipeline runs).
struct JobFailure: Error {
    let code: String
    let message: String
    let transient: Bool
}
