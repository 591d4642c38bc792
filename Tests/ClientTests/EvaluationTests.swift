import Client
import Foundation
import Model
import TestSupport
import Testing

/// The measures `gradctl train --eval` prints, from hand-computed values.
@Suite struct EvaluationTests {
    @Test func squaredErrorAveragesOverSamplesAndOutputs() {
        let samples = [Sample(.vector([0]), target: .numbers([1, 2])), Sample(.vector([0]), target: .numbers([0, 0]))]
        let e = Trainer.Evaluation(outputs: [1, 4, -1, 1], outputCount: 2, samples: samples, loss: .squaredError)
        // errors 0, 2, -1, 1: squared 0 + 4 + 1 + 1 = 6, absolute 0 + 2 + 1 + 1 = 4, over 4 values.
        #expect(e.meanSquaredError == 1.5)
        #expect(e.meanAbsoluteError == 1)
        #expect(e.accuracy == nil && e.score == 1)
    }

    @Test func softmaxCountsTheMostProbableClass() {
        let samples = [Sample(.vector([0]), target: .number(2)), Sample(.vector([0]), target: .number(0))]
        let e = Trainer.Evaluation(outputs: [0, 0, 3, 1, 2, 0], outputCount: 3, samples: samples, loss: .softmaxCrossEntropy)
        #expect(e.accuracy == 0.5)
        // -log softmax: log(2 + e^3) - 3 and log(e + e^2 + 1) - 1, averaged.
        let expected = ((log(2 + exp(3.0)) - 3) + (log(exp(1.0) + exp(2.0) + 1) - 1)) / 2
        #expect(abs(e.crossEntropy! - expected) < 1e-12)
        #expect(e.score == 0.5)
    }

    @Test func sigmoidCountsEachLabel() {
        let samples = [Sample(.vector([0]), target: .numbers([1, 0])), Sample(.vector([0]), target: .numbers([1, 1]))]
        let e = Trainer.Evaluation(outputs: [2, -1, -3, 0.5], outputCount: 2, samples: samples, loss: .sigmoidCrossEntropy)
        // Labels on the right side of 0.5: yes, yes, no, yes.
        #expect(e.accuracy == 0.75)
        func softplus(_ y: Double) -> Double { log(1 + exp(y)) }
        let expected = ((softplus(2) - 2) + softplus(-1) + (softplus(-3) + 3) + (softplus(0.5) - 0.5)) / 2
        #expect(abs(e.crossEntropy! - expected) < 1e-12)
    }

    /// CSV rows end with --targets columns, which train a server with as many outputs.
    @Test func csvWithTwoTargetColumnsTrainsTwoOutputs() throws {
        let server = try ServerProcess(["--layers", "2,4", "--outputs", "2"])
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("two-\(UUID()).csv").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try (0..<40).map { i in
            let a = Double(i % 5) / 5, b = Double(i % 7) / 7
            return "\(a),\(b),\(a + b),\(a - b)"
        }.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let result = try run(ServerProcess.binary("gradctl").path, ["train", "--server", server.url, "--data", file, "--targets", "2",
                                                                   "--eval", file, "--epochs", "2", "--batch", "8"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("epoch 2: mean loss") && result.stdout.contains("eval MSE"), "\(result.stdout)")
        let wrong = try run(ServerProcess.binary("gradctl").path, ["train", "--server", server.url, "--data", file, "--epochs", "1"])
        #expect(wrong.status != 0)
        #expect(wrong.stderr.contains(".csv:1: x has 3 values, the server's model expects 2 (the last --targets columns of a CSV row are its targets)"), "\(wrong.stderr)")
    }
}
