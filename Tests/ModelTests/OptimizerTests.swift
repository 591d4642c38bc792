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
