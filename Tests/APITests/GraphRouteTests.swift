import Model
import Testing
import Wire
@testable import API

/// `--model gcn`: the same routes with graph samples.
@Suite struct GraphRouteTests {
    static func app() throws -> InProcessApp {
        try InProcessApp { $0.network = .gcn(features: 3, hidden: [4, 4], readout: .sum, maxNodes: 50, maxEdges: 100) }
    }

    @Test func gradientsOfGraphsOfDifferentSizesMatchTheModelLibrary() throws {
        let app = try Self.app()
        let model = app("GET", "/model").text
        #expect(model.contains(#""model":"gcn","layers":[3,4,4],"readout":"sum""#))
        #expect(model.contains(#"{"name":"W3","shape":[4]},{"name":"b3","shape":[1]}"#))
        let body = #"""
        {"samples": [
          {"nodes": [[1, 0, 0.5]], "edges": [], "t": 0.25},
          {"nodes": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "edges": [[0, 1], [1, 2]], "t": 1.5, "smiles": "CCO"},
          {"nodes": [[0.5, 0.5, 0], [0, 1, 1], [1, 1, 0], [0, 0, 0]], "edges": [[0, 1], [1, 2], [2, 3], [3, 0]], "t": -0.5}
        ]}
        """#
        let answer = try app("POST", "/gradients", body).decode { try GradientsResponse(reading: &$0) }
        let gcn = try GCN(features: 3, hidden: [4, 4], readout: .sum)
        let parameters = try TensorSet(layout: gcn.layout, tensors: try app("GET", "/params").decode { try ParamsResponse(reading: &$0) }.parameters)
        let samples = try JSONReader.read(Array(body.utf8)) { try GradientsRequest(reading: &$0, sampleLimit: 10).samples }
        let expected = try gcn.gradients(of: samples, parameters: parameters)
        #expect(answer.results.count == 3)
        // Bit equality by construction: the same code path on the same inputs.
        for (i, result) in answer.results.enumerated() {
            #expect(result.loss == expected.results.losses[i])
            #expect(try TensorSet(layout: gcn.layout, tensors: result.gradients) == expected.gradient(i))
        }
        let outputs = try app("POST", "/forward", body).decode { try ForwardResponse(reading: &$0) }.outputs
        #expect(outputs == (try gcn.outputs(for: samples.map(\.input), parameters: parameters)))
        #expect(app("POST", "/apply", json { TensorsRequest(tensors: expected.mean().namedTensors, version: 0).encode(to: &$0, field: "gradients", format: .b64) }).text.hasPrefix(#"{"version":1,"digest":"#))
    }

    /// The compact form of a graph's nodes (a tensor of shape [N, F]) is decoded without parsing
    /// numbers: the server must answer exactly as for rows of numbers, and refuse a wrong shape.
    @Test func compactNodesAreAnsweredLikeRowsOfNumbers() throws {
        let app = try Self.app()
        let graphs = [
            try Graph(nodeCount: 1, featureCount: 3, features: [1, 0, 0.5], edges: []),
            try Graph(nodeCount: 6, featureCount: 3, features: (0..<18).map { Float($0 % 5) * 0.37 - 0.6 },
                      edges: [Graph.Edge(0, 1), Graph.Edge(1, 2), Graph.Edge(2, 5), Graph.Edge(3, 4)]),
        ]
        let samples = graphs.enumerated().map { Sample(.graph($1), target: .number(Float($0) - 0.25)) }
        func body(_ format: TensorFormat) -> String {
            var writer = JSONWriter()
            GradientsRequest(samples: [], tensorFormat: .b64).encode(samples.map { EncodedSample($0, format: format) }, to: &writer)
            return String(decoding: writer.bytes, as: UTF8.self)
        }
        #expect(body(.b64).contains(#""nodes":{"shape":[6,3],"dtype":"float32","b64":"#))
        // Bit equality by construction: the same floats reach the same code.
        #expect(app("POST", "/gradients", body(.b64)).text == app("POST", "/gradients", body(.numbers)).text)
        #expect(app("POST", "/gradients", body(.numbers)).status.code == 200)
        let wrong = app("POST", "/gradients", #"{"samples": [{"nodes": {"shape": [1, 2], "data": [1, 0]}, "edges": [], "t": 1}]}"#)
        #expect(wrong.status.code == 422)
        #expect(wrong.error?.message == "samples[0].nodes: expected 3 features per node, got 2")
        let flat = app("POST", "/gradients", #"{"samples": [{"nodes": {"shape": [3], "data": [1, 0, 0]}, "edges": [], "t": 1}]}"#)
        #expect(flat.status.code == 422)
        #expect(flat.error?.message == "samples[0].nodes: expected a tensor of shape [N, F], got shape [3]")
        #expect(app("GET", "/health").text.hasPrefix(#"{"status":"ok","version":0,"digest":"#))
    }

    @Test(arguments: [
        (#"{"nodes": [], "edges": [], "t": 1}"#, 422, "samples[0].nodes: a graph needs at least one node"),
        (#"{"nodes": [[1, 2, 3]], "edges": [[0, 1]], "t": 1}"#, 422, "samples[0].edges[0]: [0, 1] names a node outside 0..<1"),
        (#"{"nodes": [[1, 2, 3], [1, 2, 3]], "edges": [[1, 1]], "t": 1}"#, 422, "samples[0].edges[0]: self-loop [1, 1]; self-loops are implied (Â = A + I) and must not be listed"),
        (#"{"nodes": [[1, 2, 3], [1, 2, 3]], "edges": [[0, 1], [1, 0]], "t": 1}"#, 422, "samples[0].edges[1]: [1, 0] repeats an earlier edge; list each undirected edge once"),
        (#"{"nodes": [[1, 2], [1, 2]], "edges": [], "t": 1}"#, 422, "samples[0].nodes: expected 3 features per node, got 2"),
        (#"{"nodes": [[1, 2, 3], [1, 2]], "edges": [], "t": 1}"#, 422, "samples[0].nodes[1]: expected 3 features like nodes[0], got 2"),
        (#"{"nodes": [[1, 2, 3]], "edges": [[0]], "t": 1}"#, 400, "samples[0].edges[0]: an edge is a pair [i, j] of node indices"),
        (#"{"nodes": [[1, 2, 3]], "edges": [[0, -1]], "t": 1}"#, 400, "samples[0].edges[0][1]: expected an integer in 0...2147483647, got -1"),
        (#"{"x": [1, 2, 3], "t": 1}"#, 422, "samples[0].x: this gcn reads graphs (node features and edges), not vectors"),
        ("{\"nodes\": [" + Array(repeating: "[1, 2, 3]", count: 51).joined(separator: ",") + "], \"t\": 1}", 422, "samples[0].nodes: 51 nodes, more than the limit of 50"),
    ])
    func badGraphsGetTheirStatusNamingTheProblem(sample: String, status: Int, message: String) throws {
        let app = try Self.app()
        let response = app("POST", "/gradients", #"{"samples": [\#(sample)]}"#)
        #expect(response.status.code == status)
        #expect(response.error?.message == message)
        #expect(app("GET", "/health").text.hasPrefix(#"{"status":"ok","version":0,"digest":"#))
    }
}
