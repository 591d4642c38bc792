@testable import Model

/// An independent GCN with dense matrices: a graph's Â is built as an n x n matrix, and a batch
/// is one block-diagonal graph with a readout per block, the way graph libraries batch graphs.
/// Written from the formulas, not from the library's sparse code. It computes in Float64 and
/// carries each value's Float32 rounding bound (`Rounded`).
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

    typealias Matrix = [[Rounded]]

    /// Slices of `flat`: (Wk as [in][out], bk) per layer, then (w, c).
    private func unpack() -> (layers: [(W: Matrix, b: [Rounded])], w: [Rounded], c: Rounded) {
        var rest = flat.map { Rounded($0) }[...]
        func take(_ n: Int) -> [Rounded] { defer { rest = rest.dropFirst(n) }; return Array(rest.prefix(n)) }
        var layers: [(Matrix, [Rounded])] = []
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
        var A = Matrix(repeating: [Rounded](repeating: 0, count: total), count: total)
        var base = 0
        for (g, graph) in graphs.enumerated() {
            var adjacency = [[Bool]](repeating: [Bool](repeating: false, count: graph.nodeCount), count: graph.nodeCount)
            for i in 0..<graph.nodeCount { adjacency[i][i] = true }
            for edge in graph.edges { adjacency[edge.a][edge.b] = true; adjacency[edge.b][edge.a] = true }
            // Âᵢⱼ = sᵢ sⱼ with sᵢ = 1/√dᵢ, the degree counting the self-loop.
            let s = adjacency.map { row in 1 / Rounded(Double(row.filter { $0 }.count)).squareRoot() }
            for i in 0..<graph.nodeCount {
                X.append(graph.features[(i * graph.featureCount)..<((i + 1) * graph.featureCount)].map(Rounded.init))
                owner.append(g)
                for j in 0..<graph.nodeCount where adjacency[i][j] {
                    A[base + i][base + j] = s[i] * s[j]
                }
            }
            base += graph.nodeCount
        }
        return (X, A, owner)
    }

    static func multiply(_ a: Matrix, _ b: Matrix) -> Matrix {
        a.map { row in (0..<b[0].count).map { j in Rounded.sum(zip(row, b).map { $0 * $1[j] }) } }
    }

    static func transpose(_ a: Matrix) -> Matrix {
        guard let first = a.first else { return [] }
        return (0..<first.count).map { j in a.map { $0[j] } }
    }

    /// Outputs of each graph.
    func outputs(_ graphs: [Graph]) -> [Rounded] {
        forward(graphs).y
    }

    func meanLoss(_ graphs: [Graph], _ targets: [Float]) -> Rounded {
        Rounded.sum(zip(outputs(graphs), targets).map { ($0 - Rounded($1)) * ($0 - Rounded($1)) }) / Rounded(Double(graphs.count))
    }

    private func forward(_ graphs: [Graph]) -> (H: [Matrix], A: Matrix, owner: [Int], R: Matrix, y: [Rounded]) {
        let (X, A, owner) = Self.union(graphs)
        let (layers, w, c) = unpack()
        var H = [X]
        for (W, b) in layers {
            let Z = Self.multiply(A, Self.multiply(H.last!, W))
            H.append(Z.map { row in zip(row, b).map { Rounded.tanh($0 + $1) } })
        }
        // Readout: the sum (or mean) of each graph's node rows.
        let R: Matrix = graphs.indices.map { g in
            let rows = H.last!.indices.filter { owner[$0] == g }.map { H.last![$0] }
            return (0..<widths.last!).map { j in
                let total = Rounded.sum(rows.map { $0[j] })
                return readout == .mean ? total / Rounded(Double(rows.count)) : total
            }
        }
        let y = R.map { Rounded.sum([c] + zip($0, w).map { $0 * $1 }) }
        return (H, A, owner, R, y)
    }

    /// Gradient of the mean loss over all graphs, by backprop over the block-diagonal batch.
    func meanLossGradient(_ graphs: [Graph], _ targets: [Float]) -> [Rounded] {
        let (H, A, owner, R, y) = forward(graphs)
        let (layers, w, _) = unpack()
        let G = Rounded(Double(graphs.count))
        let dy = zip(y, targets).map { 2 * ($0 - Rounded($1)) / G }
        let dw = (0..<w.count).map { j in Rounded.sum(zip(R, dy).map { $0[j] * $1 }) }
        let dc = Rounded.sum(dy)
        var dH: Matrix = H.last!.indices.map { i in
            let scaled = readout == .mean ? dy[owner[i]] / Rounded(Double(graphs[owner[i]].nodeCount)) : dy[owner[i]]
            return w.map { scaled * $0 }
        }
        var gradients: [(dW: Matrix, db: [Rounded])] = []
        for k in stride(from: layers.count, through: 1, by: -1) {
            let dZ = zip(dH, H[k]).map { zip($0, $1).map { $0 * (1 - $1 * $1) } }
            let db = (0..<widths[k]).map { j in Rounded.sum(dZ.map { $0[j] }) }
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
