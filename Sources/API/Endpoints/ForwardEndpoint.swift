import HTTP
import Wire

/// `POST /forward`: outputs for a list of samples, with one parameter snapshot.
struct ForwardEndpoint: Endpoint {
    func respond(to request: HTTPRequest, in api: APIContext) throws -> HTTPResponse {
        let samples = try request.decodeJSON { try ForwardRequest(reading: &$0, sampleLimit: api.limits.maxSamples) }.samples.requireSome()
        let snapshot = api.store.snapshot()
        let outputs = try api.scratch.with { try api.store.network.outputs(for: samples.map(\.input), parameters: snapshot.parameters, scratch: $0) }
        api.metrics.samples.increment(by: Int64(outputs.count))
        var writer = JSONWriter()
        ForwardResponse(version: snapshot.version, outputs: outputs).encode(to: &writer)
        return writer.response
    }
}
