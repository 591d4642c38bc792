import HTTP
import Wire

/// Malformed JSON and JSON of the wrong form are the client's syntax errors.
extension WireError: HTTPResponseError {
    public var status: HTTPStatus { .badRequest }
}
