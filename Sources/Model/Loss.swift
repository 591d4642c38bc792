#if canImport(Glibc)
import Glibc
#endif

/// A sample's target: one number, or several. A class index is a number (an integer).
public enum Target: Sendable, Equatable {
    case number(Float)
    case numbers([Float])

    /// Value `k` (0 for a number), without building an array.
    @inline(__always)
    subscript(k: Int) -> Float {
        switch self {
        case .number(let value): value
        case .numbers(let values): values[k]
        }
    }

    /// The values, as many as the target holds.
    public var values: [Float] {
        switch self {
        case .number(let value): [value]
        case .numbers(let values): values
        }
    }
}

/// The per-sample loss every network is trained with, on its K outputs y.
public enum Loss: String, Sendable, CaseIterable {
    /// Σ_k (y_k - t_k)², with no 1/2 and no mean over outputs (as the reference network).
    case squaredError = "squared_error"
    /// -log softmax(y)_t for a class index t in [0, K).
    case softmaxCrossEntropy = "softmax_cross_entropy"
    /// Σ_k softplus(y_k) - t_k y_k for targets in [0, 1] (multi-label).
    case sigmoidCrossEntropy = "sigmoid_cross_entropy"

    public var isClassification: Bool { self != .squaredError }

    /// Throws, naming the problem (under the name `target`), when `target` is not something this loss reads for K outputs.
    public func validate(_ target: Target, outputs: Int) throws(ModelError) {
        switch self {
        case .squaredError, .sigmoidCrossEntropy:
            let count: Int
            switch target {
            case .number: count = 1
            case .numbers(let values): count = values.count
            }
            let kind = self == .squaredError ? "numbers" : "numbers in [0, 1]"
            guard count == outputs else {
                let got = if case .number = target { "a number" } else { "a list of \(count)" }
                throw .invalidTarget(outputs == 1 ? "target: expected a number, got \(got)" : "target: expected a list of \(outputs) \(kind) (one per output), got \(got)")
            }
            func name(_ k: Int) -> String { outputs == 1 ? "target" : "target[\(k)]" }
            for k in 0..<count {
                let value = target[k]
                guard value.isFinite else { throw .nonFinite("\(name(k)): \(value) is not finite") }
                if self == .sigmoidCrossEntropy, !(0...1).contains(value) {
                    throw .invalidTarget("\(name(k)): expected a number in [0, 1], got \(value)")
                }
            }
        case .softmaxCrossEntropy:
            guard case .number(let value) = target, value.isFinite, value == value.rounded(), (0..<Float(outputs)).contains(value) else {
                let got = switch target {
                case .number(let value): "\(value)"
                case .numbers(let values): "a list of \(values.count)"
                }
                throw .invalidTarget("target: expected a class index, an integer in [0, \(outputs)), got \(got)")
            }
        }
    }

    /// The loss of one sample with outputs `y` (K of them) and a validated target; writes
    /// d loss / d y into `dy` (K values).
    func evaluate(_ y: UnsafePointer<Float>, count: Int, target: Target, gradient dy: UnsafeMutablePointer<Float>) -> Float {
        switch self {
        case .squaredError:
            if count == 1, case .number(let t) = target {
                let residual = y[0] - t
                dy[0] = 2 * residual
                return residual * residual
            }
            var loss: Float = 0
            for k in 0..<count {
                let residual = y[k] - target[k]
                dy[k] = 2 * residual
                loss += residual * residual
            }
            return loss
        case .softmaxCrossEntropy:
            guard case .number(let index) = target else { preconditionFailure("validate(_:outputs:) first") }
            // log Σ e^y = m + log Σ e^(y - m), m = max y: finite for any finite logits.
            var m = -Float.infinity
            for k in 0..<count { m = max(m, y[k]) }
            var sum: Float = 0
            for k in 0..<count {
                dy[k] = expf(y[k] - m)
                sum += dy[k]
            }
            for k in 0..<count { dy[k] /= sum }
            let t = Int(index)
            dy[t] -= 1
            return m + logf(sum) - y[t]
        case .sigmoidCrossEntropy:
            var loss: Float = 0
            for k in 0..<count {
                // softplus(y) = max(y, 0) + log(1 + e^-|y|), finite for any finite y.
                loss += max(y[k], 0) + log1pf(expf(-abs(y[k]))) - target[k] * y[k]
                dy[k] = Activation.sigmoid(y[k]) - target[k]
            }
            return loss
        }
    }

    /// What a classifier's outputs mean: the probabilities of the classes (softmax) or of each
    /// label (sigmoid). Nil for squared error.
    public func probabilities(of y: ArraySlice<Float>) -> [Float]? {
        switch self {
        case .squaredError:
            return nil
        case .sigmoidCrossEntropy:
            return y.map(Activation.sigmoid)
        case .softmaxCrossEntropy:
            let m = y.max() ?? 0
            let e = y.map { expf($0 - m) }
            let sum = e.reduce(0, +)
            return e.map { $0 / sum }
        }
    }
}
