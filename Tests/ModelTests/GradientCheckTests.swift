import Testing
@testable import Model

@Suite struct GradientCheckTests {
    @Test(arguments: [[3, 3, 3], [5, 7, 4], [1, 2, 1], [8, 3, 6], [16, 9, 12]])
    func analyticGradientMatchesFloat64CentralDifferences(layers: [Int]) throws {
        let mlp = try MLP(layers: layers)
        let parameters = mlp.makeParameters(.glorot, seed: UInt64(layers.reduce(0, +)))
        var generator = SeededGenerator(seed: 7)
        let sample = randomSample(dimension: layers[0], using: &generator)
        let x = sample.input.vector.map(Double.init), t = Double(sample.target)

        let analytic = try mlp.gradients(of: [sample], parameters: parameters).gradient(0)

        var reference = ReferenceMLP(parameters, layers: layers)
        let base = reference.flat
        let h = 1e-6
        for (entry) in mlp.layout.entries {
            for i in entry.range {
                var plus = base, minus = base
                plus[i] += h
                minus[i] -= h
                reference.flat = plus
                let lossPlus = reference.loss(x, t)
                reference.flat = minus
                let lossMinus = reference.loss(x, t)
                let numeric = (lossPlus - lossMinus) / (2 * h)
                let error = relativeError(Double(analytic.storage[i]), numeric)
                #expect(error <= 1e-3, "\(entry.name)[\(i - entry.offset)]: analytic \(analytic.storage[i]), numeric \(numeric)")
            }
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
        for (sample, result) in zip(samples, batch.results) {
            let x = sample.input.vector.map(Double.init)
            #expect(relativeError(Double(result.output), reference.output(x)) < 1e-5)
            #expect(relativeError(Double(result.loss), reference.loss(x, Double(sample.target))) < 1e-5)
        }
    }
}

extension Input {
    var vector: [Float] {
        guard case .vector(let x) = self else { fatalError("not a vector input") }
        return x
    }
}

@Suite struct BatchedPathTests {
    /// The batched per-sample path (matrix products over the batch) and the one-sample path
    /// that `gradientSum` uses agree: two implementations checking each other.
    @Test(arguments: [[3, 3, 3], [5, 7, 4], [33, 17, 9]])
    func sumOfBatchedPerSampleGradientsEqualsTheOneSamplePathSum(layers: [Int]) throws {
        let mlp = try MLP(layers: layers)
        let parameters = mlp.makeParameters(.glorot, seed: 21)
        var generator = SeededGenerator(seed: 4)
        let samples = (0..<9).map { _ in randomSample(dimension: layers[0], using: &generator) }
        let batch = try mlp.gradients(of: samples, parameters: parameters)
        let (results, sum) = try mlp.gradientSum(of: samples, parameters: parameters)
        #expect(results.map(\.loss) == batch.results.map(\.loss) || zip(results, batch.results).allSatisfy { relativeError(Double($0.loss), Double($1.loss)) < 1e-6 })
        for i in 0..<mlp.layout.count {
            let terms = (0..<samples.count).map { Double(batch.storage[$0 * mlp.layout.count + i]) }
            // Float32 accumulation of terms that cancel: the error scales with the sum of magnitudes.
            let scale = terms.map(abs).reduce(0, +)
            #expect(abs(terms.reduce(0, +) - Double(sum.storage[i])) <= 1e-6 * scale + 1e-9, "flat index \(i)")
        }
    }
}
