import HTTP

/// An error the API itself raises: routing, access, limits.
public struct APIError: HTTPResponseError, Sendable {
    public let status: HTTPStatus
    public let code: String
    public let message: String
    public var headers: [(name: String, value: String)] = []

    public init(_ status: HTTPStatus, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// The code for an error that HTTP handling produced before any route.
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
        case 503: "overloaded"
        case 505: "http_version_not_supported"
        default: "error"
        }
    }
}
