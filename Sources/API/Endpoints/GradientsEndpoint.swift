import HTTP
import Model
import Training
import Wire

/// `POST /gradients`: one gradient per sample (or their sum), with one parameter snapshot;
/// the parameters do not change.
struct GradientsEndpoint: Endpoint {
    func respond(to request: HTTPRequest, in api: APIContext) throws -> HTTPResponse {
        let body = try request.decodeJSON { try GradientsRequest(reading: &$0, sampleLimit: api.limits.maxSamples) }
        let samples = try body.samples.requireSome()
        let work = GradientWork(reduce: body.reduce, format: body.tensorFormat, clipNorm: body.perSampleClipNorm, results: body.results)
        try work.checkAnswerSize(samples: samples.count, in: api)
        var writer = JSONWriter(capacity: work.capacity(samples: samples.count, in: api))
        try work.answer(samples, at: api.store.snapshot(), in: api, to: &writer)
        return writer.response
    }
}

/// What `/gradients` computes for a list of samples, shared with `/step`, which answers the same
/// for each part of the next batch.
struct GradientWork {
    var reduce: Reduction
    var format: TensorFormat
    var clipNorm: Float?
    var results: ResultsForm

    /// Writes the answer for `samples` (validated or not) at `snapshot`.
    func answer(_ samples: [Sample], at snapshot: TrainingStore.Snapshot, in api: APIContext, to writer: inout JSONWriter) throws {
        let network = api.store.network
        switch reduce {
        case .none:
            try api.scratch.with { scratch in
                var batch = try network.gradients(of: samples, parameters: snapshot.parameters, scratch: scratch)
                let norms = clipNorm.map { batch.clip(to: $0) }
                GradientsResponse.encode(version: snapshot.version, batch: batch, norms: norms, clipNorm: clipNorm, format: format, to: &writer)
                scratch.recycle(batch)
            }
        case .sum where clipNorm != nil:
            // Each sample's gradient is needed to clip it: made a bounded number of samples at a time.
            let chunk = max(1, api.limits.maxGradientValues / max(network.layout.count, 1))
            let (results, norms, sum) = try api.scratch.with {
                try network.clippedGradientSum(of: samples, parameters: snapshot.parameters, clipNorm: clipNorm!, chunk: chunk, scratch: $0)
            }
            GradientsResponse.encode(version: snapshot.version, results: results, norms: norms, clipNorm: clipNorm, sum: sum, format: format,
                                     form: self.results, to: &writer)
        case .sum:
            let (results, sum) = try api.scratch.with { try network.gradientSum(of: samples, parameters: snapshot.parameters, scratch: $0) }
            GradientsResponse.encode(version: snapshot.version, results: results, sum: sum, format: format, form: self.results, to: &writer)
        }
        api.metrics.samples.increment(by: Int64(samples.count))
    }

    /// The answer's bytes, so that its buffer is sized once, not grown: about 12 bytes per gradient
    /// value as decimal text, 5.33 in base64, for each sample's gradient or each part's sum, and
    /// room for the per-sample losses and outputs.
    func capacity(samples: Int, parts: Int = 1, in api: APIContext) -> Int {
        let gradients = reduce == .none ? samples : parts
        return gradients * api.store.network.layout.count * (format == .b64 ? 6 : 12) + samples * 64 + 4096
    }

    /// A per-sample answer is built in memory, so its size is bounded before any work is done.
    func checkAnswerSize(samples: Int, in api: APIContext) throws {
        if reduce == .none { try Self.checkPerSampleGradients(samples, in: api) }
    }

    /// Refuses an answer that would hold `samples` per-sample gradients past the server's limit.
    static func checkPerSampleGradients(_ samples: Int, in api: APIContext) throws {
        let parameters = api.store.network.layout.count, limit = api.limits.maxGradientValues
        let values = samples.multipliedReportingOverflow(by: parameters)
        guard values.overflow || values.partialValue > limit else { return }
        throw APIError(.unprocessableContent, code: "too_many_values",
                       message: "samples: \(samples) per-sample gradients of \(parameters) values exceed the limit of \(limit) "
                           + "values per answer; send at most \(limit / parameters) samples, or ask for \"reduce\": \"sum\"")
    }
}
