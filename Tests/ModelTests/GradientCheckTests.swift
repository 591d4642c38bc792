import Testing
@testable import Model

/// Central differences of a Float64 loss with step h, and how far they may be from the exact
/// derivative: the rounding of the two loss evaluations (each within ε · bound, the same running
/// error analysis as `Rounded` with Float64's unit roundoff ε = 2⁻⁵³), divided by 2h, plus the
/// truncation error h²/6 · |L'''|, estimated by Richardson's comparison with step 2h
/// (D(2h) − D(h) = h²/2 · L''' + O(h⁴), three times the truncation of D(h)).
func centralDifference(h: Double = 1e-6, _ loss: (Double) -> Rounded) -> (value: Double, error: Double) {
    let plus = loss(h), minus = loss(-h)
    let d1 = (plus.value - minus.value) / (2 * h)
    let d2 = (loss(2 * h).value - loss(-2 * h).value) / (4 * h)
    let rounding = 0x1p-53 * max(plus.bound, minus.bound) / h
    return (d1, 2 * rounding + abs(d2 - d1))
}

/// Expects each entry of a Float32 gradient to lie within `slack` times its rounding bound plus
/// the finite-difference error of the numerical derivative of `loss` (a function of the
/// parameters as Float64 values) at `parameters`.
func expectMatchesCentralDifferences(
    _ analytic: TensorSet, bounds: [Rounded], slack: Double = 1, at parameters: [Double], _ label: String = "",
    loss: ([Double]) -> Rounded, sourceLocation: SourceLocation = #_sourceLocation
) {
    for entry in analytic.layout.entries {
        for i in entry.range {
            let numeric = centralDifference { step in
                var moved = parameters
                moved[i] += step
                return loss(moved)
            }
            let error = abs(Double(analytic.storage[i]) - numeric.value)
            let allowed = slack * bounds[i].allowedError + numeric.error
            #expect(error <= allowed, "\(label)\(entry.name)[\(i - entry.offset)]: analytic \(analytic.storage[i]), numeric \(numeric.value), error \(error) > \(allowed)",
                    sourceLocation: sourceLocation)
        }
    }
}

@Suite struct GradientCheckTests {
    /// Each entry of the library's Float32 gradient is within its rounding bound (from the
    /// reference's running error analysis) plus the finite-difference error of the numerical
    /// derivative. This is tight: a bias gradient scaled by 0.99 fails it.
    @Test(arguments: [[3, 3, 3], [5, 7, 4], [1, 2, 1], [8, 3, 6], [16, 9, 12]])
    func analyticGradientMatchesFloat64CentralDifferences(layers: [Int]) throws {
        let mlp = try MLP(layers: layers)
        let parameters = mlp.makeParameters(.glorot, seed: UInt64(layers.reduce(0, +)))
        var generator = SeededGenerator(seed: 7)
        let sample = randomSample(dimension: layers[0], using: &generator)
        let x = sample.input.vector, t = sample.target.scalar

        let analytic = try mlp.gradients(of: [sample], parameters: parameters).gradient(0)

        var reference = ReferenceMLP(parameters, layers: layers)
        expectMatchesCentralDifferences(analytic, bounds: reference.lossGradient(x, t), at: reference.flat) { moved in
            reference.flat = moved
            return reference.loss(x, t)
        }
        #expect(analytic.storage.contains { abs($0) > 1e-3 }, "the gradient is not trivially zero")
    }

    @Test func lossAndOutputMatchFloat64Reference() throws {
        let mlp = try MLP(layers: [4, 6, 5])
        let parameters = mlp.makeParameters(.glorot, seed: 3)
        var generator = SeededGenerator(seed: 11)
        let samples = (0..<5).map { _ in randomSample(dimension: 4, using: &generator) }
        let batch = try mlp.gradients(of: samples, parameters: parameters)
        let reference = ReferenceMLP(parameters, layers: [4, 6, 5])
        expectWithinRounding(batch.results.outputs, samples.map { reference.output($0.input.vector) }) { "output \($0)" }
        expectWithinRounding(batch.results.losses, samples.map { reference.loss($0.input.vector, $0.target.scalar) }) { "loss \($0)" }
    }
}

extension Target {
    /// The one number of a single-output target.
    var scalar: Float {
        guard case .number(let t) = self else { fatalError("not a number target") }
        return t
    }
}

extension Input {
    var vector: [Float] {
        guard case .vector(let x) = self else { fatalError("not a vector input") }
        return x
    }
}

@Suite struct BatchedPathTests {
    /// The batched per-sample path (matrix products over the batch) and the batched sum that
    /// `gradientSum` uses (weight gradients summed by one product per layer, in chunks of 32
    /// samples: 70 make three) each stay within their rounding bounds of the reference: two
    /// implementations that add in different orders, checked against one analysis.
    @Test(arguments: [([3, 3, 3], 9), ([5, 7, 4], 70), ([33, 17, 9], 9)])
    func batchedPerSampleGradientsAndTheBatchedSumAgreeWithTheReference(layers: [Int], count: Int) throws {
        let mlp = try MLP(layers: layers)
        let parameters = mlp.makeParameters(.glorot, seed: 21)
        var generator = SeededGenerator(seed: 4)
        let samples = (0..<count).map { _ in randomSample(dimension: layers[0], using: &generator) }
        let batch = try mlp.gradients(of: samples, parameters: parameters)
        let (results, sum) = try mlp.gradientSum(of: samples, parameters: parameters)
        let reference = ReferenceMLP(parameters, layers: layers)

        for (s, sample) in samples.enumerated() {
            expectWithinRounding(batch.gradient(s).storage, reference.lossGradient(sample.input.vector, sample.target.scalar)) { "sample \(s), flat index \($0)" }
        }
        // The sum adds the samples' gradients in Float32, in some order: the reference's sum
        // carries the bound of a sum in any order on top of each sample's.
        let referenceSum = reference.lossGradientSum(samples.map(\.input.vector), samples.map(\.target.scalar))
        expectWithinRounding(sum.storage, referenceSum) { "sum, flat index \($0)" }
        let losses = samples.map { reference.loss($0.input.vector, $0.target.scalar) }
        expectWithinRounding(results.losses, losses) { "sum path, loss \($0)" }
        expectWithinRounding(batch.results.losses, losses) { "batched path, loss \($0)" }
    }
}
