import Testing
@testable import Model

/// The experiment the project started from: D = H1 = H2 = 3, x1 = [1,1,1] and two random
/// samples with t = |x|, per-sample gradients averaged outside the model, one SGD step.
@Suite struct ReferenceExperimentTests {
    let mlp = try! MLP(layers: [3, 3, 3])

    var samples: [Sample] {
        var generator = SeededGenerator(seed: 2024)
        let x1: [Float] = [1, 1, 1]
        return [Sample(x: x1, t: Float(3).squareRoot())]
            + (0..<2).map { _ in randomSample(dimension: 3, using: &generator) }
    }

    @Test func meanOfPerSampleGradientsEqualsGradientOfMeanLoss() throws {
        let parameters = mlp.makeParameters(.uniform01, seed: 42)
        let mean = try mlp.gradients(of: samples, parameters: parameters).mean()

        // The reference's gradient of the mean loss is one pass over the batch; the library's is
        // the mean of per-sample Float32 gradients: each within its rounding bound of the exact one.
        let reference = ReferenceMLP(parameters, layers: [3, 3, 3])
        let expected = reference.meanLossGradient(samples.map(\.input.vector), samples.map(\.target.scalar))
        expectWithinRounding(mean.storage, expected) { "flat index \($0)" }
    }

    @Test func oneSGDStepMovesW1ByMinusLearningRateTimesMeanGradient() throws {
        var parameters = mlp.makeParameters(.uniform01, seed: 42)
        let before = parameters["W1"]!.data
        let mean = try mlp.gradients(of: samples, parameters: parameters).mean()
        let optimizer = try Optimizer(OptimizerConfiguration(kind: .sgd, learningRate: 0.001))
        var state = optimizer.makeState(for: mlp.layout)

        try optimizer.apply(GradientUpdate(mean), to: &parameters, state: &state)

        let after = parameters["W1"]!.data
        let meanW1 = mean["W1"]!.data
        #expect(meanW1.contains { abs($0) > 1e-3 }, "the step is not trivially zero")
        for i in 0..<9 {
            // Bit equality by construction: SGD is this one Float32 expression per entry, the same
            // IEEE operations on the same values on every CPU (no BLAS, no libm).
            #expect(after[i] == before[i] - 0.001 * meanW1[i])
            #expect(abs((after[i] - before[i]) - (-0.001 * meanW1[i])) <= before[i].ulp)
        }
        #expect(state.step == 1)
    }
}
