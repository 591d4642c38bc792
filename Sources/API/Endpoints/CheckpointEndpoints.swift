import HTTP
import Wire

/// `GET /checkpoint`: parameters, optimizer state and version, read together.
struct GetCheckpointEndpoint: Endpoint {
    func respond(to request: HTTPRequest, in api: APIContext) throws -> HTTPResponse {
        let (snapshot, optimizerState) = api.store.checkpoint()
        var writer = JSONWriter()
        Checkpoint(version: snapshot.version, parameters: snapshot.parameters,
                   optimizer: api.store.optimizer.configuration.kind, optimizerState: optimizerState)
            .encode(to: &writer, format: try request.tensorFormat())
        return writer.response
    }
}

/// `PUT /checkpoint`: restores a checkpoint of the same model and optimizer.
struct PutCheckpointEndpoint: Endpoint {
    var isWrite: Bool { true }

    func respond(to request: HTTPRequest, in api: APIContext) throws -> HTTPResponse {
        let store = api.store
        let checkpoint = try request.decodeJSON { try Checkpoint(reading: &$0, layout: store.network.layout) }
        let kind = store.optimizer.configuration.kind
        guard checkpoint.optimizer == kind else {
            throw APIError(.unprocessableContent, code: "optimizer_mismatch",
                           message: "optimizer_state.name: this server runs \(kind.rawValue), got \(checkpoint.optimizer.rawValue)")
        }
        try store.restore(parameters: checkpoint.parameters, optimizerState: checkpoint.optimizerState, version: checkpoint.version)
        api.metrics.version.set(Int64(checkpoint.version))
        var writer = JSONWriter()
        VersionResponse(version: checkpoint.version).encode(to: &writer)
        return writer.response
    }
}
