import Foundation
@testable import Model

/// An independent Float64 GCN with dense matrices: a graph's Â is built as an n x n matrix,
/// and a batch is one block-diagonal graph with a readout per block, the way graph libraries
/// batch graphs. Written from the formulas, not from the library's sparse code.
struct ReferenceGCN {
    let widths: [Int]
    let readout: GCN.Readout
    /// W1, b1, ..., WL, bL, w, c as in the library's layout, in Float64.
    var flat: [Double]

    init(_ parameters: TensorSet, widths: [Int], readout: GCN.Readout) {
        self.widths = widths
        self.readout = readout
        flat = parameters.storage.map(Double.init)
    }

    typealias Matrix = [[Double]]

    /// Slices of `flat`: (Wk as [in][out], bk) per layer, then (w, c).
    private func unpack() -> (layers: [(W: Matrix, b: [Double])], w: [Double], c: Double) {
        var rest = flat[...]
        func take(_ n: Int) -> [Double] { defer { rest = rest.dropFirst(n) }; return Array(rest.prefix(n)) }
        var layers: [(Matrix, [Double])] = []
        for k in 1..<widths.count {
            let values = take(widths[k - 1] * widths[k])
            let W = (0..<widths[k - 1]).map { i in Array(values[(i * widths[k])..<((i + 1) * widths[k])]) }
            layers.append((W, take(widths[k])))
        }
        let w = take(widths.last!)
        return (layers, w, take(1)[0])
    }

    /// The disjoint union of `graphs`: node features, dense Â, and each node's graph.
    static func union(_ graphs: [Graph]) -> (X: Matrix, A: Matrix, owner: [Int]) {
        let total = graphs.map(\.nodeCount).reduce(0, +)
        var X: Matrix = [], owner: [Int] = []
        var A = Matrix(repeating: [Double](repeating: 0, count: total), count: total)
        var base = 0
        for (g, graph) in graphs.enumerated() {
            var adjacency = Matrix(repeating: [Double](repeating: 0, count: graph.nodeCount), count: graph.nodeCount)
            for i in 0..<graph.nodeCount { adjacency[i][i] = 1 }
            for edge in graph.edges { adjacency[edge.a][edge.b] = 1; adjacency[edge.b][edge.a] = 1 }
            let degree = adjacency.map { $0.reduce(0, +) }
            for i in 0..<graph.nodeCount {
                X.append(graph.features[(i * graph.featureCount)..<((i + 1) * graph.featureCount)].map(Double.init))
                owner.append(g)
                for j in 0..<graph.nodeCount where adjacency[i][j] != 0 {
                    A[base + i][base + j] = 1 / (degree[i] * degree[j]).squareRoot()
                }
            }
            base += graph.nodeCount
        }
        return (X, A, owner)
    }

    static func multiply(_ a: Matrix, _ b: Matrix) -> Matrix {
        a.map { row in (0..<b[0].count).map { j in zip(row, b).reduce(0) { $0 + $1.0 * $1.1[j] } } }
    }

    static func transpose(_ a: Matrix) -> Matrix {
        guard let first = a.first else { return [] }
        return (0..<first.count).map { j in a.map { $0[j] } }
    }

    /// Outputs of each graph.
    func outputs(_ graphs: [Graph]) -> [Double] {
        forward(graphs).y
    }

    func meanLoss(_ graphs: [Graph], _ targets: [Double]) -> Double {
        zip(outputs(graphs), targets).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Double(graphs.count)
    }

    private func forward(_ graphs: [Graph]) -> (H: [Matrix], A: Matrix, owner: [Int], R: Matrix, y: [Double]) {
        let (X, A, owner) = Self.union(graphs)
        let (layers, w, c) = unpack()
        var H = [X]
        for (W, b) in layers {
            let Z = Self.multiply(A, Self.multiply(H.last!, W))
            H.append(Z.map { row in zip(row, b).map { tanh($0 + $1) } })
        }
        let counts = graphs.map { Double($0.nodeCount) }
        var R = Matrix(repeating: [Double](repeating: 0, count: widths.last!), count: graphs.count)
        for (i, row) in H.last!.enumerated() {
            let weight = readout == .mean ? 1 / counts[owner[i]] : 1
            for j in row.indices { R[owner[i]][j] += weight * row[j] }
        }
        let y = R.map { zip($0, w).reduce(c) { $0 + $1.0 * $1.1 } }
        return (H, A, owner, R, y)
    }

    /// Gradient of the mean loss over all graphs, by backprop over the block-diagonal batch.
    func meanLossGradient(_ graphs: [Graph], _ targets: [Double]) -> [Double] {
        let (H, A, owner, R, y) = forward(graphs)
        let (layers, w, _) = unpack()
        let G = Double(graphs.count)
        let dy = zip(y, targets).map { 2 * ($0 - $1) / G }
        let dw = (0..<w.count).map { j in zip(R, dy).reduce(0) { $0 + $1.0[j] * $1.1 } }
        let dc = dy.reduce(0, +)
        var dH: Matrix = H.last!.indices.map { i in
            let weight = readout == .mean ? 1 / Double(graphs[owner[i]].nodeCount) : 1
            return w.map { weight * dy[owner[i]] * $0 }
        }
        var gradients: [(dW: Matrix, db: [Double])] = []
        for k in stride(from: layers.count, through: 1, by: -1) {
            let dZ = zip(dH, H[k]).map { zip($0, $1).map { $0 * (1 - $1 * $1) } }
            let db = (0..<widths[k]).map { j in dZ.reduce(0) { $0 + $1[j] } }
            let dM = Self.multiply(Self.transpose(A), dZ)
            let dW = Self.multiply(Self.transpose(H[k - 1]), dM)
            dH = Self.multiply(dM, Self.transpose(layers[k - 1].W))
            gradients.insert((dW, db), at: 0)
        }
        return gradients.flatMap { $0.dW.flatMap { $0 } + $0.db } + dw + [dc]
    }
}

/// Small graphs of known shapes with seeded features.
enum TestGraphs {
    static func make(nodes: Int, edges: [(Int, Int)], features: Int, generator: inout SeededGenerator) -> Graph {
        let values = (0..<(nodes * features)).map { _ in Float.random(in: -1..<1, using: &generator) }
        return try! Graph(nodeCount: nodes, featureCount: features, features: values, edges: edges.map { Graph.Edge($0.0, $0.1) })
    }

    static func path(_ n: Int) -> [(Int, Int)] { (0..<(n - 1)).map { ($0, $0 + 1) } }
    static func ring(_ n: Int) -> [(Int, Int)] { path(n) + [(n - 1, 0)] }

    static func random(_ n: Int, probability: Double, generator: inout SeededGenerator) -> [(Int, Int)] {
        var edges: [(Int, Int)] = []
        for i in 0..<n {
            for j in (i + 1)..<n where Double.random(in: 0..<1, using: &generator) < probability { edges.append((i, j)) }
        }
        return edges
    }
}
