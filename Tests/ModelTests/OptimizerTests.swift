import Foundation
import Testing
@testable import Model

@Suite struct OptimizerTests {
    let layout = ParameterLayout([("w", [2])])

    func twoSteps(_ configuration: OptimizerConfiguration) throws -> [(p: [Float], state: OptimizerState)] {
        let optimizer = try Optimizer(configuration)
        var parameters = TensorSet(layout: layout, storage: [1, -2])
        var state = optimizer.makeState(for: layout)
        var trace: [([Float], OptimizerState)] = []
        for g: [Float] in [[0.5, 0.1], [-0.25, 0.3]] {
            try optimizer.apply(GradientUpdate(layout: layout, tensors: ["w": Tensor(shape: [2], data: g)]),
                                to: &parameters, state: &state)
            trace.append((parameters.storage, state))
        }
        return trace
    }

    /// Expected values from NumPy in float64 with the textbook formulas (see KnownValuesTests).
    @Test func adamTwoStepsGiveKnownValues() throws {
        let trace = try twoSteps(OptimizerConfiguration(kind: .adam, learningRate: 0.1))
        expectClose(trace[0].p, [0.900000002, -2.09999999])
        expectClose(trace[1].p, [0.8733662987078463, -2.19177809779441])
        expectClose(trace[1].state.first, [0.02, 0.039])
        // 1 - β2 is 0.0010000467 in Float32, so the second moment is off by ~5e-6 relative.
        expectClose(trace[1].state.second, [0.00031225, 9.999e-05], tolerance: 1e-5)
        #expect(trace[1].state.step == 2)
    }

    @Test func momentumTwoStepsGiveKnownValues() throws {
        let trace = try twoSteps(OptimizerConfiguration(kind: .momentum, learningRate: 0.1, momentum: 0.9))
        expectClose(trace[0].p, [0.95, -2.01])
        expectClose(trace[1].p, [0.93, -2.049])
        expectClose(trace[1].state.first, [0.2, 0.39])
    }

    @Test func clippingRescalesToTheGivenNorm() throws {
        let optimizer = try Optimizer(OptimizerConfiguration(kind: .sgd, learningRate: 1, clipNorm: 1))
        var parameters = TensorSet(layout: layout, storage: [10, 10])
        var state = optimizer.makeState(for: layout)
        try optimizer.apply(GradientUpdate(layout: layout, tensors: ["w": Tensor(shape: [2], data: [3, 4])]),
                            to: &parameters, state: &state)
        expectClose(parameters.storage, [9.4, 9.2])

        // A gradient already inside the norm is not scaled.
        try optimizer.apply(GradientUpdate(layout: layout, tensors: ["w": Tensor(shape: [2], data: [0.3, 0.4])]),
                            to: &parameters, state: &state)
        expectClose(parameters.storage, [9.1, 8.8])
    }

    @Test func partialUpdateLeavesOtherParametersAndMomentsAlone() throws {
        let layout = ParameterLayout([("a", [2]), ("b", [1])])
        let optimizer = try Optimizer(OptimizerConfiguration(kind: .adam, learningRate: 0.1))
        var parameters = TensorSet(layout: layout, storage: [1, 2, 3])
        var state = optimizer.makeState(for: layout)
        try optimizer.apply(GradientUpdate(layout: layout, tensors: ["b": Tensor(shape: [1], data: [1])]),
                            to: &parameters, state: &state)
        #expect(parameters.storage[0...1] == [1, 2])
        #expect(state.first[0...1] == [0, 0] && state.second[0...1] == [0, 0])
        expectClose([parameters.storage[2]], [2.9])
    }

    @Test func cosineScheduleGoesFromBaseToFinalFactorThenStaysFlat() throws {
        let schedule = LearningRateSchedule.cosine(decaySteps: 100, finalFactor: 0.1)
        #expect(schedule.factor(afterSteps: 0) == 1)
        expectClose([schedule.factor(afterSteps: 50)], [0.55])
        expectClose([schedule.factor(afterSteps: 100)], [0.1])
        expectClose([schedule.factor(afterSteps: 5000)], [0.1])
        let optimizer = try Optimizer(OptimizerConfiguration(kind: .sgd, learningRate: 0.2, schedule: schedule))
        expectClose([optimizer.learningRate(afterSteps: 50)], [0.11])
    }

    @Test func aStepThatWouldOverflowIsRefusedAndChangesNothing() throws {
        let optimizer = try Optimizer(OptimizerConfiguration(kind: .momentum, learningRate: 1e30))
        var parameters = TensorSet(layout: layout, storage: [1, 2])
        var state = optimizer.makeState(for: layout)
        let before = (parameters, state)
        #expect(throws: ModelError.self) {
            try optimizer.apply(GradientUpdate(layout: layout, tensors: ["w": Tensor(shape: [2], data: [1, 1e10])]),
                                to: &parameters, state: &state)
        }
        #expect(parameters == before.0 && state == before.1)
    }

    /// A moment can overflow while the parameter stays finite (Adam: g² is infinite, so the step
    /// divides by an infinite root and moves the parameter by 0). That step is refused too, and an
    /// earlier entry that stepped fine keeps its parameters and moments as they were.
    @Test func aStepWhoseMomentWouldOverflowIsRefusedAndChangesNothing() throws {
        let optimizer = try Optimizer(OptimizerConfiguration(kind: .adam, learningRate: 0.01))
        let layout = ParameterLayout([("a", [3]), ("b", [20])])
        var parameters = TensorSet(layout: layout, storage: (0..<23).map { Float($0) / 10 })
        var state = optimizer.makeState(for: layout)
        try optimizer.apply(GradientUpdate(layout: layout, tensors: ["a": Tensor(shape: [3], data: [1, 2, 3]),
                                                                    "b": Tensor(shape: [20], data: [Float](repeating: 0.5, count: 20))]),
                            to: &parameters, state: &state)
        let before = (parameters, state)
        var b = [Float](repeating: 0.5, count: 20)
        b[11] = 1e30  // (1 - β2) g g = 1e57 overflows; m = 1e29 does not
        #expect(throws: ModelError.nonFinite("b: this step would make the value at flat index 11 non-finite")) {
            try optimizer.apply(GradientUpdate(layout: layout, tensors: ["a": Tensor(shape: [3], data: [1, 2, 3]),
                                                                        "b": Tensor(shape: [20], data: b)]),
                                to: &parameters, state: &state)
        }
        #expect(parameters == before.0 && state == before.1)
        #expect(state.step == 1)
    }

    /// The step runs as vectorised loops over whole ranges; each value must still get exactly the
    /// scalar formula's IEEE operations (no reassociation, no fused multiply-add), so the result is
    /// compared bit for bit with the formula written out here, over 1,003 values (not a multiple of
    /// any vector width, so the loops' tails run too), three steps, with and without clipping.
    @Test(arguments: [OptimizerConfiguration.Kind.sgd, .momentum, .adam], [nil, Float(0.5)])
    func stepsAreTheScalarFormulaBitForBit(kind: OptimizerConfiguration.Kind, clipNorm: Float?) throws {
        let configuration = OptimizerConfiguration(kind: kind, learningRate: 0.01, momentum: 0.9, clipNorm: clipNorm)
        let optimizer = try Optimizer(configuration)
        let layout = ParameterLayout([("a", [1000]), ("b", [3])])
        var generator = SeededGenerator(seed: 7)
        let initial = (0..<layout.count).map { _ in Float.random(in: -1..<1, using: &generator) }
        var parameters = TensorSet(layout: layout, storage: initial)
        var state = optimizer.makeState(for: layout)
        var (p, m, v) = (initial, [Float](repeating: 0, count: layout.count), [Float](repeating: 0, count: layout.count))
        for t in 1...3 {
            let g = (0..<layout.count).map { _ in Float.random(in: -2..<2, using: &generator) }
            let lr = optimizer.learningRate(afterSteps: t - 1)
            let update = try GradientUpdate(layout: layout, tensors: ["a": Tensor(shape: [1000], data: Array(g[..<1000])),
                                                                      "b": Tensor(shape: [3], data: Array(g[1000...]))])
            let norm = update.norm
            let scale: Float = clipNorm.map { norm > Double($0) ? Float(Double($0) / norm) : 1 } ?? 1
            let c1 = Float(1 - pow(Double(configuration.beta1), Double(t))), c2 = Float(1 - pow(Double(configuration.beta2), Double(t)))
            for i in p.indices {
                let gi = g[i] * scale
                switch kind {
                case .sgd:
                    p[i] = p[i] - lr * gi
                case .momentum:
                    m[i] = configuration.momentum * m[i] + gi
                    p[i] = p[i] - lr * m[i]
                case .adam:
                    m[i] = configuration.beta1 * m[i] + (1 - configuration.beta1) * gi
                    v[i] = configuration.beta2 * v[i] + (1 - configuration.beta2) * gi * gi
                    let mHat = m[i] / c1, vHat = v[i] / c2
                    p[i] = p[i] - lr * mHat / (vHat.squareRoot() + configuration.epsilon)
                }
            }
            try optimizer.apply(update, to: &parameters, state: &state)
            #expect(parameters.storage.map(\.bitPattern) == p.map(\.bitPattern), "step \(t)")
            if kind != .sgd { #expect(state.first.map(\.bitPattern) == m.map(\.bitPattern), "step \(t)") }
            if kind == .adam { #expect(state.second.map(\.bitPattern) == v.map(\.bitPattern), "step \(t)") }
        }
    }

    /// The refusal names the first value that would overflow, by its index in its tensor.
    @Test func anOverflowIsNamedByItsIndexInItsTensor() throws {
        let optimizer = try Optimizer(OptimizerConfiguration(kind: .sgd, learningRate: 1e30))
        let layout = ParameterLayout([("a", [5]), ("b", [100])])
        var parameters = TensorSet(layout: layout, storage: [Float](repeating: 1, count: 105))
        var state = optimizer.makeState(for: layout)
        var b = [Float](repeating: 1, count: 100)
        b[37] = 1e10
        b[80] = 1e10
        #expect(throws: ModelError.nonFinite("b: this step would make the value at flat index 37 non-finite")) {
            try optimizer.apply(GradientUpdate(layout: layout, tensors: ["a": Tensor(shape: [5], data: [1, 1, 1, 1, 1]),
                                                                        "b": Tensor(shape: [100], data: b)]),
                                to: &parameters, state: &state)
        }
        #expect(parameters.storage == [Float](repeating: 1, count: 105), "the entry before it is left alone too")
    }

    @Test(arguments: [
        OptimizerConfiguration(learningRate: 0), OptimizerConfiguration(learningRate: .nan),
        OptimizerConfiguration(kind: .momentum, momentum: 1), OptimizerConfiguration(clipNorm: -1),
        OptimizerConfiguration(schedule: .cosine(decaySteps: 0, finalFactor: 0.1)),
    ])
    func invalidConfigurationsAreRejected(configuration: OptimizerConfiguration) {
        #expect(throws: ModelError.self) { try Optimizer(configuration) }
    }
}

/// Optimizer steps are a few element-wise Float32 operations per entry (no BLAS, no sum across
/// entries), so they give the same bits on every CPU. Against NumPy's float64 values from the same
/// decimals, each entry carries the roundings of its inputs and of a handful of operations, each at
/// most u = 6e-8 relative: 1e-6 (about 16u) leaves room for them, and a wrong formula is off by far more.
func expectClose(_ actual: [Float], _ expected: [Double], tolerance: Double = 1e-6,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, sourceLocation: sourceLocation)
    for (a, e) in zip(actual, expected) {
        #expect(relativeError(Double(a), e, floor: 1e-3) < tolerance, "\(a) vs \(e)", sourceLocation: sourceLocation)
    }
}
