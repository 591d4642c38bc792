// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "gradserve",
    products: [
        .library(name: "Model", targets: ["Model"]),
        .library(name: "Wire", targets: ["Wire"]),
        .library(name: "HTTP", targets: ["HTTP"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "API", targets: ["API"]),
        .library(name: "Client", targets: ["Client"]),
        .executable(name: "gradserve", targets: ["gradserve"]),
        .executable(name: "gradctl", targets: ["gradctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .target(name: "CSIMD"),
        .target(name: "Model", dependencies: ["CBLAS", "CSIMD"]),
        .target(name: "Wire", dependencies: ["Model", "CSIMD"]),
        .target(name: "CLinux"),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(name: "Locking"),
        .target(name: "Checksums"),
        // TensorBoard event files: the generated code of proto/tensorboard_event.proto (`make proto`) and the TFRecord framing.
        .target(name: "TensorBoard", dependencies: ["Checksums", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .target(name: "Client", dependencies: ["Model", "Wire", "CCurl", "Locking"]),
        // The server's three layers; the dependency graph is the architecture (README, "Layout").
        // HTTP/1.1 on POSIX sockets: knows nothing of models or JSON.
        .target(name: "HTTP", dependencies: ["CLinux", "Locking", .product(name: "Logging", package: "swift-log")]),
        // The training state and its durability: knows nothing of HTTP or command lines.
        .target(name: "Training", dependencies: ["Model", "Wire", "Locking", "Checksums"]),
        // The routes: the only place where HTTP and training meet.
        .target(name: "API", dependencies: [
            "HTTP", "Training", "Model", "Wire", "Locking",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // What the command lines share: the token loader, the size-list option, the CPU quota and the allocator set up for large blocks.
        .target(name: "CommandSupport", dependencies: ["CLinux", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "gradserve", dependencies: [
            "API", "HTTP", "Training", "Model", "Wire", "CommandSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "gradctl", dependencies: [
            "Client", "Model", "Wire", "Locking", "CommandSupport", "TensorBoard",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .target(name: "CFuzzer"),
        .target(name: "FuzzTargets", dependencies: ["HTTP", "Wire", "Model", "CFuzzer"]),
        // Fuzz executables: libFuzzer drivers under `make fuzz`, corpus replayers otherwise.
        .executableTarget(name: "fuzz-http", dependencies: ["FuzzTargets"]),
        .executableTarget(name: "fuzz-json", dependencies: ["FuzzTargets"]),
        .executableTarget(name: "gradbench", dependencies: [
            "API", "Client", "HTTP", "Model", "Wire", "CommandSupport",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "ModelTests", dependencies: ["Model"]),
        .testTarget(name: "WireTests", dependencies: ["Wire"]),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "Locking", "TestSupport", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "CommandSupportTests", dependencies: ["CommandSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Model"]),
        .testTarget(name: "TensorBoardTests", dependencies: ["TensorBoard", "Checksums"]),
        .testTarget(name: "APITests", dependencies: ["API", "HTTP", "Training", "Wire", "Model", "Locking", "TestSupport"]),
        .testTarget(name: "ServerTests", dependencies: ["API", "HTTP", "Training", "Wire", "Model", "Locking", "TestSupport", "FuzzTargets", "gradserve"]),
        .testTarget(name: "ClientTests", dependencies: ["Client", "Wire", "Model", "TestSupport", "gradserve", "gradctl"]),
    ]
)
