/// An uploaded model (`Model` in openapi.yaml).
public struct Model: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    /// safetensors, gguf, or checkpoint (a Hugging Face bundle).
    public var format: String
    public var size: Int64
    public var sha256: String
    public var tensorCount: Int
    public var parameterCount: Int64
    public var createdAt: String
    public var links: Links

    public init(
        id: String, name: String, format: String, size: Int64, sha256: String, tensorCount: Int, parameterCount: Int64,
        createdAt: String, links: Links
    ) {
        (
            self.id, self.name, self.format, self.size, self.sha256, self.tensorCount, self.parameterCount, self.createdAt,
            self.links
        ) = (id, name, format, size, sha256, tensorCount, parameterCount, createdAt, links)
    }

    enum CodingKeys: String, CodingKey {
        case id, name, format, size, sha256, links
        case tensorCount = "tensor_count"
        case parameterCount = "parameter_count"
        case createdAt = "created_at"
    }
}

/// `GET /v1/models`.
public struct ModelList: Codable, Sendable, Equatable {
    public var models: [Model]

    public init(models: [Model]) { self.models = models }
}

/// One tensor of a model, as `GET /v1/models/{id}/tensors` lists it.
public struct TensorInfo: Codable, Sendable, Equatable {
    public var name: String
    public var dtype: String
    public var shape: [Int]
    public var bytes: Int64

    public init(name: String, dtype: String, shape: [Int], bytes: Int64) {
        (self.name, self.dtype, self.shape, self.bytes) = (name, dtype, shape, bytes)
    }
}

/// `GET /v1/models/{id}/tensors`.
public struct TensorList: Codable, Sendable, Equatable {
    public var modelId: String
    public var tensors: [TensorInfo]

    public init(modelId: String, tensors: [TensorInfo]) {
        (self.modelId, self.tensors) = (modelId, tensors)
    }

    enum CodingKeys: String, CodingKey {
        case tensors
        case modelId = "model_id"
    }
}
