/// What the model library refuses, with a message that names the parameter or the part of a
/// sample (in the model's terms: `samples[3].input`, `samples[3].input.nodes[2]`,
/// `samples[3].target`) and the shapes or values. The wire layer renames a sample's parts to the
/// JSON fields they come from (`ModelError.withWireNames`).
public enum ModelError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A shape that cannot describe a tensor.
    case invalidShape(String)
    /// A tensor or input whose shape differs from what the model expects.
    case shapeMismatch(String)
    /// A NaN or infinite value.
    case nonFinite(String)
    /// A parameter name the model does not have, or a missing one.
    case unknownParameter(String)
    /// A graph that breaks the rules of a graph sample.
    case invalidGraph(String)
    /// A configuration value out of range.
    case invalidConfiguration(String)
    /// A target of the wrong kind or range for the model's loss and outputs.
    case invalidTarget(String)

    public var message: String {
        switch self {
        case .invalidShape(let m), .shapeMismatch(let m), .nonFinite(let m),
             .unknownParameter(let m), .invalidGraph(let m), .invalidConfiguration(let m), .invalidTarget(let m):
            return m
        }
    }

    /// A stable machine-readable name, used as the `code` of an API error.
    public var code: String {
        switch self {
        case .invalidShape: "invalid_shape"
        case .shapeMismatch: "shape_mismatch"
        case .nonFinite: "non_finite"
        case .unknownParameter: "unknown_parameter"
        case .invalidGraph: "invalid_graph"
        case .invalidConfiguration: "invalid_configuration"
        case .invalidTarget: "invalid_target"
        }
    }

    public var description: String { "\(code): \(message)" }
}
