import Foundation
@testable import Model

/// An independent Float64 implementation of the dense model, written from the formulas
/// (not from the library's code), for finite differences and batched references.
struct ReferenceMLP {
    let d: Int, h1: Int, h2: Int
    var W1: [Double], b1: [Double], W2: [Double], b2: [Double], W3: [Double]

    init(_ parameters: TensorSet, layers: [Int]) {
        (d, h1, h2) = (layers[0], layers[1], layers[2])
        func values(_ name: String) -> [Double] { parameters[name]!.data.map(Double.init) }
        (W1, b1, W2, b2, W3) = (values("W1"), values("b1"), values("W2"), values("b2"), values("W3"))
    }

    /// All parameters as one vector, in the library's layout order.
    var flat: [Double] {
        get { W1 + b1 + W2 + b2 + W3 }
        set {
            var rest = newValue[...]
            func take(_ n: Int) -> [Double] { defer { rest = rest.dropFirst(n) }; return Array(rest.prefix(n)) }
            (W1, b1, W2, b2, W3) = (take(h1 * d), take(h1), take(h2 * h1), take(h2), take(h2))
        }
    }

    func output(_ x: [Double]) -> Double {
        let a1 = (0..<h1).map { i in tanh((0..<d).reduce(b1[i]) { $0 + W1[i * d + $1] * x[$1] }) }
        let a2 = (0..<h2).map { i in tanh((0..<h1).reduce(b2[i]) { $0 + W2[i * h1 + $1] * a1[$1] }) }
        return (0..<h2).reduce(0) { $0 + W3[$1] * a2[$1] }
    }

    func loss(_ x: [Double], _ t: Double) -> Double {
        let r = output(x) - t
        return r * r
    }

    /// Gradient of the mean loss over a batch, by batched matrix backprop: one pass over
    /// the stacked samples, the way a framework computes an averaged gradient.
    func meanLossGradient(_ xs: [[Double]], _ ts: [Double]) -> [Double] {
        let n = Double(xs.count)
        var dW1 = [Double](repeating: 0, count: h1 * d), db1 = [Double](repeating: 0, count: h1)
        var dW2 = [Double](repeating: 0, count: h2 * h1), db2 = [Double](repeating: 0, count: h2)
        var dW3 = [Double](repeating: 0, count: h2)
        for (x, t) in zip(xs, ts) {
            let a1 = (0..<h1).map { i in tanh((0..<d).reduce(b1[i]) { $0 + W1[i * d + $1] * x[$1] }) }
            let a2 = (0..<h2).map { i in tanh((0..<h1).reduce(b2[i]) { $0 + W2[i * h1 + $1] * a1[$1] }) }
            let y = (0..<h2).reduce(0) { $0 + W3[$1] * a2[$1] }
            let dy = 2 * (y - t) / n
            let dz2 = (0..<h2).map { dy * W3[$0] * (1 - a2[$0] * a2[$0]) }
            let dz1 = (0..<h1).map { j in (0..<h2).reduce(0) { $0 + W2[$1 * h1 + j] * dz2[$1] } * (1 - a1[j] * a1[j]) }
            for i in 0..<h2 { dW3[i] += dy * a2[i]; db2[i] += dz2[i] }
            for i in 0..<h2 { for j in 0..<h1 { dW2[i * h1 + j] += dz2[i] * a1[j] } }
            for i in 0..<h1 { db1[i] += dz1[i]; for j in 0..<d { dW1[i * d + j] += dz1[i] * x[j] } }
        }
        return dW1 + db1 + dW2 + db2 + dW3
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
