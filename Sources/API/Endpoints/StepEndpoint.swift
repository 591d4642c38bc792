import HTTP
import Model
import Training
import Wire

/// `POST /step`: one round trip of synchronous training. Every part's samples are checked first;
/// then the gradient, if any, is applied at its base version, all or nothing, with the rules of
/// `/apply`; then each part's gradients are computed at exactly the version that step made (not a
/// later one), as `/gradients` computes them, so a loop of steps ends bit for bit where the loop
/// of `/apply` and `/gradients` ends.
///
/// A step whose `if_version` is ahead of the current version, by at most `max_staleness`, waits
/// for the steps before it (`RequestLimits.stepWait`) instead of being refused at once: a client
/// training with staleness K keeps up to K + 1 steps in flight on as many connections, and they
/// must land in order whichever arrives first. Its answer is deferred meanwhile; other requests
/// are served as usual.
struct StepEndpoint: Endpoint {
    var access: EndpointAccess { .write }

    func respond(to request: HTTPRequest, in api: APIContext) throws -> HTTPResponse {
        let body = try request.decodeJSON { try StepRequest(reading: &$0, sampleLimit: api.limits.maxSamples) }
        let network = api.store.network
        for (i, part) in body.parts.enumerated() {
            guard !part.isEmpty else {
                throw APIError(.unprocessableContent, code: "empty_samples", message: "parts[\(i)]: expected at least one sample")
            }
            do { try network.validate(part) } catch { throw error.prefixed("parts[\(i)]") }
        }
        if body.gradients != nil, let turn = body.ifVersion, let resumer = request.resumer {
            let parked = ContinuousClock.now
            let waiting = api.store.whenVersion(reaches: turn, timeout: api.limits.stepWait) {
                // Its turn came, or the wait ran out: either way the step's own version check answers.
                // It runs on the thread of the step that made its turn, once that step's answer is out.
                AfterAnswer.run { resumer.answer(api.answer(request, started: parked) { try run(body, in: api) }) }
            }
            if let waiting {
                // A client that goes away takes its waiting step with it: it never lands.
                resumer.onAbandon { api.store.stopWaiting(waiting) }
                return .deferred
            }
        }
        return try run(body, in: api)
    }

    /// The step itself, on validated parts: the apply, then each part's gradients.
    private func run(_ body: StepRequest, in api: APIContext) throws -> HTTPResponse {
        let work = GradientWork(reduce: body.reduce, format: body.tensorFormat, clipNorm: body.perSampleClipNorm, results: body.results)
        let total = body.parts.map(\.count).reduce(0, +)
        try work.checkAnswerSize(samples: total, in: api)
        var writer = JSONWriter(capacity: work.capacity(samples: total, parts: body.parts.count, in: api))
        let snapshot: TrainingStore.Snapshot, learningRate: Float?
        if let gradients = body.gradients {
            (snapshot, learningRate) = try api.store.apply(gradients, baseVersion: body.version, ifVersion: body.ifVersion)
            api.metrics.applies.increment()
            api.metrics.version.set(Int64(snapshot.version))
        } else {
            (snapshot, learningRate) = (api.store.snapshot(), nil)
        }
        writer.objectStart()
        writer.key("version"); writer.number(snapshot.version)
        writer.key("digest"); writer.string(snapshot.digest)
        if let learningRate { writer.key("learning_rate"); writer.number(learningRate) }
        writer.key("parts")
        writer.arrayStart()
        for part in body.parts { try work.answer(part, at: snapshot, in: api, to: &writer) }
        writer.arrayEnd()
        writer.objectEnd()
        var response = writer.response
        // A pipelined trainer's steps (`if_version`) land one after another: served on one loop.
        response.isSequenced = body.ifVersion != nil
        return response
    }
}
