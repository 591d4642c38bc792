import HTTP
import Wire

/// `PUT /checkpoint`: restores a checkpoint of the same model and optimizer.
struct PutCheckpointEndpoint: Endpoint {
    var access: EndpointAccess { .write }

    func respond(to request: HTTPRequest, in api: APIContext) throws -> HTTPResponse {
        let store = api.store
        let checkpoint = try request.decodeJSON { try Checkpoint(reading: &$0, layout: store.network.layout) }
        let kind = store.optimizer.configuration.kind
        guard checkpoint.optimizer == kind else {
            throw APIError(.unprocessableContent, code: "optimizer_mismatch",
                           message: "optimizer_state.name: this server runs \(kind.rawValue), got \(checkpoint.optimizer.rawValue)")
        }
        let snapshot = try store.restore(parameters: checkpoint.parameters, optimizerState: checkpoint.optimizerState, version: checkpoint.version)
        api.metrics.version.set(Int64(snapshot.version))
        var writer = JSONWriter()
        VersionResponse(version: snapshot.version, digest: snapshot.digest).encode(to: &writer)
        return writer.response
    }
}
