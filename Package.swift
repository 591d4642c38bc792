// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "gradserve",
    products: [
        .library(name: "Model", targets: ["Model"]),
        .library(name: "Wire", targets: ["Wire"]),
        .library(name: "Server", targets: ["Server"]),
        .library(name: "Client", targets: ["Client"]),
        .executable(name: "gradserve", targets: ["gradserve"]),
        .executable(name: "gradctl", targets: ["gradctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-extras/swift-extras-base64.git", from: "1.2.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .target(name: "Model", dependencies: ["CBLAS"]),
        .target(name: "Wire", dependencies: ["Model", .product(name: "ExtrasBase64", package: "swift-extras-base64")]),
        .target(name: "CLinux"),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(name: "Locking"),
        .target(name: "Client", dependencies: ["Model", "Wire", "CCurl", "Locking"]),
        .target(name: "Server", dependencies: [
            "Model", "Wire", "CLinux", "Locking",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .executableTarget(name: "gradserve", dependencies: [
            "Server", "Model",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "gradctl", dependencies: [
            "Client", "Model", "Wire", "Locking",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .target(name: "CFuzzer"),
        .target(name: "FuzzTargets", dependencies: ["Server", "Wire", "Model", "CFuzzer"]),
        // Fuzz executables: libFuzzer drivers under `make fuzz`, corpus replayers otherwise.
        .executableTarget(name: "fuzz-http", dependencies: ["FuzzTargets"]),
        .executableTarget(name: "fuzz-json", dependencies: ["FuzzTargets"]),
        .executableTarget(name: "gradbench", dependencies: [
            "Client", "Model", "Wire",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "ModelTests", dependencies: ["Model"]),
        .testTarget(name: "WireTests", dependencies: ["Wire"]),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "ServerTests", dependencies: ["Server", "Wire", "Model", "Locking", "TestSupport", "FuzzTargets", "gradserve"]),
        .testTarget(name: "ClientTests", dependencies: ["Client", "Wire", "Model", "TestSupport", "gradserve", "gradctl"]),
    ]
)
