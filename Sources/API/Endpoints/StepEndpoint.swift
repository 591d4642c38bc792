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
        return try Steps(list: [body], many: false).respond(to: request, in: api)
    }
}

/// `POST /steps`: several steps of a pipelined run in one round trip, each with its gradients and
/// the version it lands on, consecutive. Every step's samples are checked before any lands; the
/// first waits for its turn as a `/step` does, and the others land right after it, one after
/// another, each exactly as `/step` would land it (so the answers are bit for bit those of as many
/// `/step` requests). The answer lists each step's answer. If a later step fails, the steps before
/// it stay landed, and the error says so with the version reached.
struct StepsEndpoint: Endpoint {
    var access: EndpointAccess { .write }

    func respond(to request: HTTPRequest, in api: APIContext) throws -> HTTPResponse {
        let body = try request.decodeJSON { try StepsRequest(reading: &$0, sampleLimit: api.limits.maxSamples) }
        // Each lands on the version the step before it makes (compared without adding: any value may come).
        for j in body.steps.indices.dropFirst() {
            let before = body.steps[j - 1].ifVersion!, this = body.steps[j].ifVersion!
            guard this - 1 == before else {
                throw APIError(.unprocessableContent, code: "versions_not_consecutive",
                               message: "steps[\(j)].if_version: expected one more than steps[\(j - 1)]'s \(before), got \(this)")
            }
        }
        return try Steps(list: body.steps, many: true).respond(to: request, in: api)
    }
}

/// The steps of one request, `/step`'s one or `/steps`' several (`many`: its fields are named under
/// `steps[j]`, and its answer is `{"steps": [...]}`).
private struct Steps {
    let list: [StepRequest]
    let many: Bool

    private func path(_ j: Int) -> String { many ? "steps[\(j)]." : "" }

    func respond(to request: HTTPRequest, in api: APIContext) throws -> HTTPResponse {
        let network = api.store.network
        // Every step's samples, then every step's gradients, are checked before any lands.
        for (j, step) in list.enumerated() {
            for (i, part) in step.parts.enumerated() {
                guard !part.isEmpty else {
                    throw APIError(.unprocessableContent, code: "empty_samples", message: "\(path(j))parts[\(i)]: expected at least one sample")
                }
                do { try network.validate(part) } catch { throw error.prefixed("\(path(j))parts[\(i)]") }
            }
        }
        let updates = try list.enumerated().map { j, step throws(ModelError) in
            do throws(ModelError) {
                return try step.gradients.map { tensors throws(ModelError) in try GradientUpdate(layout: network.layout, tensors: tensors) }
            } catch {
                throw many ? error.prefixed("steps[\(j)].gradients") : error
            }
        }
        let first = list[0]
        if first.gradients != nil, let turn = first.ifVersion, let resumer = request.resumer {
            let parked = ContinuousClock.now
            let waiting = api.store.whenVersion(reaches: turn, timeout: api.limits.stepWait) {
                // Its turn came, or the wait ran out: either way the step's own version check answers.
                // It runs on the thread of the step that made its turn, once that step's answer is out.
                AfterAnswer.run { resumer.answer(api.answer(request, started: parked) { try run(updates, in: api) }) }
            }
            if let waiting {
                // A client that goes away takes its waiting step with it: it never lands.
                resumer.onAbandon { api.store.stopWaiting(waiting) }
                return .deferred
            }
        }
        return try run(updates, in: api)
    }

    /// The steps themselves, on validated parts, one after another.
    private func run(_ updates: [GradientUpdate?], in api: APIContext) throws -> HTTPResponse {
        let works = list.map { GradientWork(reduce: $0.reduce, format: $0.tensorFormat, clipNorm: $0.perSampleClipNorm, results: $0.results) }
        let samples = list.map { $0.parts.reduce(0) { $0 + $1.count } }
        // The whole answer is built in memory: its per-sample gradients are bounded together.
        try GradientWork.checkPerSampleGradients(list.indices.reduce(0) { $0 + (works[$1].reduce == .none ? samples[$1] : 0) }, in: api)
        var writer = JSONWriter(capacity: list.indices.reduce(0) { $0 + works[$1].capacity(samples: samples[$1], parts: list[$1].parts.count, in: api) })
        if many { writer.objectStart(); writer.key("steps"); writer.arrayStart() }
        for (j, step) in list.enumerated() {
            do {
                try land(step, updates[j], works[j], in: api, to: &writer)
            } catch where many {
                throw LaterStepError(underlying: api.clientError(error, path: "/steps"), index: j, version: api.store.snapshot().version)
            }
        }
        if many { writer.arrayEnd(); writer.objectEnd() }
        var response = writer.response
        // A pipelined trainer's steps (`if_version`) land one after another: served on one loop.
        response.isSequenced = list[0].ifVersion != nil
        return response
    }

    /// One step: the apply, then each part's gradients, written as the step's answer.
    private func land(_ step: StepRequest, _ update: GradientUpdate?, _ work: GradientWork, in api: APIContext, to writer: inout JSONWriter) throws {
        let snapshot: TrainingStore.Snapshot, learningRate: Float?
        if let update {
            (snapshot, learningRate) = try api.store.apply(update, baseVersion: step.version, ifVersion: step.ifVersion)
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
        for part in step.parts { try work.answer(part, at: snapshot, in: api, to: &writer) }
        writer.arrayEnd()
        writer.objectEnd()
    }
}

/// A step of `/steps` failed: its error, named under `steps[j]`, saying that the steps before it
/// landed and which version the state is at now (one more if the step's own apply landed and its
/// parts' gradients then overflowed, as with `/step`).
private struct LaterStepError: HTTPResponseError {
    let underlying: any HTTPResponseError
    let index: Int
    let version: Int

    var status: HTTPStatus { underlying.status }
    var code: String { underlying.code }
    var headers: [(name: String, value: String)] { underlying.headers }
    var currentVersion: Int? { underlying.currentVersion }
    var message: String {
        let before = index == 0 ? "" : index == 1 ? "steps[0] landed; " : "steps[0] to steps[\(index - 1)] landed; "
        return "steps[\(index)]: \(underlying.message) (\(before)the version is \(version))"
    }
}
