import Foundation
import Model
import TestSupport
import Testing

/// `gradctl train --tensorboard DIR` read back with TensorBoard's own reader (Tests/Python/read_tensorboard.py):
/// every record's checksums, and every scalar at its step against what the same run printed and
/// wrote to its history.
@Suite struct TensorBoardLogTests {
    static let root = Repository.root

    @Test func tensorBoardReadsEveryStepAndEpoch() throws {
        let python = Self.root.appendingPathComponent(".venv/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "run make test, which creates .venv")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tensorboard-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let evaluation = folder.appendingPathComponent("eval.csv").path
        try (0..<40).map { i in
            let x = [Double(i % 7) / 7, Double(i % 5) / 5, Double(i % 3) / 3]
            return (x + [x.map { $0 * $0 }.reduce(0, +).squareRoot()]).map { String($0) }.joined(separator: ",")
        }.joined(separator: "\n").write(toFile: evaluation, atomically: true, encoding: .utf8)
        // A cosine schedule, so that the learning rate changes from step to step and reaches its floor.
        let server = try ServerProcess(["--layers", "3,8,8", "--optimizer", "adam", "--lr", "0.01",
                                        "--lr-schedule", "cosine", "--lr-decay-steps", "20", "--lr-final-factor", "0.1"])
        let history = folder.appendingPathComponent("history.csv").path, logs = folder.appendingPathComponent("tb").path
        let train = try run(ServerProcess.binary("gradctl").path, [
            "train", "--server", server.url, "--synthetic", "200", "--batch", "16", "--epochs", "2",
            "--eval", evaluation, "--history", history, "--tensorboard", logs])
        try #require(train.status == 0, "\(train.stderr)")

        let read = try run(python, [Self.root.appendingPathComponent("Tests/Python/read_tensorboard.py").path, logs])
        try #require(read.status == 0, "\(read.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(read.stdout.utf8)) as? [String: Any])
        // Each point as (step, the Float32 TensorBoard read, widened).
        let scalars = try #require(json["scalars"] as? [String: [[Int]]]).mapValues { points in
            points.map { [Double($0[0]), Double(Float(bitPattern: UInt32($0[1])))] }
        }
        // 13 steps per epoch (200 / 16, rounded up), 2 epochs: one event per step, one per epoch, one header.
        #expect(json["files"] as? Int == 1)
        #expect(json["records"] as? Int == 1 + 26 + 2)
        #expect(json["file_versions"] as? [String] == ["brain.Event:2"])
        #expect(Set(scalars.keys) == ["train/loss", "train/learning_rate", "epoch/loss", "epoch/samples_per_second", "eval/mse", "eval/mae"])

        // The loss of every step: the history's Double, stored as a Float32 (exact comparison:
        // Float(x) is one rounding, and the bits travel as an integer).
        let rows = try String(contentsOfFile: history, encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",") }
        #expect(rows.count == 26)
        let losses = try #require(scalars["train/loss"])
        #expect(losses.map { Int($0[0]) } == rows.map { Int($0[0])! })
        #expect(losses.map { $0[1] } == rows.map { Double(Float(Double($0[3])!)) })

        // The rate the server reports for every step is its schedule at that step, computed here by the model library.
        var configuration = OptimizerConfiguration(kind: .adam, learningRate: 0.01)
        configuration.schedule = .cosine(decaySteps: 20, finalFactor: 0.1)
        let optimizer = try Optimizer(configuration)
        let rates = try #require(scalars["train/learning_rate"])
        #expect(rates.map { Int($0[0]) } == Array(1...26))
        #expect(rates.map { $0[1] } == (0..<26).map { Double(optimizer.learningRate(afterSteps: $0)) })
        #expect(rates.last![1] == Double(Float(0.01) * Float(0.1)))

        // Epoch measures at the step that ends each epoch, against the lines gradctl printed (6 decimals:
        // within half a unit of the last printed digit plus one Float32 rounding of the value).
        let printed = train.stdout.split(separator: "\n").filter { $0.contains("eval MSE") }
        #expect(printed.count == 2)
        for (index, line) in printed.enumerated() {
            let numbers = line.split(whereSeparator: { " ,".contains($0) })
            func value(after word: String) -> Double { Double(numbers[numbers.firstIndex(of: Substring(word))! + 1])! }
            for (tag, word, digits) in [("epoch/loss", "loss", 6.0), ("eval/mse", "MSE", 6), ("eval/mae", "MAE", 6), ("epoch/samples_per_second", "samples/s", 0)] {
                let expected = word == "samples/s" ? Double(numbers[numbers.firstIndex(of: "samples/s")! - 1])! : value(after: word)
                let point = try #require(scalars[tag]?[index])
                #expect(Int(point[0]) == 13 * (index + 1), "\(tag)")
                #expect(abs(point[1] - expected) <= 0.5 * pow(10, -digits) + abs(expected) * 0x1p-24 * 2, "\(tag): \(point[1]) against \(line)")
            }
        }
    }
}
