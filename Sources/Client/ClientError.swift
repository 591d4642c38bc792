/// What a call to a gradserve server can fail with.
public enum ClientError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The server answered with an error: its status, code and message.
    case server(url: String, status: Int, code: String, message: String, currentVersion: Int?)
    /// No answer: the server is down, unreachable, or too slow.
    case transport(url: String, message: String)
    /// An answer that is not what the API promises.
    case invalidResponse(url: String, message: String)
    /// A server URL that cannot be used.
    case invalidURL(String)

    public var description: String {
        switch self {
        case .server(let url, let status, let code, let message, _): "\(url): HTTP \(status) \(code): \(message)"
        case .transport(let url, let message): "\(url): \(message)"
        case .invalidResponse(let url, let message): "\(url): unexpected answer: \(message)"
        case .invalidURL(let url): "invalid server URL \(url): expected http://host:port"
        }
    }
}
