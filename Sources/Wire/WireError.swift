import Model
/// A request or response body that cannot be read as the API's JSON.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not JSON at all: bad syntax, bad UTF-8, nesting too deep. `offset` is the byte where reading stopped.
    case malformed(offset: Int, message: String)
    /// Valid JSON of the wrong form: a missing field, a wrong type, a duplicate key. `path` names the field.
    case invalidField(path: String, message: String)

    public var message: String {
        switch self {
        case .malformed(let offset, let message): "malformed JSON at byte \(offset): \(message)"
        case .invalidField(let path, let message): path.isEmpty ? message : "\(path): \(message)"
        }
    }

    public var code: String {
        switch self {
        case .malformed: "invalid_json"
        case .invalidField: "invalid_field"
        }
    }

    public var description: String { "\(code): \(message)" }
}

extension ModelError {
    /// The same error with the model's names for a sample's parts replaced by the JSON fields
    /// they are read from: `input` is `x` (or, for a graph, `input.nodes` and `input.edges` are
    /// `nodes` and `edges`), and `target` is `t`. Only the path before the first ": " changes.
    public var withWireNames: ModelError {
        mapMessage { message in
            guard let colon = message.firstRange(of: ": ") else { return message }
            var path = String(message[..<colon.lowerBound])
            let components = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            var renamed: [String] = []
            var index = 0
            while index < components.count {
                let component = components[index]
                if component == "input", index + 1 < components.count,
                   components[index + 1].hasPrefix("nodes") || components[index + 1].hasPrefix("edges") {
                    index += 1  // input.nodes -> nodes
                    continue
                }
                if component.hasPrefix("input") {
                    renamed.append("x" + component.dropFirst("input".count))
                } else if component.hasPrefix("target") {
                    renamed.append("t" + component.dropFirst("target".count))
                } else {
                    renamed.append(component)
                }
                index += 1
            }
            path = renamed.joined(separator: ".")
            return path + message[colon.lowerBound...]
        }
    }
}
