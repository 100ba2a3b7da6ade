/// An uploaded dataset: calibration samples, QAT training data, evaluation text or an importance
/// matrix (`Dataset` in openapi.yaml).
public struct Dataset: Codable, Sendable, Equatable {
    public struct Layer: Codable, Sendable, Equatable {
        public var name: String
        public var samples: Int
        public var features: Int

        public init(name: String, samples: Int, features: Int) {
            (self.name, self.samples, self.features) = (name, samples, features)
        }
    }

    /// A llama.cpp importance matrix: its file's format (gguf or legacy) and contents.
    public struct ImportanceMatrix: Codable, Sendable, Equatable {
        public var format: String
        public var entries: Int
        public var datasets: [String]
        public var chunks: Int

        public init(format: String, entries: Int, datasets: [String], chunks: Int) {
            (self.format, self.entries, self.datasets, self.chunks) = (format, entries, datasets, chunks)
        }
    }

    /// A text dataset for evaluation and calibration: plain text or JSON lines, and how many texts.
    public struct Text: Codable, Sendable, Equatable {
        public var format: String
        public var texts: Int

        public init(format: String, texts: Int) {
            (self.format, self.texts) = (format, texts)
        }
    }

    public var id: String
    public var name: String
    public var size: Int64
    public var sha256: String
    public var tensorCount: Int
    public var createdAt: String
    public var links: Links
    /// Only in `GET /v1/datasets/{id}`, for samples.
    public var layers: [Layer]?
    /// Only in `GET /v1/datasets/{id}`, for an importance matrix.
    public var importanceMatrix: ImportanceMatrix?
    /// Only in `GET /v1/datasets/{id}`, for text.
    public var text: Text?

    public init(
        id: String, name: String, size: Int64, sha256: String, tensorCount: Int, createdAt: String, links: Links,
        layers: [Layer]? = nil, importanceMatrix: ImportanceMatrix? = nil, text: Text? = nil
    ) {
        (
            self.id, self.name, self.size, self.sha256, self.tensorCount, self.createdAt, self.links, self.layers,
            self.importanceMatrix, self.text
        ) = (id, name, size, sha256, tensorCount, createdAt, links, layers, importanceMatrix, text)
    }

    enum CodingKeys: String, CodingKey {
        case id, name, size, sha256, links, layers, text
        case tensorCount = "tensor_count"
        case createdAt = "created_at"
        case importanceMatrix = "importance_matrix"
    }
}

/// `GET /v1/datasets`.
public struct DatasetList: Codable, Sendable, Equatable {
    public var datasets: [Dataset]

    public init(datasets: [Dataset]) { self.datasets = datasets }
}
