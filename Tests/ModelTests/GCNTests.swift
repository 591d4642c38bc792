import Testing
@testable import Model

@Suite struct GCNTests {
    static let features = 5

    static func graphs() -> [(name: String, graph: Graph)] {
        var generator = SeededGenerator(seed: 17)
        return [
            ("one node", TestGraphs.make(nodes: 1, edges: [], features: features, generator: &generator)),
            ("path of 6", TestGraphs.make(nodes: 6, edges: TestGraphs.path(6), features: features, generator: &generator)),
            ("ring of 7", TestGraphs.make(nodes: 7, edges: TestGraphs.ring(7), features: features, generator: &generator)),
            ("random 30", TestGraphs.make(nodes: 30, edges: TestGraphs.random(30, probability: 0.12, generator: &generator),
                                          features: features, generator: &generator)),
        ]
    }

    @Test(arguments: GCN.Readout.allCases)
    func analyticGradientMatchesFloat64CentralDifferences(readout: GCN.Readout) throws {
        let gcn = try GCN(features: Self.features, hidden: [4, 3], readout: readout)
        let parameters = gcn.makeParameters(.glorot, seed: 4)
        for (name, graph) in Self.graphs() {
            let target: Float = 0.7
            let analytic = try gcn.gradients(of: [Sample(.graph(graph), target: target)], parameters: parameters).gradient(0)
            var reference = ReferenceGCN(parameters, widths: [Self.features, 4, 3], readout: readout)
            // The library's sparse propagation multiplies sᵢ (sⱼ mⱼ) where the reference forms
            // (sᵢ sⱼ) mⱼ: the same roundings regrouped, covered by a slack of 2.
            expectMatchesCentralDifferences(analytic, bounds: reference.meanLossGradient([graph], [target]), slack: 2,
                                            at: reference.flat, "\(name), ") { moved in
                reference.flat = moved
                return reference.meanLoss([graph], [target])
            }
            #expect(analytic.storage.contains { abs($0) > 1e-3 }, "\(name): a real gradient")
        }
    }

    @Test(arguments: GCN.Readout.allCases)
    func meanOfPerSampleGradientsEqualsOnePassOverTheDisjointUnion(readout: GCN.Readout) throws {
        let gcn = try GCN(features: Self.features, hidden: [6, 4], readout: readout)
        let parameters = gcn.makeParameters(.glorot, seed: 8)
        let graphs = Self.graphs().map(\.graph)
        let targets: [Float] = [0.3, -0.2, 1.1, 0.5]
        let samples = zip(graphs, targets).map { Sample(.graph($0), target: $1) }
        let mean = try gcn.gradients(of: samples, parameters: parameters).mean()
        let union = ReferenceGCN(parameters, widths: [Self.features, 6, 4], readout: readout)
            .meanLossGradient(graphs, targets)
        #expect(union.count == gcn.layout.count)
        // Slack 2: the library regroups the propagation's products (see the gradient check).
        expectWithinRounding(mean.storage, union, slack: 2) { "flat index \($0)" }
    }

    /// `gradientSum` adds the graphs' gradients one after another into one sum: it stays within
    /// the bound of the reference's sum (any order of every sum over nodes and graphs), and each
    /// graph's output and loss are those its per-sample gradient comes with.
    @Test(arguments: GCN.Readout.allCases)
    func theSumAgreesWithTheReference(readout: GCN.Readout) throws {
        let gcn = try GCN(features: Self.features, hidden: [6, 3], readout: readout)
        let parameters = gcn.makeParameters(.glorot, seed: 5)
        var generator = SeededGenerator(seed: 23)
        let graphs = (0..<24).map { _ in
            let n = Int.random(in: 1...20, using: &generator)
            return TestGraphs.make(nodes: n, edges: TestGraphs.random(n, probability: 0.15, generator: &generator), features: Self.features,
                                   generator: &generator)
        }
        let targets = graphs.indices.map { _ in Float.random(in: -1..<1, using: &generator) }
        let samples = zip(graphs, targets).map { Sample(.graph($0), target: $1) }
        let (results, sum) = try gcn.gradientSum(of: samples, parameters: parameters)
        let reference = ReferenceGCN(parameters, widths: [Self.features, 6, 3], readout: readout)
        // Slack 2: the library regroups the propagation's products (see the gradient check).
        expectWithinRounding(sum.storage, reference.lossGradientSum(graphs, targets), slack: 2) { "sum, flat index \($0)" }
        let perSample = try gcn.gradients(of: samples, parameters: parameters)
        #expect(results.outputs == perSample.results.outputs)
        #expect(results.losses == perSample.results.losses)
    }

    @Test func renumberingNodesChangesNeitherOutputNorGradients() throws {
        let gcn = try GCN(features: Self.features, hidden: [8, 8], readout: .sum)
        let parameters = gcn.makeParameters(.glorot, seed: 2)
        var generator = SeededGenerator(seed: 99)
        let graph = Self.graphs()[3].graph
        let permutation = Array(0..<graph.nodeCount).shuffled(using: &generator)
        var features = [Float](repeating: 0, count: graph.features.count)
        for old in 0..<graph.nodeCount {
            let new = permutation[old]
            for c in 0..<graph.featureCount {
                features[new * graph.featureCount + c] = graph.features[old * graph.featureCount + c]
            }
        }
        let renumbered = try Graph(nodeCount: graph.nodeCount, featureCount: graph.featureCount, features: features,
                                   edges: graph.edges.reversed().map { Graph.Edge(permutation[$0.b], permutation[$0.a]) })
        let original = try gcn.gradients(of: [Sample(.graph(graph), target: 0.4)], parameters: parameters)
        let permuted = try gcn.gradients(of: [Sample(.graph(renumbered), target: 0.4)], parameters: parameters)
        // Renumbering changes the order of every sum over nodes, so the two Float32 results may
        // differ from each other, but each stays within its rounding bound of the exact value.
        let reference = ReferenceGCN(parameters, widths: [Self.features, 8, 8], readout: .sum)
        let output = reference.outputs([graph])
        expectWithinRounding([original.results.outputs[0], permuted.results.outputs[0]], output + output, slack: 2) { "output \($0)" }
        let gradient = reference.meanLossGradient([graph], [0.4])
        expectWithinRounding(original.storage, gradient, slack: 2) { "original, flat index \($0)" }
        expectWithinRounding(permuted.storage, gradient, slack: 2) { "renumbered, flat index \($0)" }
    }

    @Test func badGraphsAreNamed() throws {
        let gcn = try GCN(features: 2, hidden: [3], maxNodes: 4, maxEdges: 3)
        let parameters = gcn.makeParameters(.glorot, seed: 1)
        func check(_ nodes: Int, _ width: Int, _ edges: [(Int, Int)], _ expected: ModelError) throws {
            let graph = try Graph(nodeCount: nodes, featureCount: width, features: [Float](repeating: 0.5, count: nodes * width),
                                  edges: edges.map { Graph.Edge($0.0, $0.1) })
            #expect(throws: expected) { try gcn.gradients(of: [Sample(.graph(graph), target: 1)], parameters: parameters) }
        }
        try check(0, 0, [], .invalidGraph("samples[0].input.nodes: a graph needs at least one node"))
        try check(5, 2, [], .invalidGraph("samples[0].input.nodes: 5 nodes, more than the limit of 4"))
        try check(3, 3, [], .shapeMismatch("samples[0].input.nodes: expected 2 features per node, got 3"))
        try check(3, 2, [(0, 3)], .invalidGraph("samples[0].input.edges[0]: [0, 3] names a node outside 0..<3"))
        try check(3, 2, [(1, 1)], .invalidGraph("samples[0].input.edges[0]: self-loop [1, 1]; self-loops are implied (Â = A + I) and must not be listed"))
        try check(3, 2, [(0, 1), (1, 0)], .invalidGraph("samples[0].input.edges[1]: [1, 0] repeats an earlier edge; list each undirected edge once"))
        // Several faults: the first edge at fault is named, whatever its fault.
        try check(3, 2, [(0, 1), (1, 0), (0, 5)], .invalidGraph("samples[0].input.edges[1]: [1, 0] repeats an earlier edge; list each undirected edge once"))
        try check(3, 2, [(0, 5), (0, 1), (1, 0)], .invalidGraph("samples[0].input.edges[0]: [0, 5] names a node outside 0..<3"))
        try check(4, 2, [(2, 3), (0, 1), (3, 2)], .invalidGraph("samples[0].input.edges[2]: [3, 2] repeats an earlier edge; list each undirected edge once"))
        try check(4, 2, [(0, 1), (1, 2), (2, 3), (3, 0)], .invalidGraph("samples[0].input.edges: 4 edges, more than the limit of 3"))
        #expect(throws: ModelError.self) { try gcn.gradients(of: [Sample(x: [1, 2], t: 1)], parameters: parameters) }
    }

    @Test func parameterNamesFollowTheDenseScheme() throws {
        let gcn = try GCN(features: 23, hidden: [64, 64])
        #expect(gcn.layout.names == ["W1", "b1", "W2", "b2", "W3", "b3"])
        #expect(gcn.layout.entries.map(\.shape) == [[23, 64], [64], [64, 64], [64], [64], [1]])
    }
}
