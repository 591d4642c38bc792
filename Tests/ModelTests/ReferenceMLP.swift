@testable import Model

/// An independent implementation of the dense model, written from the formulas (not from the
/// library's code), for finite differences and batched references. It computes in Float64 and
/// carries each value's Float32 rounding bound (`Rounded`), so that tests compare the library
/// with limits that follow from the formulas rather than from one machine's results.
struct ReferenceMLP {
    let d: Int, h1: Int, h2: Int
    var W1: [Rounded], b1: [Rounded], W2: [Rounded], b2: [Rounded], W3: [Rounded]

    /// All parameters as one vector of values, in the library's layout order.
    var flat: [Double] {
        get { (W1 + b1 + W2 + b2 + W3).map(\.value) }
        set {
            var rest = newValue.map { Rounded($0) }[...]
            func take(_ n: Int) -> [Rounded] { defer { rest = rest.dropFirst(n) }; return Array(rest.prefix(n)) }
            (W1, b1, W2, b2, W3) = (take(h1 * d), take(h1), take(h2 * h1), take(h2), take(h2))
        }
    }

    /// a1 = tanh(W1 x + b1), a2 = tanh(W2 a1 + b2), y = W3 · a2
    private func forward(_ x: [Rounded]) -> (a1: [Rounded], a2: [Rounded], y: Rounded) {
        let a1 = (0..<h1).map { i in Rounded.tanh(Rounded.sum([b1[i]] + (0..<d).map { W1[i * d + $0] * x[$0] })) }
        let a2 = (0..<h2).map { i in Rounded.tanh(Rounded.sum([b2[i]] + (0..<h1).map { W2[i * h1 + $0] * a1[$0] })) }
        return (a1, a2, Rounded.dot(W3, a2))
    }

    func output(_ x: [Float]) -> Rounded { forward(x.map(Rounded.init)).y }

    /// (y - t)²
    func loss(_ x: [Float], _ t: Float) -> Rounded {
        let r = output(x) - Rounded(t)
        return r * r
    }

    /// The gradient of one sample's loss, in the library's layout order.
    func lossGradient(_ x: [Float], _ t: Float) -> [Rounded] {
        let x = x.map(Rounded.init)
        let (a1, a2, y) = forward(x)
        let dy = 2 * (y - Rounded(t))
        // dW3 = dy a2;  dz2 = dy W3 ⊙ (1 - a2²);  dz1 = (W2ᵀ dz2) ⊙ (1 - a1²)
        let dW3 = a2.map { dy * $0 }
        let dz2 = (0..<h2).map { dy * W3[$0] * (1 - a2[$0] * a2[$0]) }
        let dz1 = (0..<h1).map { j in Rounded.sum((0..<h2).map { W2[$0 * h1 + j] * dz2[$0] }) * (1 - a1[j] * a1[j]) }
        // dW2 = dz2 a1ᵀ;  dW1 = dz1 xᵀ;  db = dz
        let dW2 = (0..<(h2 * h1)).map { dz2[$0 / h1] * a1[$0 % h1] }
        let dW1 = (0..<(h1 * d)).map { dz1[$0 / d] * x[$0 % d] }
        return dW1 + dz1 + dW2 + dz2 + dW3
    }

    /// Σ over the samples of their gradients, entry by entry.
    func lossGradientSum(_ xs: [[Float]], _ ts: [Float]) -> [Rounded] {
        let perSample = zip(xs, ts).map { lossGradient($0, $1) }
        return perSample[0].indices.map { i in Rounded.sum(perSample.map { $0[i] }) }
    }

    /// The gradient of the mean loss over a batch.
    func meanLossGradient(_ xs: [[Float]], _ ts: [Float]) -> [Rounded] {
        lossGradientSum(xs, ts).map { $0 / Rounded(Double(xs.count)) }
    }
}

extension ReferenceMLP {
    /// The library's parameters, exact in Float64 (bound 0).
    init(_ parameters: TensorSet, layers: [Int]) {
        func values(_ name: String) -> [Rounded] { parameters[name]!.data.map(Rounded.init) }
        self.init(d: layers[0], h1: layers[1], h2: layers[2],
                  W1: values("W1"), b1: values("b1"), W2: values("W2"), b2: values("b2"), W3: values("W3"))
    }
}

/// Relative error that stays meaningful when both values are tiny.
func relativeError(_ a: Double, _ b: Double, floor: Double = 1e-4) -> Double {
    abs(a - b) / max(abs(a), abs(b), floor)
}

func randomSample(dimension: Int, using generator: inout SeededGenerator) -> Sample {
    let x = (0..<dimension).map { _ in Float.random(in: 0..<1, using: &generator) }
    return Sample(x: x, t: x.map { $0 * $0 }.reduce(0, +).squareRoot())
}
