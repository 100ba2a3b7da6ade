/// An uploaded dataset: calibration samples, QAT training data, evaluation text or an importance
/// matrix (`Dataset` in openapi.yaml).
public struct Dataset: Codable, Sendable, Equatable {
    public struct Layer: Codable, Sendable, Equatable {
        public var name: String
        public var samples: Int
        public var features: Int

        public init(name: String, samples: Int, features: Int) {
            self.name = name
            self.samples = samples
            self.features = features
        }
    }

    /// A llama.cpp importance matrix: its file's format (gguf or legacy) and contents.
    public struct ImportanceMatrix: Codable, Sendable, Equatable {
        public var format: String
        public var entries: Int
        public var datasets: [String]
        public var chunks: Int

        public init(format: String, entries: Int, datasets: [String], chunks: Int) {
            self.format = format
            self.entries = entries
            self.datasets = datasets
            self.chunks = chunks
        }
    }

    /// A text dataset for evaluation and calibration: plain text or JSON lines, and how many texts.
    public struct Text: Codable, Sendable, Equatable {
        public var format: String
        public var texts: Int

        public init(format: String, texts: Int) {
            self.format = format
            self.texts = texts
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
        self.id = id
        self.name = name
        self.size = size
        self.sha256 = sha256
        self.tensorCount = tensorCount
        self.createdAt = createdAt
        self.links = links
        self.layers = layers
        self.importanceMatrix = importanceMatrix
        self.text = text
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
