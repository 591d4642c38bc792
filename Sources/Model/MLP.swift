/// A dense network of any depth:
///
///     a0 = x
///     al = f(Wl a(l-1) + bl)          l = 1 ... n, f the activation (tanh by default)
///     y  = W(n+1) an (+ b(n+1))       K outputs
///     loss = the options' loss of y and t
///
/// With the defaults (`--layers 3,3,3`: tanh, K = 1, squared error, no output bias) this is the
/// reference network: W1, b1, W2, b2 and W3 as a vector, loss = (W3 · h2 - t)².
public struct MLP: Network {
    /// The most hidden layers a network may have.
    public static let maxHiddenLayers = 16

    /// [D, H1, ..., Hn]
    public let layers: [Int]
    public let options: NetworkOptions
    public let layout: ParameterLayout
    public var kind: String { "mlp" }
    let output: OutputLayer

    /// `layers` is [D, H1, ..., Hn], as in `--layers 3,3,3`.
    public init(layers: [Int], options: NetworkOptions = NetworkOptions()) throws(ModelError) {
        guard (2...(Self.maxHiddenLayers + 1)).contains(layers.count), layers.allSatisfy({ (1...65_536).contains($0) }) else {
            throw .invalidConfiguration("layers: expected D,H1,...,Hn with 1 to \(Self.maxHiddenLayers) hidden layers, each size in 1...65536, got \(layers)")
        }
        try options.validate()
        self.layers = layers
        self.options = options
        var specs: [(name: String, shape: [Int])] = []
        for l in 1..<layers.count {
            specs.append(("W\(l)", [layers[l], layers[l - 1]]))
            specs.append(("b\(l)", [layers[l]]))
        }
        specs += OutputLayer.specs(index: layers.count, width: layers.last!, options: options)
        layout = ParameterLayout(specs)
        output = OutputLayer(width: layers.last!, options: options, layout: layout, first: 2 * (layers.count - 1))
        BLAS.configure()
    }

    public var inputSize: Int { layers[0] }
    /// Hidden layers, n.
    var depth: Int { layers.count - 1 }

    public func makeParameters(_ initialization: Initialization, seed: UInt64) -> TensorSet {
        initialization.makeParameters(layout, seed: seed) { entry in
            guard entry.name.hasPrefix("W") else { return nil }
            // Wl is [out, in]; the output layer's W is [H] when K = 1.
            return entry.shape.count == 2 ? (entry.shape[1], entry.shape[0]) : (entry.shape[0], 1)
        }
    }

    public func validate(_ input: Input) throws(ModelError) {
        guard case .vector(let x) = input else {
            throw .shapeMismatch("input: this mlp reads a vector of \(inputSize) numbers, not a graph")
        }
        guard x.count == inputSize else {
            throw .shapeMismatch("input: expected [\(inputSize)], got [\(x.count)]")
        }
        if let bad = x.firstIndex(where: { !$0.isFinite }) {
            throw .nonFinite("input[\(bad)]: \(x[bad]) is not finite")
        }
    }

    public func output(for input: Input, parameters: TensorSet, into outputs: UnsafeMutablePointer<Float>, scratch: Scratch) {
        guard case .vector(let x) = input else { preconditionFailure("validate(_:) first") }
        _ = parameters.storage.withUnsafeBufferPointer { p in
            x.withUnsafeBufferPointer { x in
                forward(x.baseAddress!, p.baseAddress!, scratch, into: outputs)
            }
        }
    }

    // MARK: One sample

    func weights(_ l: Int, _ base: UnsafePointer<Float>) -> UnsafePointer<Float> { base + layout.entries[2 * (l - 1)].offset }
    func bias(_ l: Int, _ base: UnsafePointer<Float>) -> UnsafePointer<Float> { base + layout.entries[2 * (l - 1) + 1].offset }
    func offset(ofWeights l: Int) -> Int { layout.entries[2 * (l - 1)].offset }
    func offset(ofBias l: Int) -> Int { layout.entries[2 * (l - 1) + 1].offset }

    /// The hidden layers' pre-activations, where the activation keeps them.
    func preactivations(_ l: Int, count: Int, _ scratch: Scratch) -> UnsafeMutablePointer<Float>? {
        options.activation.needsPreactivation ? scratch.floats(.preactivations(layer: l), count: count) : nil
    }

    /// Runs the hidden layers and the output layer; returns the last hidden activations.
    @discardableResult
    private func forward(_ x: UnsafePointer<Float>, _ p: UnsafePointer<Float>, _ scratch: Scratch,
                         into y: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        var input = x
        for l in 1...depth {
            let a = scratch.floats(.activations(layer: l), count: layers[l])
            // al = f(Wl a(l-1) + bl)
            a.update(from: bias(l, p), count: layers[l])
            BLAS.gemv(rows: layers[l], columns: layers[l - 1], weights(l, p), input, beta: 1, a)
            options.activation.apply(a, count: layers[l], preactivation: preactivations(l, count: layers[l], scratch))
            input = UnsafePointer(a)
        }
        output.forward(input, p, into: y)
        return input
    }
}
