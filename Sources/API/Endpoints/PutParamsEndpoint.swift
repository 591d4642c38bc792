import HTTP
import Wire

/// `PUT /params`: replaces every parameter, optionally only at a given version.
struct PutParamsEndpoint: Endpoint {
    var access: EndpointAccess { .write }

    func respond(to request: HTTPRequest, in api: APIContext) throws -> HTTPResponse {
        let body = try request.decodeJSON { try TensorsRequest(reading: &$0, field: "parameters") }
        let snapshot = try api.store.replaceParameters(body.tensors, expectedVersion: body.version)
        api.metrics.version.set(Int64(snapshot.version))
        var writer = JSONWriter()
        VersionResponse(version: snapshot.version, digest: snapshot.digest).encode(to: &writer)
        return writer.response
    }
}
