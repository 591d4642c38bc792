import HTTP
import Wire

/// `POST /gradients`: one gradient per sample (or their sum), with one parameter snapshot;
/// the parameters do not change.
struct GradientsEndpoint: Endpoint {
    func respond(to request: HTTPRequest, in api: APIContext) throws -> HTTPResponse {
        let body = try request.decodeJSON { try GradientsRequest(reading: &$0, sampleLimit: api.limits.maxSamples) }
        let samples = try body.samples.requireSome()
        let network = api.store.network
        let snapshot = api.store.snapshot()
        var writer: JSONWriter
        let clip = body.perSampleClipNorm
        switch body.reduce {
        case .none:
            try checkAnswerSize(samples: samples.count, parameters: network.layout.count, limit: api.limits.maxGradientValues)
            var batch = try api.scratch.with { try network.gradients(of: samples, parameters: snapshot.parameters, scratch: $0) }
            let norms = clip.map { batch.clip(to: $0) }
            // About 12 bytes per value as decimal text, 5.33 in base64: sized once, not grown.
            writer = JSONWriter(capacity: batch.storage.count * (body.tensorFormat == .b64 ? 6 : 12) + 256)
            GradientsResponse.encode(version: snapshot.version, batch: batch, norms: norms, clipNorm: clip, format: body.tensorFormat, to: &writer)
        case .sum where clip != nil:
            // Each sample's gradient is needed to clip it: made a bounded number of samples at a time.
            let chunk = max(1, api.limits.maxGradientValues / max(network.layout.count, 1))
            let (results, norms, sum) = try api.scratch.with {
                try network.clippedGradientSum(of: samples, parameters: snapshot.parameters, clipNorm: clip!, chunk: chunk, scratch: $0)
            }
            writer = JSONWriter()
            GradientsResponse.encode(version: snapshot.version, results: results, norms: norms, clipNorm: clip, sum: sum,
                                     format: body.tensorFormat, to: &writer)
        case .sum:
            let (results, sum) = try api.scratch.with { try network.gradientSum(of: samples, parameters: snapshot.parameters, scratch: $0) }
            writer = JSONWriter()
            GradientsResponse.encode(version: snapshot.version, results: results, sum: sum, format: body.tensorFormat, to: &writer)
        }
        api.metrics.samples.increment(by: Int64(samples.count))
        return writer.response
    }

    /// A per-sample answer is built in memory, so its size is bounded before any work is done.
    private func checkAnswerSize(samples: Int, parameters: Int, limit: Int) throws {
        let values = samples.multipliedReportingOverflow(by: parameters)
        guard values.overflow || values.partialValue > limit else { return }
        throw APIError(.unprocessableContent, code: "too_many_values",
                       message: "samples: \(samples) per-sample gradients of \(parameters) values exceed the limit of \(limit) "
                           + "values per answer; send at most \(limit / parameters) samples, or ask for \"reduce\": \"sum\"")
    }
}
