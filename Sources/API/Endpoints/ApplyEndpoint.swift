import HTTP
import Wire

/// `POST /apply`: one optimizer step with a posted gradient, all or nothing, with the version rules.
struct ApplyEndpoint: Endpoint {
    var access: EndpointAccess { .write }

    func respond(to request: HTTPRequest, in api: APIContext) throws -> HTTPResponse {
        let body = try request.decodeJSON { try TensorsRequest(reading: &$0, field: "gradients") }
        let (snapshot, learningRate) = try api.store.apply(body.tensors, baseVersion: body.version, ifVersion: body.ifVersion)
        api.metrics.applies.increment()
        api.metrics.version.set(Int64(snapshot.version))
        var writer = JSONWriter()
        VersionResponse(version: snapshot.version, digest: snapshot.digest, learningRate: learningRate).encode(to: &writer)
        return writer.response
    }
}
