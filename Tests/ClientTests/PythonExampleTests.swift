import Foundation
import TestSupport
import Testing

/// examples/python/train.py against a real server: it ends bit for bit where `gradctl train`
/// ends on the same data, with the same seed, batches and epochs.
@Suite struct PythonExampleTests {
    static let root = Repository.root

    @Test func thePythonTrainerEndsWhereGradctlEnds() throws {
        let python = Self.root.appendingPathComponent(".venv/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "run make test, which creates .venv")
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("python-\(UUID()).csv").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        var generator = SystemRandomNumberGenerator()
        let rows = (0..<300).map { _ in
            let x = (0..<3).map { _ in Double.random(in: 0..<1, using: &generator) }
            return (x + [x.map { $0 * $0 }.reduce(0, +).squareRoot()]).map { String(format: "%.6f", $0) }.joined(separator: ",")
        }
        try rows.joined(separator: "\n").write(toFile: data, atomically: true, encoding: .utf8)
        let arguments = ["--layers", "3,8,8", "--optimizer", "adam", "--lr", "0.01", "--seed", "11"]
        let forGradctl = try ServerProcess(arguments), forPython = try ServerProcess(arguments)

        let gradctl = try run(ServerProcess.binary("gradctl").path, ["train", "--server", forGradctl.url, "--data", data,
                                                                     "--batch", "16", "--epochs", "2", "--no-shuffle", "--parallel", "1",
                                                                     // The Python example averages per-sample gradients, as this asks for.
                                                                     "--per-sample"])
        #expect(gradctl.status == 0, "\(gradctl.stderr)")
        let example = try run(python, [Self.root.appendingPathComponent("examples/python/train.py").path,
                                       "--server", forPython.url, "--data", data, "--batch", "16", "--epochs", "2"])
        #expect(example.status == 0, "\(example.stderr)")
        #expect(example.stdout.contains("epoch 2: mean loss"), "\(example.stdout)")
        #expect(example.stdout.contains("version 38"), "\(example.stdout)")
        let expected = try curl(["-s", "\(forGradctl.url)/params"]).body
        #expect(expected.hasPrefix(#"{"version":38,"#))
        #expect(try curl(["-s", "\(forPython.url)/params"]).body == expected)
    }
}
