#if canImport(Glibc)
import Glibc
#endif

/// The reference dense network:
///
///     h1 = tanh(W1 x + b1)
///     h2 = tanh(W2 h1 + b2)
///     y  = W3 · h2
///     loss = (y - t)²
public struct MLP: Network {
    public let inputSize: Int
    public let hidden1: Int
    public let hidden2: Int
    public let layout: ParameterLayout
    public var kind: String { "mlp" }

    /// `layers` is [D, H1, H2], as in `--layers 3,3,3`.
    public init(layers: [Int]) throws(ModelError) {
        guard layers.count == 3, layers.allSatisfy({ (1...65_536).contains($0) }) else {
            throw .invalidConfiguration("layers: expected three sizes D,H1,H2 each in 1...65536, got \(layers)")
        }
        inputSize = layers[0]
        hidden1 = layers[1]
        hidden2 = layers[2]
        layout = ParameterLayout([
            ("W1", [hidden1, inputSize]), ("b1", [hidden1]),
            ("W2", [hidden2, hidden1]), ("b2", [hidden2]),
            ("W3", [hidden2]),
        ])
        BLAS.configure()
    }

    public var layers: [Int] { [inputSize, hidden1, hidden2] }

    public func makeParameters(_ initialization: Initialization, seed: UInt64) -> TensorSet {
        initialization.makeParameters(layout, seed: seed) { entry in
            switch entry.name {
            case "W1": (inputSize, hidden1)
            case "W2": (hidden1, hidden2)
            case "W3": (hidden2, 1)
            default: nil
            }
        }
    }

    public func validate(_ input: Input) throws(ModelError) {
        guard case .vector(let x) = input else {
            throw .shapeMismatch("x: this mlp reads a vector of \(inputSize) numbers, not a graph")
        }
        guard x.count == inputSize else {
            throw .shapeMismatch("x: expected [\(inputSize)], got [\(x.count)]")
        }
        if let bad = x.firstIndex(where: { !$0.isFinite }) {
            throw .nonFinite("x[\(bad)]: \(x[bad]) is not finite")
        }
    }

    public func output(for input: Input, parameters: TensorSet, scratch: Scratch) -> Float {
        guard case .vector(let x) = input else { preconditionFailure("validate(_:) first") }
        return parameters.storage.withUnsafeBufferPointer { p in
            let w = Weights(self, p.baseAddress!)
            return forward(x, w, scratch).y
        }
    }

    public func accumulateGradient(
        of sample: Sample, parameters: TensorSet,
        into gradient: UnsafeMutablePointer<Float>, scratch: Scratch
    ) -> SampleResult {
        guard case .vector(let x) = sample.input else { preconditionFailure("validate(_:) first") }
        return parameters.storage.withUnsafeBufferPointer { p in
            let w = Weights(self, p.baseAddress!)
            let (h1, h2, y) = forward(x, w, scratch)
            let residual = y - sample.target
            backward(x, h1, h2, dy: 2 * residual, w, Gradient(self, gradient), scratch)
            return SampleResult(loss: residual * residual, output: y)
        }
    }

    /// Pointers into a flat parameter (or gradient) vector, in layout order.
    struct Tensors<Pointer: Strideable> where Pointer.Stride == Int {
        let W1, b1, W2, b2, W3: Pointer

        init(_ mlp: MLP, _ base: Pointer) {
            // Offsets follow the layout order W1, b1, W2, b2, W3 without building an array per sample.
            W1 = base
            b1 = W1.advanced(by: mlp.hidden1 * mlp.inputSize)
            W2 = b1.advanced(by: mlp.hidden1)
            b2 = W2.advanced(by: mlp.hidden2 * mlp.hidden1)
            W3 = b2.advanced(by: mlp.hidden2)
        }
    }
    typealias Weights = Tensors<UnsafePointer<Float>>
    typealias Gradient = Tensors<UnsafeMutablePointer<Float>>

    private func forward(_ x: [Float], _ w: Weights, _ scratch: Scratch)
        -> (h1: UnsafeMutablePointer<Float>, h2: UnsafeMutablePointer<Float>, y: Float)
    {
        let h1 = scratch.floats(0, count: hidden1)
        let h2 = scratch.floats(1, count: hidden2)
        // h1 = tanh(W1 x + b1)
        h1.update(from: w.b1, count: hidden1)
        BLAS.gemv(rows: hidden1, columns: inputSize, w.W1, x, beta: 1, h1)
        for i in 0..<hidden1 { h1[i] = tanhf(h1[i]) }
        // h2 = tanh(W2 h1 + b2)
        h2.update(from: w.b2, count: hidden2)
        BLAS.gemv(rows: hidden2, columns: hidden1, w.W2, h1, beta: 1, h2)
        for i in 0..<hidden2 { h2[i] = tanhf(h2[i]) }
        // y = W3 · h2
        let y = BLAS.dot(hidden2, w.W3, h2)
        return (h1, h2, y)
    }

    private func backward(
        _ x: [Float], _ h1: UnsafeMutablePointer<Float>, _ h2: UnsafeMutablePointer<Float>, dy: Float,
        _ w: Weights, _ d: Gradient, _ scratch: Scratch
    ) {
        let dz2 = scratch.floats(2, count: hidden2)
        let dz1 = scratch.floats(3, count: hidden1)
        // dW3 += dy h2;  dz2 = dy W3 ⊙ (1 - h2²)
        BLAS.axpy(hidden2, alpha: dy, h2, d.W3)
        for i in 0..<hidden2 { dz2[i] = dy * w.W3[i] * (1 - h2[i] * h2[i]) }
        // db2 += dz2;  dW2 += dz2 h1ᵀ
        for i in 0..<hidden2 { d.b2[i] += dz2[i] }
        BLAS.ger(rows: hidden2, columns: hidden1, dz2, h1, d.W2)
        // dz1 = (W2ᵀ dz2) ⊙ (1 - h1²)
        BLAS.gemvTransposed(rows: hidden2, columns: hidden1, w.W2, dz2, beta: 0, dz1)
        for i in 0..<hidden1 { dz1[i] *= 1 - h1[i] * h1[i] }
        // db1 += dz1;  dW1 += dz1 xᵀ
        for i in 0..<hidden1 { d.b1[i] += dz1[i] }
        BLAS.ger(rows: hidden1, columns: inputSize, dz1, x, d.W1)
    }
}
