import HTTP

/// One endpoint of the API: it decodes its request, does its work and encodes its answer.
/// What it throws reaches the client through `HTTPResponseError`.
protocol Endpoint: Sendable {
    /// What a request needs to be let in, when a token is set.
    var access: EndpointAccess { get }
    func respond(to request: HTTPRequest, in api: APIContext) throws -> HTTPResponse
}

enum EndpointAccess {
    /// Always open (liveness).
    case open
    /// Needs the token with `--read-token`.
    case read
    /// Changes the training state: needs the token whenever one is set.
    case write
}

extension Endpoint {
    var access: EndpointAccess { .read }
}
