import Foundation
import JSON
import ModelFormats

/// `"training"` of a QAT job: `{"dataset_id", "epochs", "batch_size", "learning_rate", "optimizer":
/// "sgd" | "adam", "seed", "validation_split"}`, the learning-rate `schedule` ("cosine", the default,
/// "step" or "constant") with `warmup_epochs`, `keep_best`, plus `activation` and `loss` when the
/// model's metadata does not name them.
public struct TrainingSpec: Equatable, Sendable {
    public enum Optimizer: String, Sendable, CaseIterable { case sgd, adam }
    public enum Activation: String, Sendable, CaseIterable { case relu, gelu }
    public enum Loss: String, Sendable, CaseIterable {
        case softmaxCrossEntropy = "softmax_cross_entropy"
        case mse
    }
    public enum Schedule: String, Sendable, CaseIterable { case cosine, step, constant }

    public var datasetID: String
    public var epochs = 20
    public var batchSize = 32
    public var learningRate = 0.001
    public var optimizer = Optimizer.adam
    public var seed: UInt64 = 0
    public var validationSplit = 0.2
    public var activation: Activation? = nil
    public var loss: Loss? = nil
    /// The learning rate over training: cosine decay to zero, steps of x`stepGamma` every
    /// `stepEpochs`, or constant; after a linear warm-up over `warmupEpochs`.
    public var schedule = Schedule.cosine
    public var warmupEpochs = 0
    public var stepEpochs: Int? = nil
    public var stepGamma = 0.1
    /// Export the epoch with the best validation accuracy (least loss for mse), not the last.
    public var keepBest = true

    public static let fields = [
        "dataset_id", "epochs", "batch_size", "learning_rate", "optimizer", "seed", "validation_split", "activation", "loss",
        "schedule", "warmup_epochs", "step_epochs", "step_gamma", "keep_best",
    ]

    /// The learning rate of optimizer step `step` (0-based) of `stepsPerEpoch` x `epochs`.
    public func learningRate(step: Int, stepsPerEpoch: Int) -> Double {
        let perEpoch = Swift.max(1, stepsPerEpoch)
        let warmup = warmupEpochs * perEpoch
        let total = epochs * perEpoch
        if step < warmup { return learningRate * Double(step + 1) / Double(warmup) }
        switch schedule {
        case .constant:
            return learningRate
        case .step:
            return learningRate * pow(stepGamma, Double((step / perEpoch) / Swift.max(1, resolvedStepEpochs)))
        case .cosine:
            let progress = Double(step - warmup) / Double(Swift.max(1, total - warmup))
            return learningRate * 0.5 * (1 + cos(Double.pi * progress))
        }
    }

    /// `step_epochs`, by default a third of the epochs.
    public var resolvedStepEpochs: Int { stepEpochs ?? Swift.max(1, epochs / 3) }

    public var json: JSONValue {
        var object = JSONObject([
            ("dataset_id", .string(datasetID)), ("epochs", .integer(epochs)), ("batch_size", .integer(batchSize)),
            ("learning_rate", .number(String(learningRate))), ("optimizer", .string(optimizer.rawValue)),
            ("seed", .integer(seed)),
            ("validation_split", .number(String(validationSplit))),
        ])
        if let activation { object["activation"] = .string(activation.rawValue) }
        if let loss { object["loss"] = .string(loss.rawValue) }
        object["schedule"] = .string(schedule.rawValue)
        object["warmup_epochs"] = .integer(warmupEpochs)
        if schedule == .step {
            object["step_epochs"] = .integer(resolvedStepEpochs)
            object["step_gamma"] = .number(String(stepGamma))
        }
        object["keep_best"] = .bool(keepBest)
        return .object(object)
    }

    public static func parse(_ value: JSONValue) throws -> TrainingSpec {
        guard let object = value.objectValue else {
            throw TrainingError.unsupported(
                "training",
                "must be an object {\"dataset_id\", \"epochs\", \"batch_size\", \"learning_rate\", \"optimizer\", \"seed\", \"validation_split\"}"
            )
        }
        for key in object.keys where !fields.contains(key) {
            throw TrainingError.unsupported(
                "training.\(key)", "is not a training field (allowed: \(fields.joined(separator: ", ")))")
        }
        guard let dataset = object["dataset_id"]?.stringValue, !dataset.isEmpty else {
            throw TrainingError.unsupported(
                "training.dataset_id", "is required: a dataset from POST /v1/datasets holding `x` [samples, features] and `y`")
        }
        var spec = TrainingSpec(datasetID: dataset)
        // The recipe's field checks, their errors restated as training errors.
        func checked<T>(_ body: () throws -> T) throws -> T {
            do { return try body() } catch let error as RecipeError {
                throw TrainingError.unsupported(error.field, error.message)
            }
        }
        func integer(_ name: String, _ range: ClosedRange<Int>) throws -> Int? {
            try object[name].map { value in try checked { try WeightSpec.integer(value, "training.\(name)", range: range) } }
        }
        func choice<T: RawRepresentable & CaseIterable>(_ name: String, _ type: T.Type) throws -> T? where T.RawValue == String {
            try object[name].map { value in try checked { try WeightSpec.enumValue(value, type, "training.\(name)") } }
        }
        spec.epochs = try integer("epochs", 1...1000) ?? spec.epochs
        spec.batchSize = try integer("batch_size", 1...65_536) ?? spec.batchSize
        if let value = object["learning_rate"] {
            guard let rate = value.doubleValue, rate > 0, rate <= 10 else {
                throw TrainingError.unsupported("training.learning_rate", "must be a number above 0 and at most 10, e.g. 0.001")
            }
            spec.learningRate = rate
        }
        spec.optimizer = try choice("optimizer", Optimizer.self) ?? spec.optimizer
        if let value = object["seed"] {
            guard let seed = value.uint64Value else {
                throw TrainingError.unsupported("training.seed", "must be a non-negative integer")
            }
            spec.seed = seed
        }
        if let value = object["validation_split"] {
            guard let split = value.doubleValue, split > 0, split < 1 else {
                throw TrainingError.unsupported("training.validation_split", "must be a fraction above 0 and below 1, e.g. 0.2")
            }
            spec.validationSplit = split
        }
        spec.activation = try choice("activation", Activation.self)
        // PyTorch's name for the same loss.
        if object["loss"]?.stringValue == "cross_entropy" {
            spec.loss = .softmaxCrossEntropy
        } else {
            spec.loss = try choice("loss", Loss.self)
        }
        spec.schedule = try choice("schedule", Schedule.self) ?? spec.schedule
        spec.warmupEpochs = try integer("warmup_epochs", 0...1000) ?? spec.warmupEpochs
        guard spec.warmupEpochs < spec.epochs else {
            throw TrainingError.unsupported("training.warmup_epochs", "must be below epochs (\(spec.epochs))")
        }
        spec.stepEpochs = try integer("step_epochs", 1...1000)
        if spec.stepEpochs != nil || object["step_gamma"] != nil, spec.schedule != .step {
            throw TrainingError.unsupported(
                object["step_gamma"] != nil ? "training.step_gamma" : "training.step_epochs", "applies to \"schedule\": \"step\"")
        }
        if let value = object["step_gamma"] {
            guard let gamma = value.doubleValue, gamma > 0, gamma <= 1 else {
                throw TrainingError.unsupported("training.step_gamma", "must be a factor above 0 and at most 1, e.g. 0.1")
            }
            spec.stepGamma = gamma
        }
        if let value = object["keep_best"] {
            guard let flag = value.boolValue else {
                throw TrainingError.unsupported("training.keep_best", "must be true or false")
            }
            spec.keepBest = flag
        }
        return spec
    }
}
