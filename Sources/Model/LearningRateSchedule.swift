#if canImport(Glibc)
import Glibc
#endif

/// How the learning rate changes with the number of steps already applied.
public enum LearningRateSchedule: Sendable, Equatable {
    case constant
    /// From the base rate down to `finalFactor` times it along a half cosine over `decaySteps` steps, then flat.
    case cosine(decaySteps: Int, finalFactor: Float)

    /// The factor on the base learning rate for the step that follows `step` applied steps.
    public func factor(afterSteps step: Int) -> Float {
        switch self {
        case .constant:
            return 1
        case .cosine(let decaySteps, let finalFactor):
            // factor = F + (1 - F) · ½ (1 + cos(π · min(step, N) / N))
            let progress = Double(min(step, decaySteps)) / Double(decaySteps)
            return finalFactor + (1 - finalFactor) * Float(0.5 * (1 + cos(Double.pi * progress)))
        }
    }

    public func validate() throws(ModelError) {
        if case .cosine(let decaySteps, let finalFactor) = self {
            guard decaySteps >= 1 else {
                throw .invalidConfiguration("lr-decay-steps: expected at least 1, got \(decaySteps)")
            }
            guard finalFactor.isFinite, (0...1).contains(finalFactor) else {
                throw .invalidConfiguration("lr-final-factor: expected a number in [0, 1], got \(finalFactor)")
            }
        }
    }
}
