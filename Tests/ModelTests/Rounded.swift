import Foundation
import Testing

/// A Float64 value with a bound on how far a Float32 evaluation of the same formula can land
/// from it: |fl₃₂ − value| ≤ u · bound, to first order in u, where u = 2⁻²⁴ is the unit roundoff
/// of IEEE binary32 with round-to-nearest.
///
/// This is running error analysis (Higham, *Accuracy and Stability of Numerical Algorithms*,
/// 2nd ed., sections 2.2, 3.1 and 3.3): in the standard model every Float32 operation returns
/// (a ∘ b)(1 + δ) with |δ| ≤ u, so each operation adds one rounding of its result to the errors
/// of its operands, carried through the operation's derivative. The bound is a property of the
/// formula and of the values, not of a machine, which is what lets the model tests hold on
/// every CPU and under every OpenBLAS kernel:
///
/// - Sums go through `sum(_:)`, whose bound (n − 1) Σ|xᵢ| holds for every order and grouping
///   of the n − 1 additions (each partial sum is at most Σ|xᵢ| in magnitude). BLAS kernels block
///   and vectorise sums each in their own order, and the batched, per-sample and partial-sum paths
///   add in different orders; one bound covers them all. A fused multiply-add rounds once where
///   this counts twice, so it stays inside the bound.
/// - The condition of what is computed is in the bound itself: where terms cancel, Σ|xᵢ| is much
///   larger than the result and so is the allowed error, and nowhere else.
/// - The Float64 reference's own rounding (2⁻⁵³ per operation) and second-order terms (n²u² for
///   sums of n ≤ 100 terms, below 10⁻¹⁰ relative) are far below u and are not counted.
///
/// Parameters, inputs and targets are Float32 values, exact in Float64: they start with bound 0.
struct Rounded: Sendable {
    var value: Double
    /// In units of u.
    var bound: Double

    /// 2⁻²⁴, the unit roundoff of binary32.
    static let u = 0x1p-24

    /// `Activation.tanh` is within 1.34 ulp of the exact value (measured over every Float32; see
    /// TanhTests), and one ulp of r is at most 2u|r|.
    static let tanhUlps = 1.34

    init(_ value: Double, bound: Double = 0) {
        self.value = value
        self.bound = bound
    }

    init(_ value: Float) { self.init(Double(value)) }

    /// The largest error a Float32 evaluation may have.
    var allowedError: Double { Self.u * bound }

    static func + (a: Rounded, b: Rounded) -> Rounded {
        let r = a.value + b.value
        return Rounded(r, bound: a.bound + b.bound + abs(r))
    }

    static func - (a: Rounded, b: Rounded) -> Rounded {
        let r = a.value - b.value
        return Rounded(r, bound: a.bound + b.bound + abs(r))
    }

    static prefix func - (a: Rounded) -> Rounded { Rounded(-a.value, bound: a.bound) }

    static func * (a: Rounded, b: Rounded) -> Rounded {
        let r = a.value * b.value
        return Rounded(r, bound: abs(b.value) * a.bound + abs(a.value) * b.bound + abs(r))
    }

    static func / (a: Rounded, b: Rounded) -> Rounded {
        let r = a.value / b.value
        return Rounded(r, bound: (a.bound + abs(r) * b.bound) / abs(b.value) + abs(r))
    }

    static func += (a: inout Rounded, b: Rounded) { a = a + b }

    /// d tanh = (1 − tanh²) dz, plus `Activation.tanh`'s own error.
    static func tanh(_ a: Rounded) -> Rounded {
        let r = Foundation.tanh(a.value)
        return Rounded(r, bound: (1 - r * r) * a.bound + 2 * tanhUlps * abs(r))
    }

    func squareRoot() -> Rounded {
        let r = value.squareRoot()
        return Rounded(r, bound: bound / (2 * r) + r)
    }

    /// Σ terms, with the order-free bound Σ boundᵢ + (n − 1) Σ|termᵢ|. Terms that are exactly
    /// zero are not counted in n: adding an exact zero rounds nothing (so a dense reference over a
    /// sparse matrix gets the bound of the sparse sum the library computes).
    static func sum(_ terms: [Rounded]) -> Rounded {
        var value = 0.0, magnitude = 0.0, bounds = 0.0, count = 0
        for term in terms where term.value != 0 || term.bound != 0 {
            value += term.value
            magnitude += abs(term.value)
            bounds += term.bound
            count += 1
        }
        return Rounded(value, bound: bounds + Double(max(count - 1, 0)) * magnitude)
    }

    static func dot(_ a: [Rounded], _ b: [Rounded]) -> Rounded {
        sum(zip(a, b).map { $0 * $1 })
    }
}

extension Rounded: ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral {
    /// Literals in the formulas (1, 2) are exact.
    init(floatLiteral value: Double) { self.init(value) }
    init(integerLiteral value: Int) { self.init(Double(value)) }
}

/// Expects the Float32 results to lie within their rounding bounds of the references:
/// |actual − reference| ≤ slack · u · bound + extra. `slack` is 1 where the library evaluates the
/// reference's formula; `extra` holds errors of the reference itself, such as finite differences'.
func expectWithinRounding(
    _ actual: [Float], _ expected: [Rounded], slack: Double = 1, extra: Double = 0, _ label: (Int) -> String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actual.count == expected.count, sourceLocation: sourceLocation)
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        let error = abs(Double(a) - e.value), allowed = slack * e.allowedError + extra
        #expect(error <= allowed, "\(label(i)): \(a) vs \(e.value), error \(error) > allowed \(allowed)",
                sourceLocation: sourceLocation)
    }
}
