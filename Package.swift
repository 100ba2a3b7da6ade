// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "QuantService",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "quantctl", targets: ["quantctl"]),
        .library(name: "ModelFormats", targets: ["ModelFormats"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // File formats (safetensors, GGUF) and numeric conversions. Knows nothing about quantization.
        .target(name: "ModelFormats"),
        // quantctl's commands, one file per subcommand; the executable is a thin main.
        .target(
            name: "QuantCLI",
            dependencies: [
                "ModelFormats",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "quantctl", dependencies: ["QuantCLI"]),
        // Developer tool used only by the Python interop tests (Tests/Interop): writes, dumps and
        // round-trips files through our readers and writers so PyPI packages can check them.
        .executableTarget(name: "interop-tool", dependencies: ["ModelFormats"]),
        .testTarget(name: "ModelFormatsTests", dependencies: ["ModelFormats"]),
        .testTarget(name: "QuantCLITests", dependencies: ["QuantCLI", "ModelFormats"]),
    ],
    swiftLanguageModes: [.v6]
)
