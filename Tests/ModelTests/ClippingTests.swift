import Testing
@testable import Model

/// DP-SGD's per-sample clipping against an independent Float64 computation.
@Suite struct ClippingTests {
    func batch(_ samples: Int) throws -> (MLP, TensorSet, [Sample], GradientBatch) {
        let mlp = try MLP(layers: [4, 6, 5])
        let parameters = mlp.makeParameters(.glorot, seed: 3)
        var generator = SeededGenerator(seed: 8)
        let list = (0..<samples).map { _ in Sample(x: (0..<4).map { _ in Float.random(in: -2..<2, using: &generator) }, t: Float.random(in: -3..<3, using: &generator)) }
        return (mlp, parameters, list, try mlp.gradients(of: list, parameters: parameters))
    }

    @Test func normsAndClippedGradientsMatchFloat64() throws {
        let (_, _, _, original) = try batch(12)
        let p = original.layout.count
        // C at the median norm, so that half the samples are clipped and half are not.
        let sorted = (0..<original.count).map { i in original.storage[(i * p)..<((i + 1) * p)].map { Double($0) * Double($0) }.reduce(0, +).squareRoot() }.sorted()
        let c = Float(sorted[sorted.count / 2])
        var clipped = original
        let norms = clipped.clip(to: c)
        var under = 0
        for i in 0..<original.count {
            let row = original.storage[(i * p)..<((i + 1) * p)].map(Double.init)
            // The norm: a sum of p squares in Float64 (rounding below 1e-15 relative), compared at 1e-12.
            let norm = row.map { $0 * $0 }.reduce(0, +).squareRoot()
            #expect(abs(norms[i] - norm) <= 1e-12 * norm)
            let result = clipped.storage[(i * p)..<((i + 1) * p)]
            if norm <= Double(c) {
                // Under the norm: untouched, bit for bit.
                #expect(result.map(\.bitPattern) == original.storage[(i * p)..<((i + 1) * p)].map(\.bitPattern))
                under += 1
            } else {
                // g · Float(C / ‖g‖): the scale rounded once to Float32 and the product once: within 2u relative of g C / ‖g‖.
                for (value, exact) in zip(result, row.map { $0 * Double(c) / norm }) {
                    #expect(abs(Double(value) - exact) <= 2 * 0x1p-24 * abs(exact) + 1e-30)
                }
                let length = result.map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
                #expect(abs(length - Double(c)) <= 2 * 0x1p-24 * Double(c))
            }
        }
        #expect(under > 0 && under < original.count, "both kinds of samples are in the batch: \(norms)")
    }

    /// The clipped sum is the Float64 sum of the clipped per-sample rows, rounded once, however the
    /// work is cut into chunks (the rows of one chunk size are bit-equal to a batch of that size).
    @Test func theSumPathAddsTheClippedRowsOfThePerSamplePath() throws {
        let (mlp, parameters, samples, _) = try batch(9)
        for chunk in [1, 4, 9] {
            let (results, norms, sum) = try mlp.clippedGradientSum(of: samples, parameters: parameters, clipNorm: 1, chunk: chunk)
            var expected = [Double](repeating: 0, count: mlp.layout.count), allNorms: [Double] = [], losses: [Float] = []
            for start in stride(from: 0, to: samples.count, by: chunk) {
                var part = try mlp.gradients(of: Array(samples[start..<min(start + chunk, samples.count)]), parameters: parameters)
                allNorms += part.clip(to: 1)
                losses += part.results.losses
                for (k, value) in part.storage.enumerated() { expected[k % mlp.layout.count] += Double(value) }
            }
            #expect(sum.storage == expected.map { Float($0) }, "chunk \(chunk)")
            #expect(norms == allNorms)
            #expect(results.losses == losses)
        }
    }
}
