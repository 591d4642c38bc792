import Foundation
@testable import Model

/// The library's elementary functions with their error: glibc's expf, logf, log1pf and erff are
/// within 2 ulp of the exact value on x86_64 (its published libm-test-ulps table lists at most 1
/// or 2 for each), and one ulp of r is at most 2u|r|, so each adds 4|r| to the bound (in units of u).
extension Rounded {
    static let libmUlps = 2.0

    private static func elementary(_ a: Rounded, _ f: (Double) -> Double, derivative: Double) -> Rounded {
        let r = f(a.value)
        return Rounded(r, bound: abs(derivative) * a.bound + 2 * libmUlps * abs(r))
    }

    static func exp(_ a: Rounded) -> Rounded { elementary(a, Foundation.exp, derivative: Foundation.exp(a.value)) }
    static func log(_ a: Rounded) -> Rounded { elementary(a, Foundation.log, derivative: 1 / a.value) }
    static func log1p(_ a: Rounded) -> Rounded { elementary(a, Foundation.log1p, derivative: 1 / (1 + a.value)) }
    static func erf(_ a: Rounded) -> Rounded {
        elementary(a, Foundation.erf, derivative: 2 / Double.pi.squareRoot() * Foundation.exp(-a.value * a.value))
    }

    /// max(a, 0): exact, and where a is within its error of 0 the library may take the other
    /// branch, which is then at most a's error away.
    static func relu(_ a: Rounded) -> Rounded { Rounded(max(a.value, 0), bound: a.bound) }

    /// A constant the library computes in Float32 (such as √0.5), `roundings` roundings from exact.
    static func constant(_ exact: Double, roundings: Double) -> Rounded { Rounded(exact, bound: roundings * abs(exact)) }

    static func sigmoid(_ z: Rounded) -> Rounded {
        if z.value >= 0 { return 1 / (1 + exp(-z)) }
        let e = exp(z)
        return e / (1 + e)
    }
}

/// The activations, output layers and losses written from their formulas (in the order the
/// library evaluates them, so that the bounds follow its roundings), in Float64 with bounds.
enum ReferenceHead {
    static let sqrtHalf = Rounded.constant(0.5.squareRoot(), roundings: 1)
    static let invSqrt2Pi = Rounded.constant(1 / (2 * Double.pi).squareRoot(), roundings: 3)

    static func activate(_ z: Rounded, _ f: Activation) -> Rounded {
        switch f {
        case .tanh: Rounded.tanh(z)
        case .relu: Rounded.relu(z)
        case .sigmoid: Rounded.sigmoid(z)
        case .gelu: 0.5 * z * (1 + Rounded.erf(z * sqrtHalf))
        }
    }

    /// f'(z), from z and a = f(z) as the library takes it.
    static func derivative(_ z: Rounded, _ a: Rounded, _ f: Activation) -> Rounded {
        switch f {
        case .tanh: 1 - a * a
        case .relu: z.value > 0 ? 1 : 0
        case .sigmoid: a * (1 - a)
        case .gelu: 0.5 * (1 + Rounded.erf(z * sqrtHalf)) + z * (invSqrt2Pi * Rounded.exp(-0.5 * z * z))
        }
    }

    /// y = W a (+ b) with W as K rows of H.
    static func output(_ W: [[Rounded]], _ b: [Rounded]?, _ a: [Rounded]) -> [Rounded] {
        W.indices.map { k in Rounded.sum((b.map { [$0[k]] } ?? []) + zip(W[k], a).map { $0 * $1 }) }
    }

    /// The loss of outputs y for target t, and d loss / d y.
    static func loss(_ y: [Rounded], _ t: Target, _ loss: Loss) -> (value: Rounded, dy: [Rounded]) {
        switch loss {
        case .squaredError:
            let residuals = zip(y, t.values).map { $0 - Rounded($1) }
            return (Rounded.sum(residuals.map { $0 * $0 }), residuals.map { 2 * $0 })
        case .softmaxCrossEntropy:
            let target = Int(t.values[0])
            let m = y.max { $0.value < $1.value }!
            let e = y.map { Rounded.exp($0 - m) }
            let s = Rounded.sum(e)
            let dy = e.indices.map { e[$0] / s - ($0 == target ? 1 : 0) }
            return (m + Rounded.log(s) - y[target], dy)
        case .sigmoidCrossEntropy:
            let terms = zip(y, t.values).map { y, t in
                Rounded.relu(y) + Rounded.log1p(Rounded.exp(-Rounded(abs(y.value), bound: y.bound))) - Rounded(t) * y
            }
            return (Rounded.sum(terms), zip(y, t.values).map { Rounded.sigmoid($0) - Rounded($1) })
        }
    }
}

/// An independent dense network of any depth and head, from the formulas: a0 = x,
/// al = f(Wl a(l-1) + bl), y = W(n+1) an (+ b(n+1)), in Float64 with bounds.
struct ReferenceDense {
    let layers: [Int]
    let options: NetworkOptions
    /// The parameters in the library's layout order.
    var flat: [Double]

    private func unpack() -> (hidden: [(W: [[Rounded]], b: [Rounded])], W: [[Rounded]], b: [Rounded]?) {
        var rest = flat.map { Rounded($0) }[...]
        func take(_ n: Int) -> [Rounded] { defer { rest = rest.dropFirst(n) }; return Array(rest.prefix(n)) }
        func rows(_ r: Int, _ c: Int) -> [[Rounded]] { let v = take(r * c); return (0..<r).map { Array(v[($0 * c)..<(($0 + 1) * c)]) } }
        let hidden = (1..<layers.count).map { l in (rows(layers[l], layers[l - 1]), take(layers[l])) }
        let W = rows(options.outputs, layers.last!)
        return (hidden, W, options.outputBias ? take(options.outputs) : nil)
    }

    private func forward(_ x: [Float]) -> (z: [[Rounded]], a: [[Rounded]], y: [Rounded]) {
        let (hidden, W, b) = unpack()
        var a = [x.map(Rounded.init)], z: [[Rounded]] = [[]]
        for (Wl, bl) in hidden {
            z.append(Wl.indices.map { i in Rounded.sum([bl[i]] + zip(Wl[i], a.last!).map { $0 * $1 }) })
            a.append(z.last!.map { ReferenceHead.activate($0, options.activation) })
        }
        return (z, a, ReferenceHead.output(W, b, a.last!))
    }

    func outputs(_ x: [Float]) -> [Rounded] { forward(x).y }

    func loss(_ x: [Float], _ t: Target) -> Rounded { ReferenceHead.loss(forward(x).y, t, options.loss).value }

    /// The gradient of one sample's loss, in the library's layout order.
    func lossGradient(_ x: [Float], _ t: Target) -> [Rounded] {
        let (hidden, W, _) = unpack()
        let (z, a, y) = forward(x)
        let dy = ReferenceHead.loss(y, t, options.loss).dy
        let n = hidden.count
        var gradient = W.indices.flatMap { k in a[n].map { dy[k] * $0 } } + (options.outputBias ? dy : [])
        var da = a[n].indices.map { j in Rounded.sum(W.indices.map { W[$0][j] * dy[$0] }) }
        for l in stride(from: n, through: 1, by: -1) {
            let dz = da.indices.map { da[$0] * ReferenceHead.derivative(z[l][$0], a[l][$0], options.activation) }
            gradient = dz.flatMap { d in a[l - 1].map { d * $0 } } + dz + gradient
            da = a[l - 1].indices.map { j in Rounded.sum(dz.indices.map { hidden[l - 1].W[$0][j] * dz[$0] }) }
        }
        return gradient
    }
}
