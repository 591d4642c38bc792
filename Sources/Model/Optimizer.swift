#if canImport(Glibc)
import Glibc
#endif

/// Which update rule the server applies to a posted gradient, and its hyperparameters.
public struct OptimizerConfiguration: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// p -= lr · g
        case sgd
        /// v = μ v + g;  p -= lr · v   (the PyTorch form)
        case momentum
        /// Kingma & Ba (2015), with bias correction.
        case adam
    }

    public var kind: Kind
    public var learningRate: Float
    public var momentum: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    /// When set, a gradient whose global L2 norm exceeds it is scaled down to this norm.
    public var clipNorm: Float?
    public var schedule: LearningRateSchedule

    public init(
        kind: Kind = .sgd, learningRate: Float = 0.001, momentum: Float = 0.9,
        beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
        clipNorm: Float? = nil, schedule: LearningRateSchedule = .constant
    ) {
        self.kind = kind
        self.learningRate = learningRate
        self.momentum = momentum
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.clipNorm = clipNorm
        self.schedule = schedule
    }

    public func validate() throws(ModelError) {
        guard learningRate.isFinite, learningRate > 0 else {
            throw .invalidConfiguration("lr: expected a finite number > 0, got \(learningRate)")
        }
        guard momentum.isFinite, (0..<1).contains(momentum) else {
            throw .invalidConfiguration("momentum: expected a number in [0, 1), got \(momentum)")
        }
        guard (0..<1).contains(beta1), (0..<1).contains(beta2) else {
            throw .invalidConfiguration("beta1, beta2: expected numbers in [0, 1), got \(beta1), \(beta2)")
        }
        guard epsilon.isFinite, epsilon > 0 else {
            throw .invalidConfiguration("epsilon: expected a finite number > 0, got \(epsilon)")
        }
        if let clipNorm, !(clipNorm.isFinite && clipNorm > 0) {
            throw .invalidConfiguration("clip-norm: expected a finite number > 0, got \(clipNorm)")
        }
        try schedule.validate()
    }
}

/// What an optimizer carries from step to step; it belongs to the training state and is saved with it.
public struct OptimizerState: Sendable, Equatable {
    /// Steps applied so far.
    public var step: Int
    /// Momentum's velocity, or Adam's first moment; laid out like the parameters.
    public var first: [Float]
    /// Adam's second moment; empty for the other optimizers.
    public var second: [Float]

    public init(step: Int = 0, first: [Float], second: [Float]) {
        self.step = step
        self.first = first
        self.second = second
    }
}

/// A gradient for some or all parameters, checked against a layout: known names, exact shapes, finite values.
public struct GradientUpdate: Sendable {
    public let layout: ParameterLayout
    /// Posted entries in layout order, with their values.
    public let entries: [(entry: ParameterLayout.Entry, values: [Float])]

    public init(layout: ParameterLayout, tensors: [String: Tensor]) throws(ModelError) {
        guard !tensors.isEmpty else {
            throw .unknownParameter("gradients: expected at least one of \(layout.names.joined(separator: ", ")), got none")
        }
        for name in tensors.keys.sorted() where layout.index(of: name) == nil {
            throw .unknownParameter("\(name): not a parameter of this model (expected one of \(layout.names.joined(separator: ", ")))")
        }
        var entries: [(ParameterLayout.Entry, [Float])] = []
        for entry in layout.entries {
            guard let tensor = tensors[entry.name] else { continue }
            try entry.check(tensor)
            entries.append((entry, tensor.data))
        }
        self.layout = layout
        self.entries = entries
    }

    /// A full gradient, such as a client's average.
    public init(_ gradient: TensorSet) throws(ModelError) {
        try self.init(layout: gradient.layout, tensors: gradient.namedTensors)
    }

    /// The L2 norm over every posted value, accumulated in Float64.
    public var norm: Double {
        var sum = 0.0
        for (_, values) in entries {
            for g in values { sum += Double(g) * Double(g) }
        }
        return sum.squareRoot()
    }
}

/// Applies posted gradients to parameters, one step at a time.
public struct Optimizer: Sendable {
    public let configuration: OptimizerConfiguration

    public init(_ configuration: OptimizerConfiguration) throws(ModelError) {
        try configuration.validate()
        self.configuration = configuration
    }

    public func makeState(for layout: ParameterLayout) -> OptimizerState {
        let zeros = [Float](repeating: 0, count: layout.count)
        return switch configuration.kind {
        case .sgd: OptimizerState(first: [], second: [])
        case .momentum: OptimizerState(first: zeros, second: [])
        case .adam: OptimizerState(first: zeros, second: zeros)
        }
    }

    /// The learning rate of the next step.
    public func learningRate(afterSteps step: Int) -> Float {
        configuration.learningRate * configuration.schedule.factor(afterSteps: step)
    }

    /// One optimizer step. Entries that the update does not name are left alone, moments included.
    /// All or nothing: if the step would make any parameter or moment non-finite, it throws and
    /// changes nothing.
    public func apply(_ update: GradientUpdate, to parameters: inout TensorSet, state: inout OptimizerState) throws(ModelError) {
        guard update.layout == parameters.layout, state.matches(configuration.kind, parameters.layout) else {
            throw .shapeMismatch("optimizer state or gradient layout does not match the parameters")
        }
        var scale: Float = 1
        if let clipNorm = configuration.clipNorm {
            let norm = update.norm
            if norm > Double(clipNorm) { scale = Float(Double(clipNorm) / norm) }
        }
        let step = Step(configuration: configuration, lr: learningRate(afterSteps: state.step),
                        t: state.step + 1, scale: scale)
        // First a dry run that only checks, so that a step which would overflow changes nothing.
        for (entry, values) in update.entries {
            if let index = step.firstNonFiniteResult(values, entry.range, parameters.storage, state) {
                throw .nonFinite("\(entry.name): this step would make the value at flat index \(index - entry.offset) non-finite")
            }
        }
        for (entry, values) in update.entries {
            step.run(values, entry.range, &parameters.storage, &state)
        }
        state.step += 1
    }
}

extension OptimizerState {
    /// Whether this state has the moments that `kind` keeps, sized for `layout`.
    public func matches(_ kind: OptimizerConfiguration.Kind, _ layout: ParameterLayout) -> Bool {
        switch kind {
        case .sgd: first.isEmpty && second.isEmpty
        case .momentum: first.count == layout.count && second.isEmpty
        case .adam: first.count == layout.count && second.count == layout.count
        }
    }
}

/// The arithmetic of one step on one parameter range.
private struct Step {
    let configuration: OptimizerConfiguration
    let lr: Float
    let scale: Float
    let biasCorrection1: Float
    let biasCorrection2: Float

    /// `t` counts steps from 1, as in Adam's bias correction 1 - βᵗ.
    init(configuration: OptimizerConfiguration, lr: Float, t: Int, scale: Float) {
        self.configuration = configuration
        self.lr = lr
        self.scale = scale
        biasCorrection1 = Float(1 - pow(Double(configuration.beta1), Double(t)))
        biasCorrection2 = Float(1 - pow(Double(configuration.beta2), Double(t)))
    }

    /// (new parameter, new first moment, new second moment) for gradient `g` at parameter `p`.
    @inline(__always)
    func update(g rawGradient: Float, p: Float, m: Float, v: Float) -> (Float, Float, Float) {
        let g = rawGradient * scale
        switch configuration.kind {
        case .sgd:
            return (p - lr * g, m, v)
        case .momentum:
            // v = μ v + g;  p -= lr v
            let velocity = configuration.momentum * m + g
            return (p - lr * velocity, velocity, v)
        case .adam:
            // m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²;  p -= lr m̂ / (√v̂ + ε)
            let m = configuration.beta1 * m + (1 - configuration.beta1) * g
            let v = configuration.beta2 * v + (1 - configuration.beta2) * g * g
            let mHat = m / biasCorrection1
            let vHat = v / biasCorrection2
            return (p - lr * mHat / (vHat.squareRoot() + configuration.epsilon), m, v)
        }
    }

    func firstNonFiniteResult(_ values: [Float], _ range: Range<Int>, _ parameters: [Float], _ state: OptimizerState) -> Int? {
        for (k, i) in range.enumerated() {
            let (p, m, v) = update(g: values[k], p: parameters[i],
                                   m: state.first.isEmpty ? 0 : state.first[i],
                                   v: state.second.isEmpty ? 0 : state.second[i])
            if !(p.isFinite && m.isFinite && v.isFinite) { return i }
        }
        return nil
    }

    func run(_ values: [Float], _ range: Range<Int>, _ parameters: inout [Float], _ state: inout OptimizerState) {
        let hasFirst = !state.first.isEmpty, hasSecond = !state.second.isEmpty
        for (k, i) in range.enumerated() {
            let (p, m, v) = update(g: values[k], p: parameters[i],
                                   m: hasFirst ? state.first[i] : 0, v: hasSecond ? state.second[i] : 0)
            parameters[i] = p
            if hasFirst { state.first[i] = m }
            if hasSecond { state.second[i] = v }
        }
    }
}
