/// What every network is built from besides its shape: the hidden layers' activation, the
/// number of outputs K, the loss and whether the output layer has a bias.
public struct NetworkOptions: Sendable, Equatable {
    public var activation: Activation
    public var outputs: Int
    public var loss: Loss
    public var outputBias: Bool

    public init(activation: Activation = .tanh, outputs: Int = 1, loss: Loss = .squaredError, outputBias: Bool = false) {
        self.activation = activation
        self.outputs = outputs
        self.loss = loss
        self.outputBias = outputBias
    }

    /// Such as "tanh, 1 output, squared_error, no output bias".
    public var description: String {
        "\(activation.rawValue), \(outputs) output\(outputs == 1 ? "" : "s"), \(loss.rawValue), \(outputBias ? "with" : "no") output bias"
    }

    func validate() throws(ModelError) {
        guard (1...65_536).contains(outputs) else {
            throw .invalidConfiguration("outputs: expected 1 to 65536, got \(outputs)")
        }
        if loss == .softmaxCrossEntropy, outputs < 2 {
            throw .invalidConfiguration("outputs: softmax_cross_entropy needs at least 2 classes, got \(outputs)")
        }
    }
}

/// The dense layer that makes a network's K outputs from its last hidden vector a (width H):
///
///     y = W a (+ b)        W is [H] when K = 1 (a dot product, as the reference W3), else [K, H]
struct OutputLayer: Sendable {
    let width: Int
    let outputs: Int
    let weightOffset: Int
    /// Where b lives, when the layer has one.
    let biasOffset: Int?

    /// The entries of the layer, named `W<index>` and `b<index>`, for a layout.
    static func specs(index: Int, width: Int, options: NetworkOptions) -> [(name: String, shape: [Int])] {
        let weights = ("W\(index)", options.outputs == 1 ? [width] : [options.outputs, width])
        return options.outputBias ? [weights, ("b\(index)", [options.outputs])] : [weights]
    }

    /// The layer as placed in `layout`, whose entries from `first` on are this layer's.
    init(width: Int, options: NetworkOptions, layout: ParameterLayout, first: Int) {
        self.width = width
        outputs = options.outputs
        weightOffset = layout.entries[first].offset
        biasOffset = options.outputBias ? layout.entries[first + 1].offset : nil
    }

    /// y = W a (+ b), K values.
    func forward(_ a: UnsafePointer<Float>, _ p: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        let w = p + weightOffset
        if outputs == 1 {
            y[0] = BLAS.dot(width, w, a)
            if let biasOffset { y[0] += p[biasOffset] }
            return
        }
        if let biasOffset { y.update(from: p + biasOffset, count: outputs) }
        BLAS.gemv(rows: outputs, columns: width, w, a, beta: biasOffset == nil ? 0 : 1, y)
    }

    /// Y = A Wᵀ (+ b) for `n` rows of A, K values a row.
    func forwardBatch(_ a: UnsafePointer<Float>, rows n: Int, _ p: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        let w = p + weightOffset
        if outputs == 1 {
            BLAS.gemv(rows: n, columns: width, a, w, beta: 0, y)
            if let biasOffset { for i in 0..<n { y[i] += p[biasOffset] } }
            return
        }
        if let biasOffset { for i in 0..<n { (y + i * outputs).update(from: p + biasOffset, count: outputs) } }
        BLAS.gemmTransposedB(m: n, n: outputs, k: width, a, w, beta: biasOffset == nil ? 0 : 1, y)
    }

    /// dW += dy aᵀ and db += dy into the gradient vector `d`.
    func accumulateWeightGradient(_ a: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, into d: UnsafeMutablePointer<Float>) {
        if outputs == 1 {
            BLAS.axpy(width, alpha: dy[0], a, d + weightOffset)
        } else {
            BLAS.ger(rows: outputs, columns: width, dy, a, d + weightOffset)
        }
        if let biasOffset { for k in 0..<outputs { d[biasOffset + k] += dy[k] } }
    }

    /// dW += dYᵀ A and db += the sum of dY's rows, over `n` rows, into the gradient vector `d`.
    func accumulateWeightGradientSum(_ a: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, rows n: Int, into d: UnsafeMutablePointer<Float>) {
        BLAS.gemmTransposedA(m: outputs, n: width, k: n, dy, a, beta: 1, d + weightOffset)
        if let biasOffset { addRows(dy, rows: n, columns: outputs, into: d + biasOffset) }
    }

    /// dW = dy aᵀ and db = dy, written (not added) into one sample's gradient row `d`.
    func writeWeightGradient(_ a: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, into d: UnsafeMutablePointer<Float>) {
        writeOuter(dy, count: outputs, a, count: width, into: d + weightOffset)
        if let biasOffset { (d + biasOffset).update(from: dy, count: outputs) }
    }

    /// da = Wᵀ dy (written).
    func inputGradient(_ dy: UnsafePointer<Float>, _ p: UnsafePointer<Float>, into da: UnsafeMutablePointer<Float>) {
        let w = p + weightOffset
        if outputs == 1 {
            for j in 0..<width { da[j] = dy[0] * w[j] }
        } else {
            BLAS.gemvTransposed(rows: outputs, columns: width, w, dy, beta: 0, da)
        }
    }

    /// dA = dY W for `n` rows (written).
    func inputGradientBatch(_ dy: UnsafePointer<Float>, rows n: Int, _ p: UnsafePointer<Float>, into da: UnsafeMutablePointer<Float>) {
        let w = p + weightOffset
        if outputs == 1 {
            for i in 0..<n {
                let row = da + i * width
                for j in 0..<width { row[j] = dy[i] * w[j] }
            }
        } else {
            BLAS.gemm(m: n, n: width, k: outputs, dy, w, beta: 0, da)
        }
    }
}

/// sum += each of the `rows` rows of `m`, in row order.
func addRows(_ m: UnsafePointer<Float>, rows: Int, columns: Int, into sum: UnsafeMutablePointer<Float>) {
    for r in 0..<rows {
        let row = m + r * columns
        for c in 0..<columns { sum[c] += row[c] }
    }
}

/// a = u vᵀ, written row by row (no read of a).
func writeOuter(_ u: UnsafePointer<Float>, count rows: Int, _ v: UnsafePointer<Float>, count columns: Int,
                into a: UnsafeMutablePointer<Float>) {
    for r in 0..<rows {
        let scale = u[r], row = a + r * columns
        for c in 0..<columns { row[c] = scale * v[c] }
    }
}

/// The largest |value|, or infinity if a value is not finite.
func maxMagnitude(_ values: UnsafePointer<Float>, _ count: Int) -> Float {
    var largest: Float = 0
    for k in 0..<count {
        let magnitude = abs(values[k])
        if !(magnitude <= largest) { largest = magnitude.isNaN ? .infinity : magnitude }
    }
    return largest
}
