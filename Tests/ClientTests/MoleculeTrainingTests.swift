import Foundation
import TestSupport
import Testing

/// The graph model trained remotely on real molecules (a slice of ../shared/data/nci-tpsa).
@Suite struct MoleculeTrainingTests {
    static let root = Repository.root
    /// ../shared/data/nci-tpsa beside the checkout, or what `make data` built inside it.
    static let data = Repository.data("nci-tpsa")

    /// The first `count` lines of a data file, in a temporary file.
    func slice(_ name: String, _ count: Int, into directory: URL) throws -> String {
        let text = try String(contentsOf: Self.data.appendingPathComponent(name), encoding: .utf8)
        let path = directory.appendingPathComponent(name).path
        try (text.split(separator: "\n").prefix(count).joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func trainingLowersTheValidationErrorAndKeepsTheBestEpoch() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("molecules-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let train = try slice("train.jsonl", 600, into: directory)
        let valid = try slice("valid.jsonl", 150, into: directory)
        let server = try ServerProcess(["--model", "gcn", "--features", "23", "--hidden", "16,16", "--optimizer", "adam", "--lr", "0.003"])
        let result = try run(ServerProcess.binary("gradctl").path, [
            "train", "--server", server.url, "--data", train, "--eval", valid, "--epochs", "4", "--batch", "16",
            "--reduce-sum", "--keep-best", "--tensor-format", "b64",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let maes = result.stdout.split(separator: "\n").filter { $0.contains("eval MSE") }
            .compactMap { Double($0.split(separator: " ").last!) }
        #expect(maes.count == 4)
        // Predicting the mean gives about 0.31 on this data; a few epochs already do far better.
        #expect(maes.min()! < 0.15, "\(maes)")
        #expect(maes.last! < maes.first! || maes.min()! < maes.first!)
        let best = maes.enumerated().min { $0.element < $1.element }!
        if best.offset + 1 < maes.count {
            #expect(result.stdout.contains("kept the parameters of epoch \(best.offset + 1)"), "\(result.stdout)")
        }
    }
}
