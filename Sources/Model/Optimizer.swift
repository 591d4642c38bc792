#if canImport(Glibc)
import Glibc
#endif
import CSIMD

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
        // The first unknown name in sorted order, found without sorting every step's names.
        if let name = tensors.keys.lazy.filter({ layout.index(of: $0) == nil }).min() {
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
        // Every posted entry's new values are computed into a copy and checked before any is
        // stored, so that a step which would overflow changes nothing.
        var results: [Step.Result] = []
        for (entry, values) in update.entries {
            let result = step.run(values, entry.range, parameters.storage, state)
            if let index = result.firstNonFinite() {
                throw .nonFinite("\(entry.name): this step would make the value at flat index \(index) non-finite")
            }
            results.append(result)
        }
        for (result, (entry, _)) in zip(results, update.entries) {
            parameters.storage.replaceSubrange(entry.range, with: result.parameters)
            if !result.first.isEmpty { state.first.replaceSubrange(entry.range, with: result.first) }
            if !result.second.isEmpty { state.second.replaceSubrange(entry.range, with: result.second) }
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

/// The arithmetic of one step on one parameter range: one loop per optimizer, 8 values at a time
/// in SIMD lanes (the compiler kept the scalar loops scalar), with a packed square root (see
/// CSIMD). Each value gets the same IEEE operations in the same order whatever its lane, so the
/// result is the scalar formula's, bit for bit; the last few values go through a zero-padded group.
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

    /// A range's new parameters and moments (a moment the optimizer does not keep is empty).
    struct Result {
        var parameters: [Float]
        var first: [Float]
        var second: [Float]

        /// The first position whose parameter or moment is not finite.
        func firstNonFinite() -> Int? {
            guard !(parameters.allFinite && first.allFinite && second.allFinite) else { return nil }
            return parameters.indices.first { i in
                !(parameters[i].isFinite && (first.isEmpty || first[i].isFinite) && (second.isEmpty || second[i].isFinite))
            }
        }
    }

    func run(_ gradient: [Float], _ range: Range<Int>, _ parameters: [Float], _ state: OptimizerState) -> Result {
        var result = Result(parameters: Array(parameters[range]),
                            first: state.first.isEmpty ? [] : Array(state.first[range]),
                            second: state.second.isEmpty ? [] : Array(state.second[range]))
        let (lr, scale) = (Lanes(repeating: lr), Lanes(repeating: scale))
        let count = range.count
        gradient.withUnsafeBufferPointer { g in
            result.parameters.withUnsafeMutableBufferPointer { p in
                // An empty range has nothing to step (and no storage); the moments have p's count.
                guard let g = g.baseAddress, let p = p.baseAddress else { return }
                switch configuration.kind {
                case .sgd:
                    Lanes.forEachGroup(count) { i, n in
                        Lanes.store(Lanes.load(p, i, n) - lr * (Lanes.load(g, i, n) * scale), p, i, n)
                    }
                case .momentum:
                    // v = μ v + g;  p -= lr v
                    let momentum = Lanes(repeating: configuration.momentum)
                    result.first.withUnsafeMutableBufferPointer { v in
                        let v = v.baseAddress!
                        Lanes.forEachGroup(count) { i, n in
                            let velocity = momentum * Lanes.load(v, i, n) + Lanes.load(g, i, n) * scale
                            Lanes.store(velocity, v, i, n)
                            Lanes.store(Lanes.load(p, i, n) - lr * velocity, p, i, n)
                        }
                    }
                case .adam:
                    // m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²;  p -= lr m̂ / (√v̂ + ε)
                    let (beta1, beta2) = (Lanes(repeating: configuration.beta1), Lanes(repeating: configuration.beta2))
                    let (oneMinusBeta1, oneMinusBeta2) = (Lanes(repeating: 1 - configuration.beta1), Lanes(repeating: 1 - configuration.beta2))
                    let epsilon = Lanes(repeating: configuration.epsilon)
                    let (correction1, correction2) = (Lanes(repeating: biasCorrection1), Lanes(repeating: biasCorrection2))
                    result.first.withUnsafeMutableBufferPointer { m in
                        result.second.withUnsafeMutableBufferPointer { v in
                            let (m, v) = (m.baseAddress!, v.baseAddress!)
                            Lanes.forEachGroup(count) { i, n in
                                let gi = Lanes.load(g, i, n) * scale
                                let mi = beta1 * Lanes.load(m, i, n) + oneMinusBeta1 * gi
                                let vi = beta2 * Lanes.load(v, i, n) + oneMinusBeta2 * gi * gi
                                Lanes.store(mi, m, i, n)
                                Lanes.store(vi, v, i, n)
                                Lanes.store(Lanes.load(p, i, n) - lr * (mi / correction1) / (csimd_sqrt8(vi / correction2) + epsilon), p, i, n)
                            }
                        }
                    }
                }
            }
        }
        return result
    }
}

private typealias Lanes = SIMD8<Float>

extension SIMD8<Float> {
    /// Calls `body(i, n)` for groups of n = 8 values starting at i, and once more for the last
    /// 1 to 7 values.
    @inline(__always)
    fileprivate static func forEachGroup(_ count: Int, _ body: (Int, Int) -> Void) {
        var i = 0
        while i < count {
            body(i, Swift.min(8, count - i))
            i += 8
        }
    }

    /// Values i..<i+n, zero in the lanes past n.
    @inline(__always)
    fileprivate static func load(_ base: UnsafePointer<Float>, _ i: Int, _ n: Int) -> Self {
        if n == 8 { return UnsafeRawPointer(base + i).loadUnaligned(as: Self.self) }
        var lanes = Self(repeating: 0)
        for k in 0..<n { lanes[k] = base[i + k] }
        return lanes
    }

    /// Stores lanes 0..<n at i..<i+n.
    @inline(__always)
    fileprivate static func store(_ lanes: Self, _ base: UnsafeMutablePointer<Float>, _ i: Int, _ n: Int) {
        if n == 8 { return UnsafeMutableRawPointer(base + i).storeBytes(of: lanes, as: Self.self) }
        for k in 0..<n { base[i + k] = lanes[k] }
    }
}
