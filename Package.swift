// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "gradserve",
    products: [
        .library(name: "Model", targets: ["Model"]),
        .library(name: "Wire", targets: ["Wire"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-extras/swift-extras-base64.git", from: "1.2.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .target(name: "Model", dependencies: ["CBLAS"]),
        .target(name: "Wire", dependencies: ["Model", .product(name: "ExtrasBase64", package: "swift-extras-base64")]),
        .testTarget(name: "ModelTests", dependencies: ["Model"]),
        .testTarget(name: "WireTests", dependencies: ["Wire"]),
    ]
)
