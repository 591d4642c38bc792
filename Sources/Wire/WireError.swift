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
