import Foundation
import Testing
@testable import Model

/// `Activation.tanh` (Cephes' tanhf, written to vectorize) against tanh in Float64. Its bound,
/// 1.34 ulp, holds over all 2^31 non-negative Float32 values (their maximum was 1.3303 in a
/// release build of the same arithmetic, 2026-11-27; negative values mirror them bit for bit).
/// Here the special values and a spread of 524,288 patterns hold it again.
@Suite struct TanhTests {
    /// The error of `approx` in ulps of the Float32 nearest the exact value.
    func ulps(_ approx: Float, _ exact: Double) -> Double {
        let nearest = Float(exact)
        return abs(Double(approx) - exact) / Double(nearest == 0 ? Float.leastNonzeroMagnitude : nearest.ulp)
    }

    @Test func withinItsBoundOnASpreadOfEveryExponent() {
        var worst = 0.0
        // Every 4096th non-negative pattern: all exponents, and many mantissas of each.
        for bits in stride(from: UInt32(0), to: 0x7F80_0000, by: 4096) {
            let x = Float(bitPattern: bits)
            let value = Activation.tanh(x)
            worst = max(worst, ulps(value, Foundation.tanh(Double(x))))
            // Odd, bit for bit: tanh(−x) = −tanh(x).
            #expect(Activation.tanh(-x).bitPattern == (-value).bitPattern, "\(x)")
        }
        #expect(worst <= 1.34, "worst \(worst) ulp")
        #expect(worst > 0.5, "not exact either: the bound is the approximation's")
    }

    @Test func specialValues() {
        #expect(Activation.tanh(0).bitPattern == Float(0).bitPattern)
        #expect(Activation.tanh(-0.0).bitPattern == Float(-0.0).bitPattern)
        #expect(Activation.tanh(.infinity) == 1)
        #expect(Activation.tanh(-.infinity) == -1)
        #expect(Activation.tanh(.nan).isNaN)
        #expect(Activation.tanh(.greatestFiniteMagnitude) == 1)
        #expect(Activation.tanh(.leastNonzeroMagnitude) == .leastNonzeroMagnitude)
        #expect(Activation.tanh(Float.leastNormalMagnitude) == .leastNormalMagnitude)
        // Both sides of the switch from the polynomial to the exponential, and of the clamp at e^88.
        for x in [Float(0.625).nextDown, 0.625, Float(0.625).nextUp, 9, 44, 44.5, 100] {
            #expect(ulps(Activation.tanh(x), Foundation.tanh(Double(x))) <= 1.34, "\(x)")
        }
    }
}
