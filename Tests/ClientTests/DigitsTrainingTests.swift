import Foundation
import TestSupport
import Testing

/// A dense classifier trained remotely on real handwritten digits (../shared/data/digits), then
/// `gradctl predict` on the validation images.
@Suite struct DigitsTrainingTests {
    static let root = Repository.root
    /// ../shared/data/digits beside the checkout, or what `make data` built inside it.
    static let data = Repository.data("digits")

    @Test func aClassifierLearnsTheDigitsAndPredictsTheirClasses() throws {
        let train = Self.data.appendingPathComponent("train.jsonl").path, valid = Self.data.appendingPathComponent("valid.jsonl").path
        let server = try ServerProcess(["--layers", "64,32", "--activation", "relu", "--outputs", "10", "--loss", "softmax_cross_entropy",
                                        "--output-bias", "--optimizer", "adam", "--lr", "0.003", "--seed", "1"])
        let gradctl = ServerProcess.binary("gradctl").path
        let result = try run(gradctl, ["train", "--server", server.url, "--data", train, "--eval", valid, "--epochs", "4", "--batch", "32",
                                       "--reduce-sum", "--tensor-format", "b64"])
        try #require(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").filter { $0.contains("eval accuracy") }
        let accuracies = lines.map { line in Double(line.split(separator: " ")[line.split(separator: " ").firstIndex(of: "accuracy")! + 1].dropLast())! }
        #expect(accuracies.count == 4)
        // Guessing gives 0.1; scikit-learn's logistic regression gets 0.953 on this split.
        #expect(accuracies.last! > 0.9, "\(accuracies)")

        // Predictions: a class and ten probabilities a line, in the order of the file; the share
        // of classes equal to the targets is the accuracy gradctl train printed last.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("digits-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("predictions.csv").path
        let predict = try run(gradctl, ["predict", "--server", server.url, "--data", valid, "--out", out])
        try #require(predict.status == 0, "\(predict.stderr)")
        let rows = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(rows[0] == Substring((0..<10).map { "output_\($0)" }.joined(separator: ",") + ",class," + (0..<10).map { "probability_\($0)" }.joined(separator: ",")))
        let targets = try String(contentsOfFile: valid, encoding: .utf8).split(separator: "\n").map { line in
            Int(line.split(separator: "\"t\":").last!.drop { $0 == " " }.prefix { $0.isNumber })!
        }
        #expect(rows.count == targets.count + 1)
        var correct = 0
        for (row, target) in zip(rows.dropFirst(), targets) {
            let fields = row.split(separator: ",").map { Double($0)! }
            let outputs = Array(fields[0..<10]), probabilities = Array(fields[11..<21]), predicted = Int(fields[10])
            #expect(predicted == outputs.indices.max { outputs[$0] < outputs[$1] })
            #expect(abs(probabilities.reduce(0, +) - 1) < 1e-5)
            if predicted == target { correct += 1 }
        }
        #expect(String(format: "%.4f", Double(correct) / Double(targets.count)) == String(format: "%.4f", accuracies.last!))
    }
}
