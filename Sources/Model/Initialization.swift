/// How a model's first parameters are drawn. Biases start at zero in both schemes.
public enum Initialization: String, Sendable, CaseIterable {
    /// Weights uniform in ±sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010).
    case glorot
    /// Weights uniform in [0, 1), as in the reference experiment.
    case uniform01

    /// Fills every entry of `layout`. `fans` gives (fan_in, fan_out) of a weight entry, or nil for a bias.
    func makeParameters(
        _ layout: ParameterLayout, seed: UInt64,
        fans: (ParameterLayout.Entry) -> (fanIn: Int, fanOut: Int)?
    ) -> TensorSet {
        var generator = SeededGenerator(seed: seed)
        var parameters = TensorSet(zerosFor: layout)
        for entry in layout.entries {
            guard let (fanIn, fanOut) = fans(entry) else { continue }
            let limit: Float = switch self {
            case .glorot: (6 / Float(fanIn + fanOut)).squareRoot()
            case .uniform01: 1
            }
            let low: Float = self == .glorot ? -limit : 0
            for i in entry.range {
                parameters.storage[i] = Float.random(in: low..<limit, using: &generator)
            }
        }
        return parameters
    }
}
