import Model
import Testing
import Wire
@testable import API

/// Every route, error, version rule and limit, through the app in process.
@Suite struct RouteTests {
    let mlp = try! MLP(layers: [3, 3, 3])

    @Test func gradientsAndApplyMatchTheModelLibrary() throws {
        let app = try InProcessApp { $0.optimizer = OptimizerConfiguration(kind: .sgd, learningRate: 0.001) }
        let parameters = mlp.makeParameters(.uniform01, seed: 9)
        #expect(app("PUT", "/params", json { TensorsRequest(tensors: parameters.namedTensors, version: 0).encode(to: &$0, field: "parameters") }).text.hasPrefix(#"{"version":1,"digest":"#))
        var generator = SeededGenerator(seed: 3)
        let samples = (0..<4).map { _ in Sample(x: (0..<3).map { _ in Float.random(in: -1..<1, using: &generator) }, t: 0.5) }
        let expected = try mlp.gradients(of: samples, parameters: parameters)
        // Bit equality by construction: the app and this test run the same code path on the same
        // inputs, and the wire carries Float32 exactly in both tensor forms.
        for format in TensorFormat.allCases {
            let response = app("POST", "/gradients", json { GradientsRequest(samples: samples, tensorFormat: format).encode(to: &$0) })
            #expect(response.status == .ok)
            let answer = try response.decode { try GradientsResponse(reading: &$0) }
            #expect(answer.version == 1)
            #expect(answer.results.map(\.loss) == expected.results.losses)
            #expect(answer.results.flatMap(\.outputs) == expected.results.outputs)
            for (i, result) in answer.results.enumerated() {
                #expect(try TensorSet(layout: mlp.layout, tensors: result.gradients) == expected.gradient(i), "\(format)")
            }
        }
        let mean = expected.mean()
        #expect(app("POST", "/apply", json { TensorsRequest(tensors: mean.namedTensors, version: 1).encode(to: &$0, field: "gradients") }).text.hasPrefix(#"{"version":2,"digest":"#))
        let after = try app("GET", "/params").decode { try ParamsResponse(reading: &$0) }
        // An SGD step is one IEEE expression per entry: bit for bit.
        #expect(after.parameters["W1"]!.data == zip(parameters["W1"]!.data, mean["W1"]!.data).map { $0 - 0.001 * $1 })
    }

    /// A vector input as a tensor (either form) is answered exactly as the same numbers, and a
    /// tensor of another rank is refused, naming the field.
    @Test func tensorInputsAreAnsweredLikeNumbers() throws {
        let app = try InProcessApp()
        let x: [Float] = [0.1, -2.5, 3e-7]
        var compact = JSONWriter()
        compact.tensor(shape: [3], values: x, format: .b64)
        let tensor = String(decoding: compact.bytes, as: UTF8.self)
        let numbers = app("POST", "/gradients", #"{"samples": [{"x": [0.1, -2.5, 3e-7], "t": 1}]}"#)
        #expect(numbers.status == .ok)
        #expect(app("POST", "/gradients", #"{"samples": [{"x": \#(tensor), "t": 1}]}"#).text == numbers.text)
        #expect(app("POST", "/gradients", #"{"samples": [{"x": {"shape": [3], "data": [0.1, -2.5, 3e-7]}, "t": 1}]}"#).text == numbers.text)
        let matrix = app("POST", "/forward", #"{"samples": [{"x": {"shape": [1, 3], "data": [1, 2, 3]}}]}"#)
        #expect(matrix.status.code == 422)
        #expect(matrix.error?.message == "samples[0].x: expected a tensor of shape [D], got shape [1, 3]")
    }

    /// `"results": "sum"` drops each sample's loss and output and keeps everything else: the same
    /// gradient sum, bit for bit, and the losses' Float64 sum in sample order, which is exactly what
    /// adding the per-sample losses of the other form gives (same values, same order, same type).
    @Test func aSummedAnswerCanLeaveOutThePerSampleResults() throws {
        let app = try InProcessApp()
        var generator = SeededGenerator(seed: 5)
        let samples = (0..<7).map { _ in Sample(x: (0..<3).map { _ in Float.random(in: -1..<1, using: &generator) }, t: 0.5) }
        let full = try app("POST", "/gradients", json { GradientsRequest(samples: samples, reduce: .sum).encode(to: &$0) })
            .decode { try GradientsResponse(reading: &$0) }
        let response = app("POST", "/gradients", json { GradientsRequest(samples: samples, reduce: .sum, results: .sum).encode(to: &$0) })
        #expect(response.status == .ok)
        #expect(!response.text.contains(#""results""#), "\(response.text.prefix(200))")
        let totals = try response.decode { try GradientsResponse(reading: &$0) }
        #expect(totals.results.isEmpty)
        #expect(totals.samples == 7)
        #expect(totals.lossSum == full.results.reduce(0.0) { $0 + Double($1.loss) })
        #expect(totals.sum == full.sum)
        #expect(full.samples == nil && full.lossSum == nil)
    }

    @Test func paramsComeBackBitForBit() throws {
        let app = try InProcessApp { $0.network = .mlp(layers: [4, 5, 3]) }
        let model = try MLP(layers: [4, 5, 3])
        var generator = SeededGenerator(seed: 1)
        var tensors: [String: Tensor] = [:]
        for entry in model.layout.entries {
            // Random bit patterns cover subnormals, tiny and huge magnitudes.
            let values = (0..<entry.count).map { _ in
                var value: Float
                repeat { value = Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &generator)) } while !value.isFinite
                return value
            }
            tensors[entry.name] = try Tensor(shape: entry.shape, data: values)
        }
        for format in TensorFormat.allCases {
            #expect(app("PUT", "/params", json { TensorsRequest(tensors: tensors, version: nil).encode(to: &$0, field: "parameters", format: format) }).status == .ok)
            let back = try app("GET", "/params?tensor_format=\(format.rawValue)").decode { try ParamsResponse(reading: &$0) }
            for (name, tensor) in tensors {
                #expect(back.parameters[name]?.data.map(\.bitPattern) == tensor.data.map(\.bitPattern), "\(name) in \(format)")
            }
        }
    }

    @Test(arguments: [
        ("POST", "/gradients", "{", 400, "invalid_json", "malformed JSON at byte 1: unexpected end of input"),
        ("POST", "/gradients", "", 400, "invalid_json", "the request body is empty; expected a JSON object"),
        ("POST", "/gradients", #"{"samples": [{"x": [1, 2], "t": 1}]}"#, 422, "shape_mismatch", "samples[0].x: expected [3], got [2]"),
        ("POST", "/gradients", #"{"samples": []}"#, 422, "empty_samples", "samples: expected at least one sample"),
        ("POST", "/gradients", #"{"samples": [{"x": [1, 2, 3]}]}"#, 400, "invalid_field", "samples[0]: missing field t (the target: a number, a class index or a list of numbers)"),
        ("POST", "/gradients", #"{"samples": [{"x": [1, 2, 3], "t": 1}], "results": "sum"}"#, 400, "invalid_field", #"results: "sum" needs "reduce": "sum" (per-sample gradients come with per-sample results)"#),
        ("POST", "/gradients", #"{"samples": [{"x": [1, 2, 3], "t": 1}], "reduce": "sum", "results": "all"}"#, 400, "invalid_field", #"results: expected "per_sample" or "sum", got "all""#),
        ("POST", "/forward", #"{"samples": [{"x": [1, 2, "3"]}]}"#, 400, "invalid_field", "samples[0].x[2]: expected a number, got a string"),
        ("POST", "/apply", #"{"gradients": {"W1": {"shape": [3, 2], "data": [1, 2, 3, 4, 5, 6]}}}"#, 422, "shape_mismatch", "W1: expected [3,3], got [3,2]"),
        ("POST", "/apply", #"{"gradients": {"W9": {"shape": [1], "data": [1]}}}"#, 422, "unknown_parameter", "W9: not a parameter of this model (expected one of W1, b1, W2, b2, W3)"),
        ("POST", "/apply", #"{"gradients": {"W3": {"shape": [3], "data": [1, 1e39, 1]}}}"#, 400, "invalid_field", "gradients.W3.data[1]: 1e39 is out of Float32 range"),
        ("POST", "/apply", #"{"gradients": {"W3": {"shape": [3], "data": [1, 2, 3]}, "b1": {"shape": [3], "data": [0, 0]}}}"#, 422, "shape_mismatch", "gradients.b1: shape [3] holds 3 values, got 2"),
        ("POST", "/apply", #"{"gradients": {}}"#, 422, "unknown_parameter", "gradients: expected at least one of W1, b1, W2, b2, W3, got none"),
        ("POST", "/apply", #"{"gradients": {"W3": {"shape": [3], "data": [1, 2, 3]}}, "version": 5}"#, 409, "version_conflict", "version 5 is ahead of the current version 0"),
        ("PUT", "/params", #"{"parameters": {"W3": {"shape": [3], "data": [1, 2, 3]}}}"#, 422, "unknown_parameter", "W1: missing (every parameter is required: W1, b1, W2, b2, W3)"),
        ("PUT", "/checkpoint", #"{"version": 1, "parameters": {}, "optimizer_state": {"name": "adam", "step": 0}}"#, 422, "unknown_parameter", "parameters.W1: missing (every parameter is required: W1, b1, W2, b2, W3)"),
        ("GET", "/params?tensor_format=hex", "", 400, "invalid_field", "tensor_format: expected numbers or b64, got hex"),
        ("GET", "/nowhere", "", 404, "not_found", "no route for /nowhere"),
        ("DELETE", "/params", "", 405, "method_not_allowed", "/params does not accept DELETE; allowed: GET, PUT, HEAD"),
    ])
    func badRequestsGetTheirStatusCodeAndMessageAndChangeNothing(
        method: String, target: String, body: String, status: Int, code: String, message: String
    ) throws {
        let app = try InProcessApp()
        let before = app("GET", "/params").text
        let response = app(method, target, body)
        #expect(response.status.code == status)
        #expect(response.error?.code == code)
        #expect(response.error?.message == message)
        #expect(app("GET", "/params").text == before)
        #expect(app("GET", "/health").text.hasPrefix(#"{"status":"ok","version":0,"digest":"#))
    }

    @Test func methodNotAllowedNamesTheAllowedMethodsAndHeadServesGet() throws {
        let app = try InProcessApp()
        #expect(app("DELETE", "/params").header("Allow") == "GET, PUT, HEAD")
        #expect(app("HEAD", "/health").text == app("GET", "/health").text)
    }

    @Test func perSampleAnswersAreBoundedInSize() throws {
        // 27 parameters at 3,3,3: two samples make 54 values, three make 81.
        let app = try InProcessApp { $0.requests.maxGradientValues = 60 }
        let sample = #"{"x": [1, 2, 3], "t": 1}"#
        #expect(app("POST", "/gradients", #"{"samples": [\#(sample), \#(sample)]}"#).status == .ok)
        let three = #"{"samples": [\#(sample), \#(sample), \#(sample)]"#
        let refused = app("POST", "/gradients", three + "}")
        #expect(refused.status == .unprocessableContent)
        #expect(refused.error?.code == "too_many_values")
        #expect(refused.error?.message == #"samples: 3 per-sample gradients of 27 values exceed the limit of 60 values per answer; send at most 2 samples, or ask for "reduce": "sum""#)
        #expect(app("POST", "/gradients", three + #", "reduce": "sum"}"#).status == .ok)
    }

    @Test func staleVersionsWithinMaxStalenessAreAccepted() throws {
        let app = try InProcessApp { $0.maxStaleness = 2 }
        let step = #"{"gradients": {"W3": {"shape": [3], "data": [1, 2, 3]}}, "version": 0}"#
        for version in 1...3 { #expect(app("POST", "/apply", step).text.hasPrefix(#"{"version":\#(version),"digest":"#)) }
        let refused = app("POST", "/apply", step)
        #expect(refused.status == .conflict)
        #expect(refused.error?.currentVersion == 3)
        #expect(refused.error?.message == "version 0 is 3 step(s) behind the current version 3; at most 2 accepted")
    }

    /// `if_version` makes a stale step land on the one version it names: a retry of a step that
    /// landed is refused however stale its base may be. A refused step changes nothing.
    @Test func ifVersionLandsAStaleStepOnlyOnTheVersionItNames() throws {
        let app = try InProcessApp { $0.maxStaleness = 2 }
        func step(_ ifVersion: String) -> String {
            #"{"gradients": {"W3": {"shape": [3], "data": [1, 2, 3]}}, "version": 0, "if_version": \#(ifVersion)}"#
        }
        #expect(app("POST", "/apply", step("0")).text.hasPrefix(#"{"version":1,"digest":"#))
        let before = app("GET", "/checkpoint").text
        for (ifVersion, status, message) in [
            ("0", 409, "if_version: expected the current version to be 0, it is 1"),
            ("2", 409, "if_version: expected the current version to be 2, it is 1"),
            ("-1", 400, "if_version"),
            ("\"1\"", 400, "if_version"),
        ] {
            let refused = app("POST", "/apply", step(ifVersion))
            #expect(refused.status.code == status, "\(ifVersion)")
            #expect(refused.error?.message.contains(message) == true, "\(refused.error?.message ?? "")")
            if status == 409 { #expect(refused.error?.currentVersion == 1) }
            #expect(app("GET", "/checkpoint").text == before)
        }
        // One and two steps stale, each on the version it names; three is past the server's bound.
        #expect(app("POST", "/apply", step("1")).text.hasPrefix(#"{"version":2,"digest":"#))
        #expect(app("POST", "/apply", step("2")).text.hasPrefix(#"{"version":3,"digest":"#))
        #expect(app("POST", "/apply", step("3")).error?.message == "version 0 is 3 step(s) behind the current version 3; at most 2 accepted")
        // /step follows the same rule, and a refused step computes nothing.
        let refused = app("POST", "/step", #"{"gradients": {"W3": {"shape": [3], "data": [1, 2, 3]}}, "version": 2, "if_version": 2, "parts": [[{"x": [1, 2, 3], "t": 1}]]}"#)
        #expect(refused.error?.message == "if_version: expected the current version to be 2, it is 3")
        #expect(app("POST", "/step", #"{"gradients": {"W3": {"shape": [3], "data": [1, 2, 3]}}, "version": 2, "if_version": 3, "parts": [[{"x": [1, 2, 3], "t": 1}]]}"#).text.hasPrefix(#"{"version":4,"digest":"#))
    }

    @Test func checkpointMovesTheWholeStateBetweenServers() throws {
        let adam = OptimizerConfiguration(kind: .adam, learningRate: 0.01)
        let first = try InProcessApp { $0.optimizer = adam }
        let second = try InProcessApp { $0.optimizer = adam; $0.seed = 7 }
        let step = #"{"gradients": {"W1": {"shape": [3, 3], "data": [1, 2, 3, 4, 5, 6, 7, 8, 9]}}}"#
        for _ in 0..<3 { first("POST", "/apply", step) }
        let checkpoint = first("GET", "/checkpoint?tensor_format=b64")
        #expect(checkpoint.status == .ok)
        #expect(second("PUT", "/checkpoint", checkpoint.text).text.hasPrefix(#"{"version":3,"digest":"#))
        // Same state: the next identical step gives identical parameters and versions.
        first("POST", "/apply", step)
        second("POST", "/apply", step)
        #expect(first("GET", "/params").text == second("GET", "/params").text)
        #expect(second("GET", "/model").text.contains(#""step":4"#))
        let sgd = try InProcessApp()
        let refused = sgd("PUT", "/checkpoint", checkpoint.text)
        #expect(refused.error?.code == "optimizer_mismatch")
        #expect(refused.error?.message == "optimizer_state.name: this server runs sgd, got adam")
    }

    @Test func metricsCountRequestsByPathAndStatus() throws {
        let app = try InProcessApp()
        app("GET", "/health")
        app("GET", "/nowhere")
        app("POST", "/forward", #"{"samples": [{"x": [1, 2, 3]}, {"x": [0, 0, 0]}]}"#)
        let metrics = app("GET", "/metrics").text
        #expect(metrics.contains(#"gradserve_requests_total{path="/health",status="200"} 1"#))
        #expect(metrics.contains(#"gradserve_requests_total{path="other",status="404"} 1"#))
        #expect(metrics.contains("gradserve_samples_total 2"))
        #expect(metrics.contains(#"gradserve_request_duration_seconds_count{path="/forward"} 1"#))
        #expect(metrics.contains("gradserve_version 0"))
    }
}

@Suite struct DigestTests {
    func health(_ app: InProcessApp) throws -> HealthResponse { try app("GET", "/health").decode { try HealthResponse(reading: &$0) } }

    /// Replicas that took the same steps report the same digest; one whose state was changed
    /// behind the run's back (same version, other parameters) does not.
    @Test func theDigestTellsReplicasThatDriftedApart() throws {
        let adam = OptimizerConfiguration(kind: .adam, learningRate: 0.01)
        let first = try InProcessApp { $0.optimizer = adam }, second = try InProcessApp { $0.optimizer = adam }
        #expect(try health(first).digest == health(second).digest)
        let step = #"{"gradients": {"W3": {"shape": [3], "data": [1, 2, 3]}}, "version": 0}"#
        let applied = try [first, second].map { app in try app("POST", "/apply", step).decode { try VersionResponse(reading: &$0) } }
        #expect(applied[0] == applied[1])
        #expect(applied[0].version == 1)
        #expect(try health(first).digest == applied[0].digest, "/health reports the digest /apply answered")
        #expect(applied[0].digest != (try InProcessApp { $0.optimizer = adam }.gradserve.store.snapshot().digest))

        // Same version, one parameter changed: the digest differs.
        var checkpoint = try second("GET", "/checkpoint").decode { try Checkpoint(reading: &$0, layout: second.gradserve.store.network.layout) }
        checkpoint.parameters.storage[0] += 1
        let corrupted = try second("PUT", "/checkpoint", json { checkpoint.encode(to: &$0, format: .b64) }).decode { try VersionResponse(reading: &$0) }
        #expect(corrupted.version == 1)
        #expect(corrupted.digest != applied[0].digest)
        #expect(try health(second).digest == corrupted.digest)
    }
}
