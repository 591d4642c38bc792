import HTTP
import Wire

/// `GET /health`: liveness and the current version; never needs the token.
struct HealthEndpoint: Endpoint {
    func respond(to request: HTTPRequest, in api: APIContext) throws -> HTTPResponse {
        var writer = JSONWriter()
        HealthResponse(version: api.store.snapshot().version).encode(to: &writer)
        return writer.response
    }
}
