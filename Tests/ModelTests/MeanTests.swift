import Foundation
import Testing
import Model

/// `TensorSet(layout:meanOf:count:)`: a batch's mean gradient from its Float64 sum, as the
/// client and `TensorSet.mean(of:)` take it.
@Suite struct MeanTests {
    /// The batch mean is computed in a loop the compiler vectorises; each value must still be
    /// Float(sum / n), bit for bit: over 1,010 values (not a multiple of any vector width) with
    /// signed zeros, Float32-subnormal, Float64-subnormal and huge sums, a Float32 overflow
    /// (infinite after rounding), infinity and NaN; for a count that divides and for powers of two.
    @Test func theMeanIsEachSumOverTheCountRoundedToFloat32() {
        var generator = SeededGenerator(seed: 11)
        var sums = (0..<1000).map { _ in Double.random(in: -1e6..<1e6, using: &generator) * pow(10, Double.random(in: -40..<30, using: &generator)) }
        sums += [-0.0, 0.0, 1e300, .infinity, .nan, .leastNonzeroMagnitude, -0x1.5p-1030]
        // Three sums (found by search) whose quotients by 7 and products with 1/7 round to
        // different floats: a reciprocal taken for every count fails on them.
        sums += [4737705426349457409, 4629659032712380417, 4534537432351113217].map { Double(bitPattern: $0) }
        // 7 divides; powers of two multiply by their reciprocal, which must give the same bits,
        // down to Float64 subnormals rounded the same way.
        for count in [7, 1, 8, 32, 1 << 20] {
            let layout = ParameterLayout([("sums", [sums.count])])
            let mean = TensorSet(layout: layout, meanOf: sums, count: count).storage
            let wrong = sums.indices.filter { mean[$0].bitPattern != Float(sums[$0] / Double(count)).bitPattern }
            #expect(wrong.isEmpty, "count \(count): \(wrong.count) values differ, such as the mean of \(wrong.first.map { sums[$0] } ?? 0)")
            #expect(mean[1000].sign == .minus && mean[1002] == .infinity && mean[1004].isNaN, "count \(count)")
        }
    }
}
