import Foundation
import Locking
import Model
import TestSupport
import Testing
import Wire

/// The real `gradserve` binary, driven with the curl command line as users drive it: the
/// workflow of the README end to end. Every route, error and limit is tested in process in
/// Tests/APITests; this checks that the binary serves that app.
@Suite struct APIEndToEndTests {
    let mlp = try! MLP(layers: [3, 3, 3])

    /// Fixed parameters written in JSON by hand, as a user would load known weights.
    let knownParameters = #"""
    {"parameters": {
      "W1": {"shape": [3, 3], "data": [0.1, 0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8, 0.9]},
      "b1": {"shape": [3], "data": [0.01, -0.02, 0.03], "datatype": "FP32"},
      "W2": {"shape": [3, 3], "data": [0.2, -0.1, 0.4, 0.3, 0.6, -0.5, -0.7, 0.2, 0.1]},
      "b2": {"shape": [3], "data": [-0.05, 0.05, 0.0]},
      "W3": {"shape": [3], "data": [0.5, -1.0, 1.5]}}}
    """#

    func decode<T>(_ text: String, _ body: (inout JSONReader) throws -> T) throws -> T {
        try JSONReader.read(Array(text.utf8), body)
    }

    /// Over real connections: a `/step` sent ahead of its turn waits (its answer deferred) while
    /// the server answers others, then lands after the step before it, which came later. Small
    /// bodies are handled on the event loop, large ones (16 KiB and more) on worker threads.
    @Test(arguments: [1, 600])
    func aStepSentAheadOfItsTurnWaitsForItOverHTTP(samplesPerPart: Int) throws {
        // A long wait: under a loaded test run, the step sent second may come seconds later.
        let server = try ServerProcess(["--layers", "3,3,3", "--max-staleness", "2", "--step-wait", "300"])
        func step(_ ifVersion: Int) -> String {
            let samples = (0..<samplesPerPart).map { i in #"{"x": [\#(Float(i % 7) / 7), 0.5, -0.25], "t": 1}"# }.joined(separator: ", ")
            return #"{"gradients": {"W3": {"shape": [3], "data": [0.1, 0.2, 0.3]}}, "version": 0, "if_version": \#(ifVersion), "#
                + #""parts": [[\#(samples)]], "reduce": "sum", "results": "sum"}"#
        }
        let second = Locked<(status: Int, body: String)?>(nil)
        let done = DispatchSemaphore(value: 0)
        let (url, ahead) = (server.url, step(1))
        DispatchQueue.global().async {
            let answer = try? curl(["-X", "POST", "\(url)/step", "-d", ahead])
            second.withLock { $0 = answer }
            done.signal()
        }
        Thread.sleep(forTimeInterval: 0.3)
        #expect(second.withLock { $0 } == nil, "it waits for step 0")
        #expect(try curl(["\(server.url)/health"]).body.hasPrefix(#"{"status":"ok","version":0,"#), "others are answered meanwhile")
        let first = try curl(["-X", "POST", "\(server.url)/step", "-d", step(0)])
        #expect(first.status == 200 && first.body.hasPrefix(#"{"version":1,"#), "\(first.body.prefix(200))")
        #expect(done.wait(timeout: .now() + 10) == .success)
        let answer = try #require(second.withLock { $0 })
        #expect(answer.status == 200 && answer.body.hasPrefix(#"{"version":2,"#), "\(answer.body.prefix(200))")
        #expect(answer.body.contains(#""samples":\#(samplesPerPart),"loss_sum":"#))
        #expect(try curl(["\(server.url)/health"]).body.hasPrefix(#"{"status":"ok","version":2,"#))
    }

    /// A waiting step whose client gives up (curl's timeout closes the connection) is dropped: when
    /// the step before it lands, it does not land after it.
    @Test func aWaitingStepWhoseClientLeftNeverLands() throws {
        let server = try ServerProcess(["--layers", "3,3,3", "--max-staleness", "2", "--step-wait", "300"])
        func step(_ ifVersion: Int) -> String {
            #"{"gradients": {"W3": {"shape": [3], "data": [0.1, 0.2, 0.3]}}, "version": 0, "if_version": \#(ifVersion), "parts": [[{"x": [1, 2, 3], "t": 1}]]}"#
        }
        let gaveUp = try run("/usr/bin/curl", ["-s", "-m", "1", "-X", "POST", "\(server.url)/step", "-d", step(1)])
        #expect(gaveUp.status == 28, "curl's exit status for a timeout")
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try curl(["-X", "POST", "\(server.url)/step", "-d", step(0)]).body.hasPrefix(#"{"version":1,"#))
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try curl(["\(server.url)/health"]).body.hasPrefix(#"{"status":"ok","version":1,"#), "the abandoned step did not land")
    }

    @Test func gradientsAndApplyOverCurlMatchTheModelLibrary() throws {
        let server = try ServerProcess(["--layers", "3,3,3", "--lr", "0.001", "--optimizer", "sgd"])
        let put = try curl(["-X", "PUT", "\(server.url)/params", "-H", "Content-Type: application/json", "-d", knownParameters])
        #expect(put.status == 200)
        #expect(put.body.hasPrefix(#"{"version":1,"digest":"#))

        let samplesJSON = #"{"samples": [{"x": [1, 1, 1], "t": 1.7320508}, {"x": [0.5, -0.25, 2], "t": 2.0766559}, {"x": [0, 0.75, 0.125], "t": 0.7603453}]}"#
        let response = try curl(["-X", "POST", "\(server.url)/gradients", "-d", samplesJSON])
        #expect(response.status == 200)
        let gradients = try decode(response.body) { try GradientsResponse(reading: &$0) }
        #expect(gradients.version == 1)

        let parameters = try decode(knownParameters) { try TensorSet(layout: mlp.layout, tensors: TensorsRequest(reading: &$0, field: "parameters").tensors) }
        let samples = try decode(samplesJSON) { try GradientsRequest(reading: &$0, sampleLimit: 10).samples }
        let expected = try mlp.gradients(of: samples, parameters: parameters)
        #expect(gradients.results.count == 3)
        // Bit equality by construction: the server and this process run the same code path on the
        // same inputs with the same OpenBLAS kernel, and the wire carries Float32 exactly.
        for (i, result) in gradients.results.enumerated() {
            #expect(result.loss == expected.results.losses[i])
            #expect(result.outputs == [expected.results.outputs[i]])
            #expect(try TensorSet(layout: mlp.layout, tensors: result.gradients) == expected.gradient(i))
        }

        // The client's job: average the per-sample gradients and post the mean.
        let mean = TensorSet.mean(of: try gradients.results.map { try TensorSet(layout: mlp.layout, tensors: $0.gradients) })
        var writer = JSONWriter()
        TensorsRequest(tensors: mean.namedTensors, version: 1)
            .encode(to: &writer, field: "gradients")
        let apply = try curl(["-X", "POST", "\(server.url)/apply", "-d", String(decoding: writer.bytes, as: UTF8.self)])
        #expect(apply.status == 200)
        #expect(apply.body.hasPrefix(#"{"version":2,"digest":"#))

        let after = try decode(try curl(["\(server.url)/params"]).body) { try ParamsResponse(reading: &$0) }
        #expect(after.version == 2)
        let before = parameters["W1"]!.data, meanW1 = mean["W1"]!.data
        #expect(after.parameters["W1"]!.data == zip(before, meanW1).map { $0 - 0.001 * $1 })
        #expect(after.parameters["W1"]!.data != before)
        #expect(after.parameters["b2"]!.data == zip(parameters["b2"]!.data, mean["b2"]!.data).map { $0 - 0.001 * $1 })
        #expect(server.stop() == 0)
    }
}
