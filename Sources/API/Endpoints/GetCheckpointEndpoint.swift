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
