import Foundation
import Model
import TestSupport
import Testing
import Wire

/// The real `gradserve` binary, driven with the curl command line as users drive it.
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

    @Test func gradientsAndApplyOverCurlMatchTheModelLibrary() throws {
        let server = try ServerProcess(["--layers", "3,3,3", "--lr", "0.001", "--optimizer", "sgd"])
        let put = try curl(["-X", "PUT", "\(server.url)/params", "-H", "Content-Type: application/json", "-d", knownParameters])
        #expect(put.status == 200)
        #expect(put.body == #"{"version":1}"#)

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
            #expect(result.loss == expected.results[i].loss)
            #expect(result.output == expected.results[i].output)
            #expect(try TensorSet(layout: mlp.layout, tensors: result.gradients) == expected.gradient(i))
        }

        // The client's job: average the per-sample gradients and post the mean.
        let mean = TensorSet.mean(of: try gradients.results.map { try TensorSet(layout: mlp.layout, tensors: $0.gradients) })
        var writer = JSONWriter()
        TensorsRequest(tensors: mean.namedTensors, version: 1)
            .encode(to: &writer, field: "gradients")
        let apply = try curl(["-X", "POST", "\(server.url)/apply", "-d", String(decoding: writer.bytes, as: UTF8.self)])
        #expect(apply.status == 200)
        #expect(apply.body == #"{"version":2}"#)

        let after = try decode(try curl(["\(server.url)/params"]).body) { try ParamsResponse(reading: &$0) }
        #expect(after.version == 2)
        let before = parameters["W1"]!.data, meanW1 = mean["W1"]!.data
        #expect(after.parameters["W1"]!.data == zip(before, meanW1).map { $0 - 0.001 * $1 })
        #expect(after.parameters["W1"]!.data != before)
        #expect(after.parameters["b2"]!.data == zip(parameters["b2"]!.data, mean["b2"]!.data).map { $0 - 0.001 * $1 })
        #expect(server.stop() == 0)
    }

    @Test func paramsComeBackBitForBit() throws {
        let server = try ServerProcess(["--layers", "4,5,3"])
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
            var writer = JSONWriter()
            TensorsRequest(tensors: tensors, version: nil).encode(to: &writer, field: "parameters", format: format)
            let put = try curl(["-X", "PUT", "\(server.url)/params", "-d", String(decoding: writer.bytes, as: UTF8.self)])
            #expect(put.status == 200)
            let back = try decode(try curl(["\(server.url)/params?tensor_format=\(format.rawValue)"]).body) { try ParamsResponse(reading: &$0) }
            for (name, tensor) in tensors {
                #expect(back.parameters[name]?.data.map(\.bitPattern) == tensor.data.map(\.bitPattern), "\(name) in \(format)")
            }
        }
    }

    @Test func badInputGetsClearErrorsAndChangesNothing() throws {
        let server = try ServerProcess(["--layers", "3,3,3"])
        let before = try curl(["\(server.url)/params"]).body
        let cases: [(method: String, path: String, body: String, status: Int, code: String, message: String)] = [
            ("POST", "/gradients", "{", 400, "invalid_json", "malformed JSON at byte 1: unexpected end of input"),
            ("POST", "/gradients", #"{"samples": [{"x": [1, 2], "t": 1}]}"#, 422, "shape_mismatch", "samples[0].x: expected [3], got [2]"),
            ("POST", "/gradients", #"{"samples": []}"#, 422, "empty_samples", "samples: expected at least one sample"),
            ("POST", "/gradients", #"{"samples": [{"x": [1, 2, 3]}]}"#, 400, "invalid_field", "samples[0]: missing field t (the target, a number)"),
            ("POST", "/forward", #"{"samples": [{"x": [1, 2, "3"]}]}"#, 400, "invalid_field", "samples[0].x[2]: expected a number, got a string"),
            ("POST", "/apply", #"{"gradients": {"W1": {"shape": [3, 2], "data": [1, 2, 3, 4, 5, 6]}}}"#, 422, "shape_mismatch", "W1: expected [3,3], got [3,2]"),
            ("POST", "/apply", #"{"gradients": {"W9": {"shape": [1], "data": [1]}}}"#, 422, "unknown_parameter", "W9: not a parameter of this model (expected one of W1, b1, W2, b2, W3)"),
            ("POST", "/apply", #"{"gradients": {"W3": {"shape": [3], "data": [1, 1e39, 1]}}}"#, 400, "invalid_field", "gradients.W3.data[1]: 1e39 is out of Float32 range"),
            ("POST", "/apply", #"{"gradients": {"W3": {"shape": [3], "data": [1, 2, 3]}, "b1": {"shape": [3], "data": [0, 0]}}}"#, 422, "shape_mismatch", "gradients.b1: shape [3] holds 3 values, got 2"),
            ("POST", "/apply", #"{"gradients": {}}"#, 422, "unknown_parameter", "gradients: expected at least one of W1, b1, W2, b2, W3, got none"),
            ("POST", "/apply", #"{"gradients": {"W3": {"shape": [3], "data": [1, 2, 3]}}, "version": 5}"#, 409, "version_conflict", "version 5 is ahead of the current version 0"),
            ("PUT", "/params", #"{"parameters": {"W3": {"shape": [3], "data": [1, 2, 3]}}}"#, 422, "unknown_parameter", "W1: missing (every parameter is required: W1, b1, W2, b2, W3)"),
            ("GET", "/params?tensor_format=hex", "", 400, "invalid_field", "tensor_format: expected numbers or b64, got hex"),
        ]
        for c in cases {
            var arguments = ["-X", c.method, "\(server.url)\(c.path)"]
            if !c.body.isEmpty { arguments += ["-d", c.body] }
            let response = try curl(arguments)
            #expect(response.status == c.status, "\(c.path) \(c.body)")
            let error = try? decode(response.body) { try ErrorResponse(reading: &$0) }
            #expect(error?.code == c.code, "\(c.body)")
            #expect(error?.message == c.message, "\(c.body)")
        }
        #expect(try curl(["\(server.url)/params"]).body == before)
        #expect(try curl(["\(server.url)/health"]).body == #"{"status":"ok","version":0}"#)
    }

    @Test func perSampleAnswersAreBoundedInSize() throws {
        // 27 parameters at 3,3,3: two samples make 54 values, three make 81.
        let server = try ServerProcess(["--layers", "3,3,3", "--max-gradient-values", "60"])
        let sample = #"{"x": [1, 2, 3], "t": 1}"#
        let two = try curl(["-X", "POST", "\(server.url)/gradients", "-d", #"{"samples": ["# + [sample, sample].joined(separator: ",") + "]}"])
        #expect(two.status == 200)
        let three = #"{"samples": ["# + [sample, sample, sample].joined(separator: ",") + "]"
        let refused = try curl(["-X", "POST", "\(server.url)/gradients", "-d", three + "}"])
        #expect(refused.status == 422)
        let error = try decode(refused.body) { try ErrorResponse(reading: &$0) }
        #expect(error.code == "too_many_values")
        #expect(error.message == #"samples: 3 per-sample gradients of 27 values exceed the limit of 60 values per answer; send at most 2 samples, or ask for "reduce": "sum""#)
        let summed = try curl(["-X", "POST", "\(server.url)/gradients", "-d", three + #", "reduce": "sum"}"#])
        #expect(summed.status == 200)
    }

    @Test func staleVersionsWithinMaxStalenessAreAccepted() throws {
        let server = try ServerProcess(["--max-staleness", "2"])
        let step = #"{"gradients": {"W3": {"shape": [3], "data": [1, 2, 3]}}, "version": 0}"#
        #expect(try curl(["-X", "POST", "\(server.url)/apply", "-d", step]).body == #"{"version":1}"#)
        #expect(try curl(["-X", "POST", "\(server.url)/apply", "-d", step]).body == #"{"version":2}"#)
        #expect(try curl(["-X", "POST", "\(server.url)/apply", "-d", step]).body == #"{"version":3}"#)
        let refused = try curl(["-X", "POST", "\(server.url)/apply", "-d", step])
        #expect(refused.status == 409)
        #expect(try decode(refused.body) { try ErrorResponse(reading: &$0) }.currentVersion == 3)
    }

    @Test func checkpointMovesTheWholeStateBetweenServers() throws {
        let first = try ServerProcess(["--optimizer", "adam", "--lr", "0.01"])
        let second = try ServerProcess(["--optimizer", "adam", "--lr", "0.01", "--seed", "7"])
        let step = #"{"gradients": {"W1": {"shape": [3, 3], "data": [1, 2, 3, 4, 5, 6, 7, 8, 9]}}}"#
        for _ in 0..<3 { _ = try curl(["-X", "POST", "\(first.url)/apply", "-d", step]) }
        let checkpoint = try curl(["\(first.url)/checkpoint?tensor_format=b64"])
        #expect(checkpoint.status == 200)
        let restored = try curl(["-X", "PUT", "\(second.url)/checkpoint", "-d", checkpoint.body])
        #expect(restored.body == #"{"version":3}"#)
        // Same state: the next identical step gives identical parameters and versions.
        _ = try curl(["-X", "POST", "\(first.url)/apply", "-d", step])
        _ = try curl(["-X", "POST", "\(second.url)/apply", "-d", step])
        #expect(try curl(["\(first.url)/params"]).body == curl(["\(second.url)/params"]).body)
        #expect(try curl(["\(second.url)/model"]).body.contains(#""step":4"#))
    }

    @Test func metricsCountRequestsByPathAndStatus() throws {
        let server = try ServerProcess()
        _ = try curl(["\(server.url)/health"])
        _ = try curl(["\(server.url)/nowhere"])
        _ = try curl(["-X", "POST", "\(server.url)/forward", "-d", #"{"samples": [{"x": [1, 2, 3]}, {"x": [0, 0, 0]}]}"#])
        let metrics = try curl(["\(server.url)/metrics"]).body
        #expect(metrics.contains(#"gradserve_requests_total{path="/health",status="200"} 1"#))
        #expect(metrics.contains(#"gradserve_requests_total{path="other",status="404"} 1"#))
        #expect(metrics.contains("gradserve_samples_total 2"))
        #expect(metrics.contains(#"gradserve_request_duration_seconds_count{path="/forward"} 1"#))
        #expect(metrics.contains("gradserve_version 0"))
    }
}
