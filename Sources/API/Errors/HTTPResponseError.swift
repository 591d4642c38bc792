import HTTP
import Wire

/// An error that knows how the API answers it: a status, a stable code and a message naming
/// the field. Every error type that can reach a client conforms, each in its own file, so the
/// app turns any of them into a response in one place.
public protocol HTTPResponseError: Error {
    var status: HTTPStatus { get }
    var code: String { get }
    var message: String { get }
    /// Extra header fields, such as `Allow` on a 405.
    var headers: [(name: String, value: String)] { get }
    /// The current version, on a version conflict.
    var currentVersion: Int? { get }
}

extension HTTPResponseError {
    public var headers: [(name: String, value: String)] { [] }
    public var currentVersion: Int? { nil }

    /// `{"error": {"code": ..., "message": ..., "current_version": ...}}`
    public func response() -> HTTPResponse {
        var writer = JSONWriter()
        ErrorResponse(code: code, message: message, currentVersion: currentVersion).encode(to: &writer)
        return HTTPResponse(status: status, headers: headers, body: writer.bytes)
    }
}
