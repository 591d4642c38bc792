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

        let reference = ReferenceMLP(parameters, layers: [3, 3, 3])
        let expected = reference.meanLossGradient(
            samples.map { $0.input.vector.map(Double.init) }, samples.map { Double($0.target) })
        for entry in mlp.layout.entries {
            for i in entry.range {
                #expect(relativeError(Double(mean.storage[i]), expected[i], floor: 1e-3) <= 1e-6,
                        "\(entry.name)[\(i - entry.offset)]: \(mean.storage[i]) vs \(expected[i])")
            }
        }
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
            #expect(after[i] == before[i] - 0.001 * meanW1[i])
            #expect(abs((after[i] - before[i]) - (-0.001 * meanW1[i])) <= before[i].ulp)
        }
        #expect(state.step == 1)
    }
}
