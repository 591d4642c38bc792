import HTTP

/// One endpoint of the API: it decodes its request, does its work and encodes its answer.
/// What it throws reaches the client through `HTTPResponseError`.
protocol Endpoint: Sendable {
    /// The endpoint changes the training state, so it needs the token whenever one is set.
    var isWrite: Bool { get }
    func respond(to request: HTTPRequest, in api: APIContext) throws -> HTTPResponse
}

extension Endpoint {
    var isWrite: Bool { false }
}
