import Client
import Foundation
import Model
import TestSupport
import Testing
import Wire

@Suite struct ClientLibraryTests {
    @Test func typedCallsMatchTheModelLibrary() async throws {
        let server = try ServerProcess(["--layers", "4,6,5"])
        let client = try GradClient(baseURL: server.url + "/", transport: CurlTransport())
        let model = try await client.model()
        #expect(model.layers == [4, 6, 5])
        let mlp = try MLP(layers: [4, 6, 5])
        let parameters = mlp.makeParameters(.glorot, seed: 3)
        let version = try await client.putParams(parameters.namedTensors, format: .b64)
        #expect(version == 1)
        let samples = Dataset.synthetic(count: 5, dimension: 4, seed: 8).samples
        // Bit equality by construction: the server runs the same code path as this process (the
        // batched per-sample path, or the one-sample path for sums), on the same inputs, with the
        // same OpenBLAS kernel, and the wire carries Float32 exactly in both tensor forms. The two
        // paths are not compared with each other here: they add in different orders (the model
        // tests bound how far each may be from the exact value).
        let expected = try mlp.gradients(of: samples, parameters: parameters)
        let expectedSum = try mlp.gradientSum(of: samples, parameters: parameters)
        for format in TensorFormat.allCases {
            let answer = try await client.gradients(samples, format: format)
            #expect(try answer.results.enumerated().allSatisfy { try TensorSet(layout: mlp.layout, tensors: $1.gradients) == expected.gradient($0) })
            #expect(answer.results.map(\.loss) == expected.results.losses)
            let summed = try await client.gradients(samples, reduce: .sum, format: format)
            #expect(try TensorSet(layout: mlp.layout, tensors: summed.sum ?? [:]) == expectedSum.sum)
            #expect(summed.results.map(\.loss) == expectedSum.results.losses)
        }
        let outputs = try await client.forward(samples).outputs
        #expect(outputs == (try mlp.outputs(for: samples.map(\.input), parameters: parameters)))
    }

    @Test func applyWithABaseVersionNeverLandsTwice() async throws {
        let server = try ServerProcess()
        let client = try GradClient(baseURL: server.url, transport: CurlTransport())
        let step = ["W3": try Tensor(shape: [3], data: [1, 2, 3])]
        #expect(try await client.apply(step, baseVersion: 0) == 1)
        // The same step again, as a confused client would send it: refused, nothing changes.
        await #expect(throws: ClientError.server(url: server.url + "/apply", status: 409, code: "version_conflict",
                                                 message: "version 0 is 1 step(s) behind the current version 1; at most 0 accepted",
                                                 currentVersion: 1)) {
            try await client.apply(step, baseVersion: 0)
        }
        #expect(try await client.health().version == 1)
    }

    @Test func manyRequestsOverlapThroughOneTransport() async throws {
        let server = try ServerProcess(["--layers", "3,3,3"])
        let transport = CurlTransport(maxConnections: 8)
        let client = try GradClient(baseURL: server.url, transport: transport)
        let samples = Dataset.synthetic(count: 64, dimension: 3, seed: 2).samples
        let sequential = try await client.forward(samples).outputs
        let parallel = try await withThrowingTaskGroup(of: (Int, Float).self) { group in
            for (i, sample) in samples.enumerated() {
                group.addTask { (i, try await client.forward([sample]).outputs[0]) }
            }
            var outputs = [Float](repeating: .nan, count: samples.count)
            for try await (i, output) in group { outputs[i] = output }
            return outputs
        }
        #expect(parallel == sequential)
    }

    @Test func safeRequestsAreRetriedUntilTheServerComesUp() async throws {
        // Reserve a free port, then start the server on it a moment after the first attempt fails.
        let probe = try ServerProcess()
        let port = probe.port
        probe.stop()
        var configuration = GradClient.Configuration()
        configuration.attempts = 8
        configuration.backoff = .milliseconds(100)
        let client = try GradClient(baseURL: "http://127.0.0.1:\(port)", configuration: configuration, transport: CurlTransport())
        let starter = Task.detached {
            try await Task.sleep(for: .milliseconds(300))
            return try ServerProcess(["--port", String(port)])
        }
        let health = try await client.health()
        #expect(health.version == 0)
        _ = try await starter.value
    }

    /// The parts' sums are added in part order from zero, bit for bit, though the total starts as
    /// the first part's storage; and the caller's answers keep their sums.
    @Test func combinedSumsAreThePartsAddedInOrderFromZero() throws {
        let layout = ParameterLayout([("w", [2, 3]), ("b", [2])])
        var generator = SeededGenerator(seed: 5)
        func part(_ values: [Float], loss: Double, samples: Int) throws -> GradientPartialSum {
            let numbers = values.map { "\($0)" }
            let json = #"{"version":3,"samples":\#(samples),"loss_sum":\#(loss),"gradient_sum":{"#
                + #""w":{"shape":[2,3],"data":[\#(numbers[0..<6].joined(separator: ","))]},"#
                + #""b":{"shape":[2],"data":[\#(numbers[6..<8].joined(separator: ","))]}}}"#
            return try JSONReader.read(Array(json.utf8)) { try GradientPartialSum(reading: &$0, layout: layout) }
        }
        func values() -> [Float] { (0..<8).map { _ in Float.random(in: -1...1, using: &generator) * 1e-3 } }
        // A later part with signed zeros, tiny and huge values, and a cancellation of the first
        // part by the second: any other order or start of the additions shows.
        var parts = try [part(values(), loss: 0.25, samples: 3), part(values(), loss: 0.5, samples: 2),
                         part([-0.0, 0, -0.0, 1e-30, -1e-30, 3e38, 3e38, -0.0], loss: 0.125, samples: 1)]
        parts[1].sum[0] = -parts[0].sum[0]
        (parts[0].sum[1], parts[1].sum[1], parts[2].sum[1]) = (1e30, 1, -1e30)  // (1e30 + 1) - 1e30 = 0; in another order, 1
        let kept = parts.map(\.sum)
        for count in 1...3 {
            let answers = Array(parts.prefix(count))
            let total = Trainer.combine(answers, layout: layout)
            let expected = (0..<8).map { i in answers.reduce(0.0) { $0 + $1.sum[i] } }
            #expect(total.sum.map(\.bitPattern) == expected.map(\.bitPattern), "\(count) parts")
            #expect(total.lossSum == answers.reduce(0.0) { $0 + $1.lossSum } && total.samples == [3, 5, 6][count - 1])
            #expect(answers.map(\.sum) == kept.prefix(count).map { $0 }, "the caller's answers are left as they were")
        }
        #expect(Trainer.combine([], layout: layout).sum == [Double](repeating: 0, count: 8))
    }
}
