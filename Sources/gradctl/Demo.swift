import ArgumentParser
import Client
import Foundation
import Model
import Wire

/// The reference experiment, run remotely: three samples, three per-sample gradients,
/// averaged here, one step on the server.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the reference experiment over HTTP: per-sample gradients, averaged by the client, one /apply.")
    @OptionGroup var options: ServerOptions
    @Option(help: ArgumentHelp("Seed of the known parameters (uniform in [0,1)) and of the two random samples, any 64-bit unsigned integer.",
                               valueName: "seed"))
    var seed: UInt64 = 42

    func run() async throws {
        let client = try options.makeClient()
        let model = try await client.model()
        guard model.model == "mlp", model.layers == [3, 3, 3] else {
            throw ValidationError("the demo needs the reference model: start gradserve --layers 3,3,3 (this server trains \(model.model) \(model.layers))")
        }
        let mlp = try MLP(layers: [3, 3, 3])
        let known = mlp.makeParameters(.uniform01, seed: seed)
        let version = try await client.putParams(known.namedTensors)
        print("set known parameters (uniform [0,1), seed \(seed)) -> version \(version)")

        let x1: [Float] = [1, 1, 1]
        let samples = [Sample(x: x1, t: Float(3).squareRoot())] + Dataset.synthetic(count: 2, dimension: 3, seed: seed).samples
        for (i, sample) in samples.enumerated() {
            guard case .vector(let x) = sample.input else { continue }
            print("sample \(i + 1): x = \(x), t = |x| = \(sample.target.values[0])")
        }

        let answer = try await client.gradients(samples)
        let gradients = try answer.results.map { try TensorSet(layout: mlp.layout, tensors: $0.gradients) }
        for (i, gradient) in gradients.enumerated() {
            print("\ndW1 of sample \(i + 1) (loss \(answer.results[i].loss)):\n\(format(gradient["W1"]!))")
        }
        let mean = TensorSet.mean(of: gradients)
        print("\nmean dW1 (averaged here, on the client):\n\(format(mean["W1"]!))")

        let before = try await client.params()
        let newVersion = try await client.apply(mean, baseVersion: answer.version).version
        let after = try await client.params()
        let lr = model.optimizer.currentLearningRate
        let w1Before = before.parameters["W1"]!, w1After = after.parameters["W1"]!
        let change = zip(w1After.data, w1Before.data).map { $0 - $1 }
        let expected = mean["W1"]!.data.map { -lr * $0 }
        print("\nW1 before (version \(before.version)):\n\(format(w1Before))")
        print("\nW1 after /apply (version \(newVersion)):\n\(format(w1After))")
        print("\nafter - before:\n\(format(try Tensor(shape: [3, 3], data: change)))")
        print("\n-lr x mean dW1 (lr = \(lr)):\n\(format(try Tensor(shape: [3, 3], data: expected)))")
        let exact = zip(w1After.data, zip(w1Before.data, mean["W1"]!.data)).allSatisfy { $0 == $1.0 - lr * $1.1 }
        let largest = zip(change, expected).map { abs($0 - $1) }.max() ?? 0
        print("\nafter - before equals -lr x mean: \(exact ? "yes" : "NO"): W1 after is exactly W1 before - lr x mean in float32, "
              + "and the two matrices above differ by at most \(largest) (float32 rounding of the subtraction)")
        if !exact { throw ExitCode.failure }
    }
}
