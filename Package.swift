// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "QuantService",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "quantctl", targets: ["quantctl"]),
        .executable(name: "quant-bench", targets: ["quant-bench"]),
        .executable(name: "quantd", targets: ["quantd"]),
        .library(name: "ModelFormats", targets: ["ModelFormats"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // JSON: a strict parser for untrusted documents, an order-keeping value, and the one writer.
        .target(name: "JSON"),
        // API v1's request and response types, shared by the server and the client (openapi.yaml).
        .target(name: "QuantAPI", dependencies: ["JSON"]),
        // File formats (safetensors, GGUF) and numeric conversions. Knows nothing about quantization.
        .target(name: "ModelFormats", dependencies: ["Digest", "JSON"]),
        // What models are: architectures (Hugging Face <-> llama.cpp names, hyper-parameters from
        // config.json, tokenizer metadata). QuantCore asks it questions and never names an architecture.
        .target(name: "ModelArchitectures", dependencies: ["ModelFormats", "JSON"]),
        // C int8 kernels: scalar references plus AVX2 / AVX-512 variants chosen at start-up.
        .target(name: "CInt8Kernels", cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off"])]),
        // Swift face of the kernels: typed, bounds-checked, threaded; no pointers leak out.
        .target(name: "Int8Kernels", dependencies: ["CInt8Kernels", "ModelFormats"]),
        // Quantization methods, metrics (and later recipes and the pipeline), on the kernels.
        .target(name: "QuantCore", dependencies: ["Int8Kernels", "ModelFormats", "ModelArchitectures", "COpenBLAS", "JSON"]),
        // OpenBLAS (Debian: libopenblas-dev): fp32 GEMM and Cholesky for calibration (GPTQ, AdaRound).
        .systemLibrary(name: "COpenBLAS"),
        // quantctl's commands, one file per subcommand; the executable is a thin main.
        .target(
            name: "QuantCLI",
            dependencies: [
                "ModelFormats", "ModelArchitectures", "QuantCore", "QuantClient", "QuantAPI", "JSON",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "quantctl", dependencies: ["QuantCLI"]),
        // Benchmarks: a library of measurements and a thin main.
        .target(
            name: "QuantBench",
            dependencies: [
                "QuantCore", "Int8Kernels", "CInt8Kernels", "COpenBLAS", "QuantTesting", "QuantService", "QuantStore",
                "ModelFormats", "JSON",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "quant-bench", dependencies: ["QuantBench"]),
        // A generic HTTP/1.1 server on POSIX sockets, epoll and Dispatch (knows nothing of quantization).
        .target(name: "HTTPServer", dependencies: ["CEpoll", "JSON", .product(name: "HTTPTypes", package: "swift-http-types")]),
        // epoll and eventfd, which Swift's Glibc module does not export.
        .target(name: "CEpoll"),
        // Jobs, models, tenants and keys in SQLite (GRDB on the system libsqlite3) or PostgreSQL
        // (libpq). Every SQL statement lives here, behind the store's API.
        .target(
            name: "QuantStore",
            dependencies: [
                "Digest", "CSQLiteConfig", "CLibPQ", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        // libpq (Debian: libpq-dev), PostgreSQL's C client, for the shared store of several replicas.
        .systemLibrary(name: "CLibPQ"),
        // sqlite3_config (variadic, so not callable from Swift).
        .target(name: "CSQLiteConfig", linkerSettings: [.linkedLibrary("sqlite3")]),
        // SHA-256 for uploads, keys and artifacts (server) and download checks (client), on swift-crypto.
        .target(name: "Digest", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // The application: routes, auth, job runner and workers, model and artifact storage.
        .target(
            name: "QuantService",
            dependencies: [
                "QuantStore", "Digest", "QuantCore", "ModelFormats", "Int8Kernels", "HTTPServer", "JSON", "QuantAPI",
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]),
        .target(
            name: "QuantdCLI",
            dependencies: [
                "QuantService", "QuantStore", "HTTPServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(name: "quantd", dependencies: ["QuantdCLI"]),
        // libcurl (Debian: libcurl4-openssl-dev), with typed shims for its variadic calls.
        .systemLibrary(name: "CCurl"),
        // The client of API v1 on libcurl: streaming uploads and downloads, retries, typed errors.
        .target(name: "QuantClient", dependencies: ["CCurl", "Digest", "ModelFormats", "QuantAPI", "JSON"]),
        // Deterministic random numbers shared by tests and benchmarks.
        .target(name: "QuantTesting", dependencies: ["QuantStore"]),
        // Developer tool used only by the Python interop tests (Tests/Interop): writes, dumps and
        // round-trips files through our readers and writers so PyPI packages can check them.
        .executableTarget(
            name: "interop-tool",
            dependencies: [
                "ModelFormats", "ModelArchitectures", "Int8Kernels", "QuantCore", "JSON", "QuantAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(name: "JSONTests", dependencies: ["JSON", "QuantAPI"]),
        .testTarget(name: "ModelArchitecturesTests", dependencies: ["ModelArchitectures", "ModelFormats", "JSON"]),
        .testTarget(name: "ModelFormatsTests", dependencies: ["ModelFormats", "QuantTesting", "Digest"]),
        .testTarget(name: "QuantCLITests", dependencies: ["QuantCLI", "QuantClient", "QuantAPI", "ModelFormats", "JSON"]),
        .testTarget(
            name: "QuantCoreTests", dependencies: ["QuantCore", "Int8Kernels", "ModelFormats", "QuantTesting", "Digest", "JSON"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer"]),
        .testTarget(name: "QuantStoreTests", dependencies: ["QuantStore", "QuantTesting", "Digest"]),
        .testTarget(name: "QuantClientTests", dependencies: ["QuantClient", "QuantAPI", "ModelFormats", "Digest"]),
        // A real quantd on 127.0.0.1 driven only through QuantClient.
        .testTarget(
            name: "EndToEndTests", dependencies: ["QuantClient", "QuantAPI", "QuantCore", "ModelFormats", "QuantTesting", "JSON"]),
        .testTarget(
            name: "QuantServiceTests",
            dependencies: [
                "Digest", "QuantService", "QuantStore", "QuantCore", "ModelFormats", "QuantTesting", "JSON", "QuantAPI",
                "HTTPServer",
            ]),
        // The queue load of `quant-bench queue`, asserted (not timed) in make test.
        .testTarget(name: "QuantBenchTests", dependencies: ["QuantBench", "QuantTesting"]),
        .testTarget(name: "Int8KernelsTests", dependencies: ["Int8Kernels", "CInt8Kernels", "ModelFormats", "QuantTesting"]),
    ],
    swiftLanguageModes: [.v6]
)
