import Testing
@testable import Model

/// Every activation x loss, depths 1 to 4, one and several outputs, with and without an output
/// bias, dense and graph: the library's gradients (both per-sample paths) against central
/// differences of an independent Float64 implementation (ReferenceDense, ReferenceGCN), each
/// entry within its Float32 rounding bound plus the finite-difference error (see
/// `expectMatchesCentralDifferences`); the outputs within their bounds of the reference's.
@Suite struct ConfigurableNetworkTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var activation: Activation, loss: Loss, depth: Int, outputs: Int, bias: Bool
        var options: NetworkOptions { NetworkOptions(activation: activation, outputs: outputs, loss: loss, outputBias: bias) }
        var testDescription: String { "\(activation) \(loss.rawValue) depth \(depth) K=\(outputs)\(bias ? " bias" : "")" }
    }

    /// softmax needs at least two classes, so it has no K = 1 case.
    static let cases: [Case] = Activation.allCases.flatMap { activation in
        Loss.allCases.flatMap { loss in
            (1...4).flatMap { depth in
                [1, 3].filter { loss != .softmaxCrossEntropy || $0 > 1 }.flatMap { outputs in
                    [false, true].map { Case(activation: activation, loss: loss, depth: depth, outputs: outputs, bias: $0) }
                }
            }
        }
    }

    static func target(for loss: Loss, outputs: Int, using generator: inout SeededGenerator) -> Target {
        switch loss {
        case .softmaxCrossEntropy: return .number(Float(Int.random(in: 0..<outputs, using: &generator)))
        case .squaredError, .sigmoidCrossEntropy:
            let values = (0..<outputs).map { _ in Float.random(in: 0...1, using: &generator) }
            return outputs == 1 ? .number(values[0]) : .numbers(values)
        }
    }

    @Test(arguments: cases)
    func denseGradientsMatchCentralDifferences(_ c: Case) throws {
        let layers = [3] + [4, 3, 4, 3].prefix(c.depth)
        let mlp = try MLP(layers: Array(layers), options: c.options)
        // Biases start at zero; random ones exercise them (and move ReLU units off their kink).
        var generator = SeededGenerator(seed: UInt64(c.depth * 10 + c.outputs))
        var parameters = mlp.makeParameters(.glorot, seed: 5)
        for entry in mlp.layout.entries where entry.name.hasPrefix("b") {
            for i in entry.range { parameters.storage[i] = Float.random(in: -0.5..<0.5, using: &generator) }
        }
        let x = (0..<3).map { _ in Float.random(in: -1..<1, using: &generator) }
        let sample = Sample(.vector(x), target: Self.target(for: c.loss, outputs: c.outputs, using: &generator))
        var reference = ReferenceDense(layers: Array(layers), options: c.options, flat: parameters.storage.map(Double.init))
        let bounds = reference.lossGradient(x, sample.target)

        let batched = try mlp.gradients(of: [sample], parameters: parameters)
        let (results, sum) = try mlp.gradientSum(of: [sample], parameters: parameters)
        let flat = reference.flat
        for (path, gradient) in [("batched ", batched.gradient(0)), ("sum ", sum)] {
            expectMatchesCentralDifferences(gradient, bounds: bounds, at: flat, path) { moved in
                reference.flat = moved
                return reference.loss(x, sample.target)
            }
        }
        reference.flat = flat
        expectWithinRounding(batched.results.outputs + results.outputs, reference.outputs(x) * 2) { "output \($0)" }
        expectWithinRounding(batched.results.losses + results.losses, [reference.loss(x, sample.target)] * 2) { "loss \($0)" }

        // Three samples summed (the sum's products and row sums over several rows): within the
        // bound of a sum in any order of the reference's per-sample gradients.
        let three = [sample] + (0..<2).map { _ in
            Sample(.vector((0..<3).map { _ in Float.random(in: -1..<1, using: &generator) }),
                   target: Self.target(for: c.loss, outputs: c.outputs, using: &generator))
        }
        let perSample = three.map { reference.lossGradient($0.input.vector, $0.target) }
        let (_, threeSum) = try mlp.gradientSum(of: three, parameters: parameters)
        expectWithinRounding(threeSum.storage, perSample[0].indices.map { i in Rounded.sum(perSample.map { $0[i] }) }) { "sum of three, flat index \($0)" }
    }

    @Test(arguments: cases)
    func graphGradientsMatchCentralDifferences(_ c: Case) throws {
        let features = 3, hidden = Array([3, 4, 3, 3].prefix(c.depth))
        let readout: GCN.Readout = c.bias ? .mean : .sum
        let gcn = try GCN(features: features, hidden: hidden, readout: readout, options: c.options)
        var generator = SeededGenerator(seed: UInt64(c.depth * 10 + c.outputs + 100))
        var parameters = gcn.makeParameters(.glorot, seed: 9)
        for entry in gcn.layout.entries where entry.name.hasPrefix("b") {
            for i in entry.range { parameters.storage[i] = Float.random(in: -0.5..<0.5, using: &generator) }
        }
        let graph = TestGraphs.make(nodes: 3, edges: [(0, 1), (1, 2)], features: features, generator: &generator)
        let target = Self.target(for: c.loss, outputs: c.outputs, using: &generator)
        let sample = Sample(.graph(graph), target: target)
        var reference = ReferenceGCN(parameters, widths: [features] + hidden, readout: readout, options: c.options)
        let bounds = reference.meanLossGradient([graph], [target])

        let analytic = try gcn.gradients(of: [sample], parameters: parameters)
        // slack 2: the library's sparse propagation forms s_i (s_j m_j) where the dense reference
        // forms (s_i s_j) m_j, the same roundings regrouped (as in GCNTests).
        expectMatchesCentralDifferences(analytic.gradient(0), bounds: bounds, slack: 2, at: reference.flat) { moved in
            reference.flat = moved
            return reference.meanLoss([graph], [target])
        }
        reference.flat = parameters.storage.map(Double.init)
        expectWithinRounding(analytic.results.outputs, reference.outputs([graph]), slack: 2) { "output \($0)" }
    }

    /// Logits of ±1000 overflow a naive exp; the stable forms give exact, finite answers.
    @Test func classificationLossesAreFiniteAtExtremeLogits() {
        func evaluate(_ loss: Loss, _ y: [Float], _ t: Target) -> (Float, [Float]) {
            var dy = [Float](repeating: .nan, count: y.count)
            let value = y.withUnsafeBufferPointer { loss.evaluate($0.baseAddress!, count: y.count, target: t, gradient: &dy) }
            return (value, dy)
        }
        // log(e^1000 + e^-1000 + e^0) - y_t: 1000 + log(1 + e^-1000 + e^-2000), which is 1000 in Float32.
        #expect(evaluate(.softmaxCrossEntropy, [1000, -1000, 0], .number(1)) == (2000, [1, -1, 0]))
        #expect(evaluate(.softmaxCrossEntropy, [1000, -1000, 0], .number(0)) == (0, [0, 0, 0]))
        // softplus(1000) - 0 = 1000, softplus(-1000) + 1000 = 1000; d = σ(y) - t.
        #expect(evaluate(.sigmoidCrossEntropy, [1000, -1000], .numbers([0, 1])) == (2000, [1, -1]))
        #expect(evaluate(.sigmoidCrossEntropy, [1000, -1000], .numbers([1, 0])) == (0, [0, 0]))
    }

    /// The same through a network: output weights zero, output biases ±1000.
    @Test func aClassifierWithExtremeLogitsHasFiniteGradients() throws {
        let mlp = try MLP(layers: [2, 3], options: NetworkOptions(outputs: 3, loss: .softmaxCrossEntropy, outputBias: true))
        var parameters = mlp.makeParameters(.glorot, seed: 1)
        parameters.storage.replaceSubrange(mlp.layout.entry(named: "W2")!.range, with: repeatElement(0, count: 9))
        parameters.storage.replaceSubrange(mlp.layout.entry(named: "b2")!.range, with: [1000, -1000, 0])
        let batch = try mlp.gradients(of: [Sample(.vector([0.5, -0.5]), target: .number(1))], parameters: parameters)
        #expect(batch.results.outputs == [1000, -1000, 0])
        #expect(batch.results.losses == [2000])
        #expect(batch.gradient(0)["b2"]!.data == [1, -1, 0])
        #expect(batch.storage.allSatisfy { $0.isFinite })
    }

    @Test func targetsOfTheWrongKindAreNamed() throws {
        func problem(_ options: NetworkOptions, _ t: Target) -> ModelError? {
            let mlp = try! MLP(layers: [2, 2], options: options)
            do {
                _ = try mlp.gradients(of: [Sample(.vector([1, 2]), target: t)], parameters: mlp.makeParameters(.glorot, seed: 1))
                return nil
            } catch {
                return error
            }
        }
        let softmax = NetworkOptions(outputs: 3, loss: .softmaxCrossEntropy)
        #expect(problem(softmax, .number(3)) == .invalidTarget("samples[0].target: expected a class index, an integer in [0, 3), got 3.0"))
        #expect(problem(softmax, .number(1.5)) == .invalidTarget("samples[0].target: expected a class index, an integer in [0, 3), got 1.5"))
        #expect(problem(softmax, .numbers([0, 1, 0])) == .invalidTarget("samples[0].target: expected a class index, an integer in [0, 3), got a list of 3"))
        #expect(problem(NetworkOptions(outputs: 2), .number(1)) == .invalidTarget("samples[0].target: expected a list of 2 numbers (one per output), got a number"))
        #expect(problem(NetworkOptions(outputs: 2), .numbers([1, 2, 3])) == .invalidTarget("samples[0].target: expected a list of 2 numbers (one per output), got a list of 3"))
        #expect(problem(NetworkOptions(), .numbers([1, 2])) == .invalidTarget("samples[0].target: expected a number, got a list of 2"))
        #expect(problem(NetworkOptions(outputs: 2, loss: .sigmoidCrossEntropy), .numbers([0, 1.5])) == .invalidTarget("samples[0].target[1]: expected a number in [0, 1], got 1.5"))
        #expect(problem(NetworkOptions(), .number(.infinity)) == .nonFinite("samples[0].target: inf is not finite"))
        #expect(problem(NetworkOptions(outputs: 3, loss: .softmaxCrossEntropy), .number(2)) == nil)
        #expect(problem(NetworkOptions(), .numbers([2])) == nil)
    }
}

extension Array {
    static func * (array: Array, times: Int) -> Array { (0..<times).flatMap { _ in array } }
}

