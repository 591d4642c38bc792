#if canImport(Glibc)
import Glibc
#endif

/// The nonlinearity of a network's hidden layers, applied element-wise: a = f(z).
public enum Activation: String, Sendable, CaseIterable {
    case tanh
    case relu
    /// The exact form x·Φ(x), with the error function (PyTorch's default GELU).
    case gelu
    case sigmoid

    /// Whether the derivative needs the pre-activation z (the others get it from a = f(z)).
    public var needsPreactivation: Bool { self == .gelu }

    /// a = f(z) in place over `count` values; with `needsPreactivation`, z is first copied to `preactivation`.
    func apply(_ values: UnsafeMutablePointer<Float>, count: Int, preactivation: UnsafeMutablePointer<Float>?) {
        switch self {
        case .tanh:
            for k in 0..<count { values[k] = tanhf(values[k]) }
        case .relu:
            for k in 0..<count { values[k] = max(values[k], 0) }
        case .sigmoid:
            for k in 0..<count { values[k] = Self.sigmoid(values[k]) }
        case .gelu:
            let z = preactivation!
            z.update(from: values, count: count)
            for k in 0..<count { values[k] = 0.5 * z[k] * (1 + erff(z[k] * Float(0.5).squareRoot())) }
        }
    }

    /// dz = da ⊙ f'(z), in place over `count` values of `gradient` (da in, dz out), from the
    /// activations `a` (and the pre-activations `z` where `needsPreactivation`).
    func backpropagate(_ gradient: UnsafeMutablePointer<Float>, count: Int, activations a: UnsafePointer<Float>,
                       preactivations z: UnsafeMutablePointer<Float>?) {
        switch self {
        case .tanh:
            for k in 0..<count { gradient[k] *= 1 - a[k] * a[k] }
        case .relu:
            // f'(z) = 1 for z > 0, else 0 (0 at z = 0, as PyTorch and JAX take it); a > 0 exactly when z > 0.
            for k in 0..<count where !(a[k] > 0) { gradient[k] = 0 }
        case .sigmoid:
            for k in 0..<count { gradient[k] *= a[k] * (1 - a[k]) }
        case .gelu:
            // f'(z) = Φ(z) + z φ(z)
            let z = z!
            let invSqrt2 = Float(0.5).squareRoot(), invSqrt2Pi = 1 / Float(2 * Double.pi).squareRoot()
            for k in 0..<count {
                let cdf = 0.5 * (1 + erff(z[k] * invSqrt2))
                let pdf = invSqrt2Pi * expf(-0.5 * z[k] * z[k])
                gradient[k] *= cdf + z[k] * pdf
            }
        }
    }

    /// 1 / (1 + e^-x), without overflow for large |x|.
    static func sigmoid(_ x: Float) -> Float {
        if x >= 0 { return 1 / (1 + expf(-x)) }
        let e = expf(x)
        return e / (1 + e)
    }
}
