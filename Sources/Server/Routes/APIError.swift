import Model
import Wire

/// An error answer of the API: a status, a stable code and a message naming the field.
public struct APIError: Error, Sendable {
    public let status: HTTPStatus
    public let code: String
    public let message: String
    public var currentVersion: Int?
    public var headers: [(name: String, value: String)] = []

    public init(_ status: HTTPStatus, code: String, message: String, currentVersion: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.currentVersion = currentVersion
    }

    /// Malformed JSON and JSON of the wrong form are the client's syntax errors (400).
    init(_ error: WireError) {
        self.init(.badRequest, code: error.code, message: error.message)
    }

    /// Well-formed requests the model cannot accept: wrong shapes, non-finite values (422).
    init(_ error: ModelError) {
        self.init(.unprocessableContent, code: error.code, message: error.message)
    }

    init(_ error: TrainingStore.WriteError) {
        switch error {
        case .invalid(let error):
            self.init(error)
        case .notPersisted(let reason):
            self.init(.serviceUnavailable, code: "state_not_persisted", message: "the write was undone because the state could not be saved: \(reason)")
        case .versionConflict(let base, let current, let maxStaleness):
            let reason = base > current
                ? "version \(base) is ahead of the current version \(current)"
                : "version \(base) is \(current - base) step(s) behind the current version \(current); at most \(maxStaleness) accepted"
            self.init(.conflict, code: "version_conflict", message: reason, currentVersion: current)
        }
    }

    func response() -> HTTPResponse {
        var writer = JSONWriter()
        ErrorResponse(code: code, message: message, currentVersion: currentVersion).encode(to: &writer)
        return HTTPResponse(status: status, headers: headers, body: writer.bytes)
    }

    /// The code used in the body of an error that HTTP handling produced before any route.
    static func code(for status: HTTPStatus) -> String {
        switch status.code {
        case 400: "bad_request"
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 408: "request_timeout"
        case 411: "length_required"
        case 413: "content_too_large"
        case 431: "header_fields_too_large"
        case 501: "not_implemented"
        case 505: "http_version_not_supported"
        default: "error"
        }
    }
}
