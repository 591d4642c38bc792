import HTTP
import Wire

/// `GET /params`: every parameter at the current version.
struct GetParamsEndpoint: Endpoint {
    func respond(to request: HTTPRequest, in api: APIContext) throws -> HTTPResponse {
        let snapshot = api.store.snapshot()
        var writer = JSONWriter()
        ParamsResponse.encode(version: snapshot.version, parameters: snapshot.parameters, format: try request.tensorFormat(), to: &writer)
        return writer.response
    }
}
