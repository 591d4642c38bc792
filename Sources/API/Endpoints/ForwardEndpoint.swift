import HTTP
import Wire

/// `POST /forward`: outputs for a list of samples, with one parameter snapshot (and for
/// classifiers the probabilities and predicted classes).
struct ForwardEndpoint: Endpoint {
    func respond(to request: HTTPRequest, in api: APIContext) throws -> HTTPResponse {
        let samples = try request.decodeJSON { try ForwardRequest(reading: &$0, sampleLimit: api.limits.maxSamples) }.samples.requireSome()
        let snapshot = api.store.snapshot()
        let outputs = try api.scratch.with { try api.store.network.outputs(for: samples.map(\.input), parameters: snapshot.parameters, scratch: $0) }
        let network = api.store.network
        api.metrics.samples.increment(by: Int64(samples.count))
        var writer = JSONWriter()
        ForwardResponse(version: snapshot.version, outputCount: network.outputCount, outputs: outputs, loss: network.loss).encode(to: &writer)
        return writer.response
    }
}
