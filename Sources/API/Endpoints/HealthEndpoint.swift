import HTTP
import Wire

/// `GET /health`: liveness and the current version; never needs the token.
struct HealthEndpoint: Endpoint {
    var access: EndpointAccess { .open }

    func respond(to request: HTTPRequest, in api: APIContext) throws -> HTTPResponse {
        var writer = JSONWriter()
        let snapshot = api.store.snapshot()
        HealthResponse(version: snapshot.version, digest: snapshot.digest).encode(to: &writer)
        return writer.response
    }
}
