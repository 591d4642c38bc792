import Foundation

/// Where the tests find the checkout, its Python tools and the data sets.
public enum Repository {
    /// The checkout's root folder.
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A file inside the checkout, such as "Tests/Python/read_tensorboard.py".
    public static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    /// The Python of the virtual environment `make test` creates.
    public static var python: String { path(".venv/bin/python") }

    /// The data set `name`: ../shared/data/NAME beside the checkout, or data/NAME that `make data` builds.
    public static func data(_ name: String) -> URL {
        [root.deletingLastPathComponent().appendingPathComponent("shared/data/\(name)"), root.appendingPathComponent("data/\(name)")]
            .first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("train.jsonl").path) }
            ?? root.appendingPathComponent("data/\(name) (missing: run make data)")
    }
}
