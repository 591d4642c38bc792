@testable import Model

/// An independent GCN with dense matrices: a graph's Â is built as an n x n matrix, and a batch
/// is one block-diagonal graph with a readout per block, the way graph libraries batch graphs.
/// Written from the formulas, not from the library's sparse code. It computes in Float64 and
/// carries each value's Float32 rounding bound (`Rounded`).
struct ReferenceGCN {
    let widths: [Int]
    let readout: GCN.Readout
    let options: NetworkOptions
    /// W1, b1, ..., WL, bL, then the output layer, as in the library's layout, in Float64.
    var flat: [Double]

    init(_ parameters: TensorSet, widths: [Int], readout: GCN.Readout, options: NetworkOptions = GCN.defaultOptions) {
        self.widths = widths
        self.readout = readout
        self.options = options
        flat = parameters.storage.map(Double.init)
    }

    typealias Matrix = [[Rounded]]

    /// Slices of `flat`: (Wk as [in][out], bk) per layer, then the output layer's W (K rows) and b.
    private func unpack() -> (layers: [(W: Matrix, b: [Rounded])], w: Matrix, c: [Rounded]?) {
        var rest = flat.map { Rounded($0) }[...]
        func take(_ n: Int) -> [Rounded] { defer { rest = rest.dropFirst(n) }; return Array(rest.prefix(n)) }
        func rows(_ r: Int, _ c: Int) -> Matrix { let v = take(r * c); return (0..<r).map { Array(v[($0 * c)..<(($0 + 1) * c)]) } }
        var layers: [(Matrix, [Rounded])] = []
        for k in 1..<widths.count {
            let W = rows(widths[k - 1], widths[k])
            layers.append((W, take(widths[k])))
        }
        let w = rows(options.outputs, widths.last!)
        return (layers, w, options.outputBias ? take(options.outputs) : nil)
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

    /// Outputs of each graph (K each, one after the other).
    func outputs(_ graphs: [Graph]) -> [Rounded] {
        forward(graphs).y.flatMap { $0 }
    }

    func meanLoss(_ graphs: [Graph], _ targets: [Float]) -> Rounded { meanLoss(graphs, targets.map(Target.number)) }

    func meanLoss(_ graphs: [Graph], _ targets: [Target]) -> Rounded {
        Rounded.sum(zip(forward(graphs).y, targets).map { ReferenceHead.loss($0, $1, options.loss).value }) / Rounded(Double(graphs.count))
    }

    private func forward(_ graphs: [Graph]) -> (Z: [Matrix], H: [Matrix], A: Matrix, owner: [Int], R: Matrix, y: [[Rounded]]) {
        let (X, A, owner) = Self.union(graphs)
        let (layers, w, c) = unpack()
        var H = [X], Z: [Matrix] = [[]]
        for (W, b) in layers {
            let M = Self.multiply(A, Self.multiply(H.last!, W))
            Z.append(M.map { row in zip(row, b).map { $0 + $1 } })
            H.append(Z.last!.map { row in row.map { ReferenceHead.activate($0, options.activation) } })
        }
        // Readout: the sum (or mean) of each graph's node rows.
        let R: Matrix = graphs.indices.map { g in
            let rows = H.last!.indices.filter { owner[$0] == g }.map { H.last![$0] }
            return (0..<widths.last!).map { j in
                let total = Rounded.sum(rows.map { $0[j] })
                return readout == .mean ? total / Rounded(Double(rows.count)) : total
            }
        }
        let y = R.map { ReferenceHead.output(w, c, $0) }
        return (Z, H, A, owner, R, y)
    }

    func meanLossGradient(_ graphs: [Graph], _ targets: [Float]) -> [Rounded] { meanLossGradient(graphs, targets.map(Target.number)) }

    /// Gradient of the mean loss over all graphs, by backprop over the block-diagonal batch.
    func meanLossGradient(_ graphs: [Graph], _ targets: [Target]) -> [Rounded] {
        lossGradient(graphs, targets, dividedBy: Rounded(Double(graphs.count)))
    }

    /// Gradient of the summed loss over all graphs: each of its sums over nodes and graphs carries
    /// the bound of a sum in any order, so it covers a sum made graph by graph or over the union.
    func lossGradientSum(_ graphs: [Graph], _ targets: [Float]) -> [Rounded] {
        lossGradient(graphs, targets.map(Target.number), dividedBy: nil)
    }

    private func lossGradient(_ graphs: [Graph], _ targets: [Target], dividedBy G: Rounded?) -> [Rounded] {
        let (Z, H, A, owner, R, y) = forward(graphs)
        let (layers, w, _) = unpack()
        let dy = zip(y, targets).map { ReferenceHead.loss($0, $1, options.loss).dy.map { v in G.map { v / $0 } ?? v } }
        let k = options.outputs
        let dw = (0..<k).flatMap { o in (0..<widths.last!).map { j in Rounded.sum(zip(R, dy).map { $0[j] * $1[o] }) } }
        let dc = (0..<k).map { o in Rounded.sum(dy.map { $0[o] }) }
        var dH: Matrix = H.last!.indices.map { i in
            let scaled = dy[owner[i]].map { readout == .mean ? $0 / Rounded(Double(graphs[owner[i]].nodeCount)) : $0 }
            return (0..<widths.last!).map { j in Rounded.sum((0..<k).map { w[$0][j] * scaled[$0] }) }
        }
        var gradients: [(dW: Matrix, db: [Rounded])] = []
        for l in stride(from: layers.count, through: 1, by: -1) {
            let dZ = dH.indices.map { i in dH[i].indices.map { j in dH[i][j] * ReferenceHead.derivative(Z[l][i][j], H[l][i][j], options.activation) } }
            let db = (0..<widths[l]).map { j in Rounded.sum(dZ.map { $0[j] }) }
            let dM = Self.multiply(Self.transpose(A), dZ)
            let dW = Self.multiply(Self.transpose(H[l - 1]), dM)
            dH = Self.multiply(dM, Self.transpose(layers[l - 1].W))
            gradients.insert((dW, db), at: 0)
        }
        return gradients.flatMap { $0.dW.flatMap { $0 } + $0.db } + dw + (options.outputBias ? dc : [])
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
