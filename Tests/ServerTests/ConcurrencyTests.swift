import Locking
import Foundation
import Model
import Synchronization
import TestSupport
import Testing
import Wire

/// Parallel `/gradients` and `/apply` against one server: no apply may be lost, and every
/// gradient answer must come from exactly the parameters of the version it names.
@Suite struct ConcurrencyTests {
    @Test func noApplyIsLostAndEveryGradientMatchesItsVersion() throws {
        let mlp = try MLP(layers: [3, 3, 3])
        let server = try ServerProcess(["--layers", "3,3,3", "--optimizer", "sgd", "--lr", "0.25", "--threads", "2"])
        var generator = SeededGenerator(seed: 5)
        // Quarter-integer parameters and integer gradients with lr 1/4 keep every step exact in
        // Float32, so the final parameters do not depend on the order the applies land in.
        let start = TensorSet(layout: mlp.layout, storage: (0..<mlp.layout.count).map { _ in Float(Int.random(in: -4...4, using: &generator)) / 4 })
        let steps = (0..<40).map { _ in TensorSet(layout: mlp.layout, storage: (0..<mlp.layout.count).map { _ in Float(Int.random(in: -3...3, using: &generator)) }) }
        let samples = [Sample(x: [0.5, -1, 0.25], t: 1), Sample(x: [1, 1, 1], t: -0.5)]

        @Sendable func body(_ field: String, _ set: TensorSet) -> String {
            var writer = JSONWriter()
            TensorsRequest(tensors: set.namedTensors, version: nil)
                .encode(to: &writer, field: field)
            return String(decoding: writer.bytes, as: UTF8.self)
        }
        @Sendable func post(_ client: RawClient, _ method: String, _ path: String, _ body: String) -> RawClient.Response? {
            client.send("\(method) \(path) HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            return client.readResponse()
        }

        #expect(post(try RawClient(port: server.port), "PUT", "/params", body("parameters", start))?.text.hasPrefix(#"{"version":1,"digest":"#) == true)

        var requestWriter = JSONWriter()
        GradientsRequest(samples: samples).encode(to: &requestWriter)
        let gradientsBody = String(decoding: requestWriter.bytes, as: UTF8.self)
        let stepByVersion = Locked([:] as [Int: Int])
        let observed = Locked([] as [(version: Int, response: String)])
        let failures = Atomic<Int>(0)
        let appliesFinished = Atomic<Int>(0)

        // Real threads, not concurrentPerform, which would run only as many workers at once as there are cores.
        runOnThreads(8) { worker in
            guard let client = try? RawClient(port: server.port) else { failures.add(1, ordering: .relaxed); return }
            if worker < 4 {
                for k in stride(from: worker, to: steps.count, by: 4) {
                    guard let response = post(client, "POST", "/apply", body("gradients", steps[k])), response.status == 200,
                          let version = try? JSONReader.read(response.body, { try VersionResponse(reading: &$0).version }) else {
                        failures.add(1, ordering: .relaxed); continue
                    }
                    stepByVersion.withLock { $0[version] = k }
                    // Spread the applies out so that gradient requests land between them.
                    Thread.sleep(forTimeInterval: 0.002)
                }
                appliesFinished.add(1, ordering: .relaxed)
            } else {
                var requests = 0
                while requests < 15 || appliesFinished.load(ordering: .relaxed) < 4 {
                    requests += 1
                    guard let response = post(client, "POST", "/gradients", gradientsBody), response.status == 200,
                          let version = try? JSONReader.read(response.body, { try GradientsResponse(reading: &$0).version }) else {
                        failures.add(1, ordering: .relaxed); continue
                    }
                    observed.withLock { $0.append((version, response.text)) }
                }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)

        // Replay the applies in the order the server numbered them.
        let order = stepByVersion.withLock { $0 }
        #expect(order.keys.sorted() == Array(2...41), "every apply got its own version")
        var parametersAt = [1: start]
        var parameters = start
        for version in 2...41 {
            let step = steps[order[version]!]
            parameters.storage = zip(parameters.storage, step.storage).map { $0 - 0.25 * $1 }
            parametersAt[version] = parameters
        }
        let final = try JSONReader.read(Array(try curl(["\(server.url)/params"]).body.utf8)) { try ParamsResponse(reading: &$0) }
        #expect(final.version == 41)
        #expect(try TensorSet(layout: mlp.layout, tensors: final.parameters) == parameters)
        let exactSum = zip(start.storage, steps.reduce([Float](repeating: 0, count: mlp.layout.count)) { zip($0, $1.storage).map(+) }).map { $0 - 0.25 * $1 }
        #expect(parameters.storage == exactSum, "the order of applies does not matter")

        let answers = observed.withLock { $0 }
        #expect(answers.count >= 60)
        #expect(Set(answers.map(\.version)).count > 1, "gradients were read while applies landed")
        // Bit equality by construction: the same code path on the same inputs (see APIEndToEndTests).
        for answer in answers {
            let response = try JSONReader.read(Array(answer.response.utf8)) { try GradientsResponse(reading: &$0) }
            let expected = try mlp.gradients(of: samples, parameters: parametersAt[answer.version]!)
            for (i, result) in response.results.enumerated() {
                #expect(try TensorSet(layout: mlp.layout, tensors: result.gradients) == expected.gradient(i), "version \(answer.version)")
            }
        }
    }
}

/// Runs `body(0..<count)` on `count` threads at once and waits for all of them.
func runOnThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for worker in 0..<count {
        group.enter()
        Thread {
            body(worker)
            group.leave()
        }.start()
    }
    group.wait()
}
