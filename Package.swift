// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "gradserve",
    products: [
        .library(name: "Model", targets: ["Model"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .target(name: "Model", dependencies: ["CBLAS"]),
        .testTarget(name: "ModelTests", dependencies: ["Model"]),
    ]
)
