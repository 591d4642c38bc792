import Foundation
import Model
import TestSupport
import Testing
import Wire

/// `gradserve --model gcn`: the same endpoints with graph samples.
@Suite struct GraphEndToEndTests {
    let arguments = ["--model", "gcn", "--features", "3", "--hidden", "4,4", "--readout", "sum", "--max-nodes", "50"]

    func decode<T>(_ text: String, _ body: (inout JSONReader) throws -> T) throws -> T {
        try JSONReader.read(Array(text.utf8), body)
    }

    @Test func gradientsOfGraphsOfDifferentSizesMatchTheModelLibrary() throws {
        let server = try ServerProcess(arguments)
        let model = try curl(["\(server.url)/model"]).body
        #expect(model.contains(#""model":"gcn","layers":[3,4,4],"readout":"sum""#))
        #expect(model.contains(#"{"name":"W3","shape":[4]},{"name":"b3","shape":[1]}"#))

        let body = #"""
        {"samples": [
          {"nodes": [[1, 0, 0.5]], "edges": [], "t": 0.25},
          {"nodes": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "edges": [[0, 1], [1, 2]], "t": 1.5, "smiles": "CCO"},
          {"nodes": [[0.5, 0.5, 0], [0, 1, 1], [1, 1, 0], [0, 0, 0]], "edges": [[0, 1], [1, 2], [2, 3], [3, 0]], "t": -0.5}
        ]}
        """#
        let response = try curl(["-X", "POST", "\(server.url)/gradients", "-d", body])
        #expect(response.status == 200)
        let answer = try decode(response.body) { try GradientsResponse(reading: &$0) }
        let params = try decode(try curl(["\(server.url)/params"]).body) { try ParamsResponse(reading: &$0) }
        let gcn = try GCN(features: 3, hidden: [4, 4], readout: .sum)
        let parameters = try TensorSet(layout: gcn.layout, tensors: params.parameters)
        let samples = try decode(body) { try GradientsRequest(reading: &$0, sampleLimit: 10).samples }
        let expected = try gcn.gradients(of: samples, parameters: parameters)
        #expect(answer.results.count == 3)
        // Bit equality by construction: the same code path on the same inputs (see APIEndToEndTests).
        for (i, result) in answer.results.enumerated() {
            #expect(result.loss == expected.results[i].loss)
            #expect(try TensorSet(layout: gcn.layout, tensors: result.gradients) == expected.gradient(i))
        }

        let forward = try curl(["-X", "POST", "\(server.url)/forward", "-d", body])
        let expectedOutputs = try gcn.outputs(for: samples.map(\.input), parameters: parameters)
        #expect(try decode(forward.body) { try ForwardResponse(reading: &$0) }.outputs == expectedOutputs)

        let mean = expected.mean()
        var writer = JSONWriter()
        TensorsRequest(tensors: mean.namedTensors, version: 0)
            .encode(to: &writer, field: "gradients", format: .b64)
        #expect(try curl(["-X", "POST", "\(server.url)/apply", "-d", String(decoding: writer.bytes, as: UTF8.self)]).body == #"{"version":1}"#)
    }

    @Test func badGraphsGet422NamingTheProblem() throws {
        let server = try ServerProcess(arguments)
        let cases: [(String, Int, String)] = [
            (#"{"nodes": [], "edges": [], "t": 1}"#, 422, "samples[0].nodes: a graph needs at least one node"),
            (#"{"nodes": [[1, 2, 3]], "edges": [[0, 1]], "t": 1}"#, 422, "samples[0].edges[0]: [0, 1] names a node outside 0..<1"),
            (#"{"nodes": [[1, 2, 3], [1, 2, 3]], "edges": [[1, 1]], "t": 1}"#, 422, "samples[0].edges[0]: self-loop [1, 1]; self-loops are implied (Â = A + I) and must not be listed"),
            (#"{"nodes": [[1, 2, 3], [1, 2, 3]], "edges": [[0, 1], [1, 0]], "t": 1}"#, 422, "samples[0].edges[1]: [1, 0] repeats an earlier edge; list each undirected edge once"),
            (#"{"nodes": [[1, 2], [1, 2]], "edges": [], "t": 1}"#, 422, "samples[0].nodes: expected 3 features per node, got 2"),
            (#"{"nodes": [[1, 2, 3], [1, 2]], "edges": [], "t": 1}"#, 422, "samples[0].nodes[1]: expected 3 features like nodes[0], got 2"),
            (#"{"nodes": [[1, 2, 3]], "edges": [[0]], "t": 1}"#, 400, "samples[0].edges[0]: an edge is a pair [i, j] of node indices"),
            (#"{"nodes": [[1, 2, 3]], "edges": [[0, -1]], "t": 1}"#, 400, "samples[0].edges[0][1]: expected an integer in 0...2147483647, got -1"),
            (#"{"x": [1, 2, 3], "t": 1}"#, 422, #"samples[0].x: this gcn reads graphs ({"nodes": [[...]], "edges": [[i, j]]}), not vectors"#),
            ("{\"nodes\": " + "[" + Array(repeating: "[1, 2, 3]", count: 51).joined(separator: ",") + "], \"t\": 1}", 422, "samples[0].nodes: 51 nodes, more than the limit of 50"),
        ]
        for (sample, status, message) in cases {
            let response = try curl(["-X", "POST", "\(server.url)/gradients", "-d", #"{"samples": ["# + sample + "]}"])
            #expect(response.status == status, "\(sample)")
            #expect(try decode(response.body) { try ErrorResponse(reading: &$0) }.message == message)
        }
        #expect(try curl(["\(server.url)/health"]).body == #"{"status":"ok","version":0}"#)
    }
}
