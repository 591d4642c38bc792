#if canImport(Glibc)
import Glibc
#endif
import CSIMD

/// A graph convolutional network (Kipf & Welling, 2017):
///
///     H0 = X                                  (n x F, n varies per sample)
///     Hk = f(Â H(k-1) Wk + bk)                Â = D^-1/2 (A + I) D^-1/2, f the activation (tanh by default)
///     y  = W(L+1) readout(HL) (+ b(L+1))      readout = sum or mean over nodes; K outputs
///     loss = the options' loss of y and t
///
/// Parameters are W1, b1, ..., WL, bL for the graph layers (Wk is [in, out], as in H W),
/// then the output layer (W(L+1) is [HL] when K = 1, else [K, HL]). The defaults (tanh, K = 1,
/// squared error, with the output bias c = b(L+1)) are the molecules' network. Propagation is
/// sparse: the cost grows with nodes and edges, never with nodes squared.
public struct GCN: Network {
    public enum Readout: String, Sendable, CaseIterable {
        case sum
        case mean
    }

    /// The options a graph network has unless told otherwise: those of the molecules' network.
    public static let defaultOptions = NetworkOptions(outputBias: true)

    public let featureCount: Int
    public let hidden: [Int]
    public let readout: Readout
    public let maxNodes: Int
    public let maxEdges: Int
    public let options: NetworkOptions
    public let layout: ParameterLayout
    public var kind: String { "gcn" }
    /// [F, H1, ..., HL]
    private let widths: [Int]
    private let maxWidth: Int
    private let output: OutputLayer

    public init(features: Int, hidden: [Int], readout: Readout = .sum, maxNodes: Int = 10_000, maxEdges: Int = 100_000,
                options: NetworkOptions = GCN.defaultOptions) throws(ModelError) {
        guard (1...65_536).contains(features), !hidden.isEmpty, hidden.count <= 16, hidden.allSatisfy({ (1...65_536).contains($0) }) else {
            throw .invalidConfiguration("features, hidden: expected a feature count and 1 to 16 hidden widths each in 1...65536, got \(features) and \(hidden)")
        }
        guard maxNodes >= 1, maxEdges >= 0 else {
            throw .invalidConfiguration("max-nodes, max-edges: expected at least 1 and 0, got \(maxNodes) and \(maxEdges)")
        }
        try options.validate()
        featureCount = features
        self.hidden = hidden
        self.readout = readout
        self.maxNodes = maxNodes
        self.maxEdges = maxEdges
        self.options = options
        widths = [features] + hidden
        maxWidth = widths.max()!
        var specs: [(name: String, shape: [Int])] = []
        for k in 1...hidden.count {
            specs.append(("W\(k)", [widths[k - 1], widths[k]]))
            specs.append(("b\(k)", [widths[k]]))
        }
        specs += OutputLayer.specs(index: hidden.count + 1, width: hidden.last!, options: options)
        layout = ParameterLayout(specs)
        output = OutputLayer(width: hidden.last!, options: options, layout: layout, first: 2 * hidden.count)
        BLAS.configure()
    }

    private var layerCount: Int { hidden.count }

    public func makeParameters(_ initialization: Initialization, seed: UInt64) -> TensorSet {
        initialization.makeParameters(layout, seed: seed) { entry in
            guard entry.name.hasPrefix("W") else { return nil }
            // Graph layers' Wk is [in, out]; the output layer's W is [HL] when K = 1, else [K, HL].
            if entry.shape.count == 1 { return (entry.shape[0], 1) }
            return entry.name == "W\(layerCount + 1)" ? (entry.shape[1], entry.shape[0]) : (entry.shape[0], entry.shape[1])
        }
    }

    public func validate(_ input: Input) throws(ModelError) {
        guard case .graph(let graph) = input else {
            throw .shapeMismatch("input: this gcn reads graphs (node features and edges), not vectors")
        }
        let n = graph.nodeCount
        guard n >= 1 else { throw .invalidGraph("input.nodes: a graph needs at least one node") }
        guard n <= maxNodes else { throw .invalidGraph("input.nodes: \(n) nodes, more than the limit of \(maxNodes)") }
        guard graph.featureCount == featureCount else {
            throw .shapeMismatch("input.nodes: expected \(featureCount) features per node, got \(graph.featureCount)")
        }
        if let bad = graph.features.firstIndex(where: { !$0.isFinite }) {
            throw .nonFinite("input.nodes[\(bad / featureCount)][\(bad % featureCount)]: \(graph.features[bad]) is not finite")
        }
        guard graph.edges.count <= maxEdges else {
            throw .invalidGraph("input.edges: \(graph.edges.count) edges, more than the limit of \(maxEdges)")
        }
        // The fast pass: every edge valid, and no repeat among the sorted keys min · n + max (a set's
        // hashing cost more than the rest of the check). Anything wrong, and the edges are checked
        // again one by one, so that the error names the first edge at fault.
        var keys = [Int]()
        keys.reserveCapacity(graph.edges.count)
        for edge in graph.edges {
            guard (0..<n).contains(edge.a), (0..<n).contains(edge.b), edge.a != edge.b else { return try checkEdgesOneByOne(graph) }
            keys.append(min(edge.a, edge.b) * n + max(edge.a, edge.b))
        }
        keys.sort()
        if zip(keys, keys.dropFirst()).contains(where: ==) { try checkEdgesOneByOne(graph) }
    }

    private func checkEdgesOneByOne(_ graph: Graph) throws(ModelError) {
        let n = graph.nodeCount
        var seen = Set<Int>(minimumCapacity: graph.edges.count)
        for (index, edge) in graph.edges.enumerated() {
            guard (0..<n).contains(edge.a), (0..<n).contains(edge.b) else {
                throw .invalidGraph("input.edges[\(index)]: [\(edge.a), \(edge.b)] names a node outside 0..<\(n)")
            }
            guard edge.a != edge.b else {
                throw .invalidGraph("input.edges[\(index)]: self-loop [\(edge.a), \(edge.b)]; self-loops are implied (Â = A + I) and must not be listed")
            }
            guard seen.insert(min(edge.a, edge.b) * n + max(edge.a, edge.b)).inserted else {
                throw .invalidGraph("input.edges[\(index)]: [\(edge.a), \(edge.b)] repeats an earlier edge; list each undirected edge once")
            }
        }
    }

    public func output(for input: Input, parameters: TensorSet, into outputs: UnsafeMutablePointer<Float>, scratch: Scratch) {
        guard case .graph(let graph) = input else { preconditionFailure("validate(_:) first") }
        _ = parameters.storage.withUnsafeBufferPointer { p in
            graph.features.withUnsafeBufferPointer { x in
                forward(Propagation(graph, scratch), x.baseAddress!, p.baseAddress!, scratch, into: outputs)
            }
        }
    }

    /// Each sample's graph is its own: the samples run one by one, each into a zeroed row.
    public func writeGradients(
        of samples: [Sample], parameters: TensorSet,
        into gradients: UnsafeMutablePointer<Float>, outputs: UnsafeMutablePointer<Float>, scratch: Scratch
    ) throws(ModelError) -> [Float] {
        var losses: [Float] = []
        losses.reserveCapacity(samples.count)
        for (i, sample) in samples.enumerated() {
            let row = gradients + i * layout.count
            row.initialize(repeating: 0, count: layout.count)
            let loss = accumulateGradient(of: sample, parameters: parameters, into: row, outputs: outputs + i * outputCount, scratch: scratch)
            guard loss.isFinite, UnsafeBufferPointer(start: row, count: layout.count).allFinite else {
                throw .nonFinite("samples[\(i)]: the loss or its gradient overflows Float32 at these parameters")
            }
            losses.append(loss)
        }
        return losses
    }

    /// One sample after another, each adding its gradient into the sum.
    public func accumulateGradientSum(
        of samples: [Sample], parameters: TensorSet,
        into sum: UnsafeMutablePointer<Float>, outputs: UnsafeMutablePointer<Float>, scratch: Scratch
    ) -> [Float] {
        samples.indices.map { i in
            accumulateGradient(of: samples[i], parameters: parameters, into: sum, outputs: outputs + i * outputCount, scratch: scratch)
        }
    }

    /// The loss of a validated sample, writing its K outputs and adding d loss / d parameter
    /// into `gradient` (a vector of `layout.count` floats, laid out like the parameters).
    func accumulateGradient(
        of sample: Sample, parameters: TensorSet,
        into gradient: UnsafeMutablePointer<Float>, outputs y: UnsafeMutablePointer<Float>, scratch: Scratch
    ) -> Float {
        guard case .graph(let graph) = sample.input else { preconditionFailure("validate(_:) first") }
        return parameters.storage.withUnsafeBufferPointer { p in
            graph.features.withUnsafeBufferPointer { x in
                let propagation = Propagation(graph, scratch)
                let readoutVector = forward(propagation, x.baseAddress!, p.baseAddress!, scratch, into: y)
                let dy = scratch.floats(.outputGradient, count: options.outputs)
                let loss = options.loss.evaluate(y, count: options.outputs, target: sample.target, gradient: dy)
                backward(propagation, x.baseAddress!, readoutVector, dy: dy, p.baseAddress!, gradient, scratch)
                return loss
            }
        }
    }

    // MARK: Layers

    private func activations(_ k: Int, _ n: Int, _ scratch: Scratch) -> UnsafeMutablePointer<Float> {
        scratch.floats(.activations(layer: k), count: n * widths[k])
    }
    private func preactivations(_ k: Int, _ n: Int, _ scratch: Scratch) -> UnsafeMutablePointer<Float>? {
        options.activation.needsPreactivation ? scratch.floats(.preactivations(layer: k), count: n * widths[k]) : nil
    }

    /// Runs the graph layers, the readout and the output layer; returns the readout vector.
    private func forward(_ propagation: Propagation, _ x: UnsafePointer<Float>, _ p: UnsafePointer<Float>, _ scratch: Scratch,
                         into y: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        let n = propagation.nodeCount
        let product = scratch.floats(.product, count: n * maxWidth)
        var input = x
        for k in 1...layerCount {
            let (fin, fout) = (widths[k - 1], widths[k])
            let weights = p + layout.entries[2 * (k - 1)].offset
            let bias = p + layout.entries[2 * (k - 1) + 1].offset
            let h = activations(k, n, scratch)
            // M = H(k-1) Wk;  Hk = f(Â M + bk)
            BLAS.gemm(m: n, n: fout, k: fin, input, weights, beta: 0, product)
            propagation.apply(product, width: fout, into: h)
            // Row pointers, not h[i * fout + j]: an index computed in the loop is checked for
            // overflow on every element, which keeps the loop from vectorizing.
            for i in 0..<n {
                let row = h + i * fout
                for j in 0..<fout { row[j] += bias[j] }
            }
            options.activation.apply(h, count: n * fout, preactivation: preactivations(k, n, scratch))
            input = UnsafePointer(h)
        }
        // r = Σ_i HL[i] (or the mean);  y = W(L+1) r (+ b(L+1))
        let width = widths[layerCount]
        let r = scratch.floats(.readout, count: width)
        r.initialize(repeating: 0, count: width)
        for i in 0..<n { BLAS.axpy(width, alpha: 1, input + i * width, r) }
        if readout == .mean {
            for j in 0..<width { r[j] /= Float(n) }
        }
        output.forward(r, p, into: y)
        return r
    }

    private func backward(
        _ propagation: Propagation, _ x: UnsafePointer<Float>, _ r: UnsafeMutablePointer<Float>, dy: UnsafeMutablePointer<Float>,
        _ p: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ scratch: Scratch
    ) {
        let n = propagation.nodeCount, outputs = options.outputs
        let width = widths[layerCount]
        // dW(L+1) += dy rᵀ;  db(L+1) += dy
        output.accumulateWeightGradient(r, dy, into: d)
        // dHL[i] = W(L+1)ᵀ dy for every node (with dy / n for the mean readout)
        if readout == .mean {
            for k in 0..<outputs { dy[k] /= Float(n) }
        }
        let dr = scratch.floats(.readoutGradient, count: width)
        output.inputGradient(dy, p, into: dr)
        let dH = scratch.floats(.layerGradient(layer: 0), count: n * maxWidth)
        let dM = scratch.floats(.propagatedGradient, count: n * maxWidth)
        for i in 0..<n { (dH + i * width).update(from: dr, count: width) }
        for k in stride(from: layerCount, through: 1, by: -1) {
            let (fin, fout) = (widths[k - 1], widths[k])
            let h = activations(k, n, scratch)
            let input: UnsafePointer<Float> = k == 1 ? x : UnsafePointer(activations(k - 1, n, scratch))
            let weights = p + layout.entries[2 * (k - 1)].offset
            let dWeights = d + layout.entries[2 * (k - 1)].offset
            let dBias = d + layout.entries[2 * (k - 1) + 1].offset
            // dZ = dHk ⊙ f'(Zk);  dbk += Σ_i dZ[i]
            options.activation.backpropagate(dH, count: n * fout, activations: h,
                                             preactivations: preactivations(k, n, scratch))
            for i in 0..<n {
                let row = dH + i * fout
                for j in 0..<fout { dBias[j] += row[j] }
            }
            // dM = Âᵀ dZ = Â dZ (Â is symmetric);  dWk += H(k-1)ᵀ dM
            propagation.apply(dH, width: fout, into: dM)
            BLAS.gemmTransposedA(m: fin, n: fout, k: n, input, dM, beta: 1, dWeights)
            // dH(k-1) = dM Wkᵀ, over dZ, which is no longer needed
            if k > 1 {
                BLAS.gemmTransposedB(m: n, n: fin, k: fout, dM, weights, beta: 0, dH)
            }
        }
    }
}

/// Â = D^-1/2 (A + I) D^-1/2 for one graph, as neighbour lists (CSR) in scratch memory.
struct Propagation {
    let nodeCount: Int
    /// Neighbours of node i are `neighbours[start[i]..<start[i + 1]]`.
    let start: UnsafeMutablePointer<Int32>
    let neighbours: UnsafeMutablePointer<Int32>
    /// 1 / sqrt(degree), the degree counting the self-loop.
    let scale: UnsafeMutablePointer<Float>

    init(_ graph: Graph, _ scratch: Scratch) {
        let n = graph.nodeCount
        nodeCount = n
        start = scratch.ints(.rowStarts, count: n + 1)
        neighbours = scratch.ints(.neighbours, count: 2 * graph.edges.count)
        let fill = scratch.ints(.fill, count: n)
        scale = scratch.floats(.degreeScales, count: n)
        start.initialize(repeating: 0, count: n + 1)
        for edge in graph.edges {
            start[edge.a + 1] += 1
            start[edge.b + 1] += 1
        }
        for i in 0..<n { start[i + 1] += start[i] }
        fill.update(from: start, count: n)
        for edge in graph.edges {
            neighbours[Int(fill[edge.a])] = Int32(edge.b)
            fill[edge.a] += 1
            neighbours[Int(fill[edge.b])] = Int32(edge.a)
            fill[edge.b] += 1
        }
        for i in 0..<n { scale[i] = 1 / Float(1 + start[i + 1] - start[i]).squareRoot() }
    }

    /// out = Â m, for `m` of `nodeCount x width`:  out_i = s_i (s_i m_i + Σ_{j ∈ N(i)} s_j m_j)
    func apply(_ m: UnsafePointer<Float>, width: Int, into out: UnsafeMutablePointer<Float>) {
        #if arch(x86_64)
        // The same operations 8 at a time where the CPU has AVX2 (the same bits; CSIMD).
        if csimd_has_avx2() { return csimd_propagate_avx2(nodeCount, start, neighbours, scale, m, width, out) }
        #endif
        applyPortable(m, width: width, into: out)
    }

    /// `apply` in Swift's baseline vectors: where the CPU lacks AVX2, and the AVX2 kernel's reference in tests.
    func applyPortable(_ m: UnsafePointer<Float>, width: Int, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<nodeCount {
            let row = out + i * width
            let si = scale[i], own = m + i * width
            for c in 0..<width { row[c] = si * own[c] }
            for e in Int(start[i])..<Int(start[i + 1]) {
                let j = Int(neighbours[e])
                let sj = scale[j]
                let other = m + j * width
                for c in 0..<width { row[c] += sj * other[c] }
            }
            for c in 0..<width { row[c] *= si }
        }
    }
}
