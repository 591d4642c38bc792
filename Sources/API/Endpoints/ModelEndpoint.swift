import HTTP
import Wire

/// `GET /model`: the architecture, the parameters' shapes, the optimizer and the version.
struct ModelEndpoint: Endpoint {
    func respond(to request: HTTPRequest, in api: APIContext) throws -> HTTPResponse {
        let store = api.store
        // Version and step read together, so they describe the same moment.
        let (snapshot, optimizerState) = store.checkpoint()
        let step = optimizerState.step
        var writer = JSONWriter()
        ModelDescription(
            model: store.network.kind, layers: api.network.layers, readout: api.network.readout?.rawValue,
            options: store.network.options, layout: store.network.layout,
            optimizer: .init(configuration: store.optimizer.configuration, step: step,
                             currentLearningRate: store.optimizer.learningRate(afterSteps: step)),
            maxStaleness: store.maxStaleness, version: snapshot.version)
            .encode(to: &writer)
        return writer.response
    }
}
