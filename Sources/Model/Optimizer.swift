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
        // Two passes, so that a step which would overflow changes nothing and no copy of the
        // state is made. The first writes the new parameters into a fresh buffer (the old one may
        // be a published snapshot's), checking that every new parameter and moment is finite; the
        // second, once all are, writes the new moments in place with the same arithmetic.
        let old = parameters.storage
        var failed: (entry: ParameterLayout.Entry, values: [Float])?
        let next = [Float](unsafeUninitializedCapacity: old.count) { next, initialized in
            old.withUnsafeBufferPointer { old in
                var posted = update.entries[...]
                for entry in parameters.layout.entries {
                    let range = entry.range
                    guard let (postedEntry, values) = posted.first, postedEntry.offset == entry.offset else {
                        if !range.isEmpty { (next.baseAddress! + range.lowerBound).initialize(from: old.baseAddress! + range.lowerBound, count: range.count) }
                        continue
                    }
                    posted = posted.dropFirst()
                    guard step.run(values, range, old, state.first, state.second, parameters: next.baseAddress) else {
                        failed = (entry, values)
                        return
                    }
                }
            }
            initialized = failed == nil ? old.count : 0
        }
        if let (entry, values) = failed {
            let index = step.firstNonFinite(values, entry.range, old, state)
            throw .nonFinite("\(entry.name): this step would make the value at flat index \(index) non-finite")
        }
        if configuration.kind != .sgd {
            for (entry, values) in update.entries {
                step.run(values, entry.range, old, moments: &state)
            }
        }
        parameters.storage = next
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

    /// Writes the new parameters of `range` to `parameters` (indexed like the flat storage).
    /// Returns whether every new parameter and moment is finite.
    func run(_ gradient: [Float], _ range: Range<Int>, _ old: UnsafeBufferPointer<Float>, _ first: [Float], _ second: [Float],
             parameters: UnsafeMutablePointer<Float>?) -> Bool {
        first.withUnsafeBufferPointer { first in
            second.withUnsafeBufferPointer { second in
                run(gradient, range, old.baseAddress, first.baseAddress, second.baseAddress, parameters, nil, nil)
            }
        }
    }

    /// Writes the new moments of `range` into `state`, in place (after `run` found every new
    /// value finite).
    func run(_ gradient: [Float], _ range: Range<Int>, _ old: [Float], moments state: inout OptimizerState) {
        _ = old.withUnsafeBufferPointer { old in
            state.first.withUnsafeMutableBufferPointer { first in
                state.second.withUnsafeMutableBufferPointer { second in
                    run(gradient, range, old.baseAddress, first.baseAddress, second.baseAddress, nil, first.baseAddress, second.baseAddress)
                }
            }
        }
    }

    /// Where a step that `run` found non-finite first goes wrong: the index within `range` of
    /// the first new parameter or moment that is not finite.
    func firstNonFinite(_ gradient: [Float], _ range: Range<Int>, _ old: [Float], _ state: OptimizerState) -> Int {
        var values = [Float](repeating: 0, count: old.count)
        var (first, second) = (state.first, state.second)
        _ = old.withUnsafeBufferPointer { old in
            first.withUnsafeMutableBufferPointer { first in
                second.withUnsafeMutableBufferPointer { second in
                    values.withUnsafeMutableBufferPointer { values in
                        run(gradient, range, old.baseAddress, first.baseAddress, second.baseAddress, values.baseAddress, first.baseAddress, second.baseAddress)
                    }
                }
            }
        }
        return range.firstIndex { i in
            !(values[i].isFinite && (first.isEmpty || first[i].isFinite) && (second.isEmpty || second[i].isFinite))
        }.map { $0 - range.lowerBound } ?? 0
    }

    /// The step over `range` (flat indices) of every pointer: reads the gradient (indexed from the
    /// range's start), the parameters and the moments the optimizer keeps; writes the new
    /// parameters and moments where their pointers are given (a moment may be written in place;
    /// without new parameters they are not computed). Returns whether every new value computed is
    /// finite: x - x is 0 for a finite x and NaN otherwise, and a NaN stays in the running sum.
    private func run(_ gradient: [Float], _ range: Range<Int>, _ p: UnsafePointer<Float>?, _ m: UnsafePointer<Float>?, _ v: UnsafePointer<Float>?,
                     _ newP: UnsafeMutablePointer<Float>?, _ newM: UnsafeMutablePointer<Float>?, _ newV: UnsafeMutablePointer<Float>?) -> Bool {
        let count = range.count
        // An empty range has nothing to step (and no storage).
        guard count > 0, let p = p.map({ $0 + range.lowerBound }) else { return true }
        let (m, v) = (m.map { $0 + range.lowerBound }, v.map { $0 + range.lowerBound })
        let (newP, newM, newV) = (newP.map { $0 + range.lowerBound }, newM.map { $0 + range.lowerBound }, newV.map { $0 + range.lowerBound })
        let (lr, scale) = (Lanes(repeating: lr), Lanes(repeating: scale))
        var check = Lanes(repeating: 0)
        gradient.withUnsafeBufferPointer { g in
            let g = g.baseAddress!
            switch configuration.kind {
            case .sgd:
                guard let newP else { break }
                Lanes.forEachGroup(count) { i, n in
                    let pi = Lanes.load(p, i, n) - lr * (Lanes.load(g, i, n) * scale)
                    check += pi - pi
                    Lanes.store(pi, newP, i, n)
                }
            case .momentum:
                // v = μ v + g;  p -= lr v
                let momentum = Lanes(repeating: configuration.momentum)
                let m = m!
                Lanes.forEachGroup(count) { i, n in
                    let velocity = momentum * Lanes.load(m, i, n) + Lanes.load(g, i, n) * scale
                    check += velocity - velocity
                    if let newM { Lanes.store(velocity, newM, i, n) }
                    guard let newP else { return }
                    let pi = Lanes.load(p, i, n) - lr * velocity
                    check += pi - pi
                    Lanes.store(pi, newP, i, n)
                }
            case .adam:
                // m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²;  p -= lr m̂ / (√v̂ + ε)
                let (beta1, beta2) = (Lanes(repeating: configuration.beta1), Lanes(repeating: configuration.beta2))
                let (oneMinusBeta1, oneMinusBeta2) = (Lanes(repeating: 1 - configuration.beta1), Lanes(repeating: 1 - configuration.beta2))
                let epsilon = Lanes(repeating: configuration.epsilon)
                let (correction1, correction2) = (Lanes(repeating: biasCorrection1), Lanes(repeating: biasCorrection2))
                let (m, v) = (m!, v!)
                Lanes.forEachGroup(count) { i, n in
                    let gi = Lanes.load(g, i, n) * scale
                    let mi = beta1 * Lanes.load(m, i, n) + oneMinusBeta1 * gi
                    let vi = beta2 * Lanes.load(v, i, n) + oneMinusBeta2 * gi * gi
                    check += (mi - mi) + (vi - vi)
                    if let newM { Lanes.store(mi, newM, i, n) }
                    if let newV { Lanes.store(vi, newV, i, n) }
                    // The moments' own pass needs no parameters, and skips their division and root.
                    guard let newP else { return }
                    let pi = Lanes.load(p, i, n) - lr * (mi / correction1) / (csimd_sqrt8(vi / correction2) + epsilon)
                    check += pi - pi
                    Lanes.store(pi, newP, i, n)
                }
            }
        }
        return check.sum() == 0
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
