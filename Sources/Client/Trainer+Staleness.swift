import Model
import Wire

/// Stale-synchronous training (`Options.maxStaleness` K > 0).
///
/// With `/step` (the default) steps are pipelined: up to K + 1 are in flight, each sent as soon as
/// its batch's gradients are known, with `if_version` naming the version it must land on, so the
/// servers apply them in order whichever arrives first (a server parks one that comes early).
/// Steps ready at once go together, up to `stepsPerRequest` in one `/steps` request, which lands
/// them as that many `/step` requests would.
/// Each step computes the gradients of the batch K + 1 after its own, at the version it makes;
/// that batch is applied K steps later, so no gradient is more than K steps old. The first K + 1
/// batches' gradients are asked for at the start. If anything fails, every step in flight is
/// drained, the replicas settle on the furthest state any of them reached (`ReplicaSet.recover`),
/// the steps that reached it count as landed, and the pipeline starts again from there.
///
/// With `/apply` (two round trips) the gradients of the next K batches are asked for while each
/// step lands, and each step is applied at the oldest version its parts were computed at.
extension Trainer {
    /// A step ready to go: one batch's mean, to land on `ifVersion` on every live replica, with the
    /// later batch whose gradients it computes at the version it makes.
    struct ReadyStep {
        var index: Int
        var batchStart: Int
        var mean: TensorSet
        var gradients: Sums
        var base: Int
        var ifVersion: Int
        var next: (index: Int, batch: [EncodedSample])?
    }

    /// Steps in flight together: one request to each live replica (`/step` for one step, `/steps` for
    /// several), with each step's later batch cut into parts.
    struct SentSteps {
        var steps: [ReadyStep]
        /// Each step's later batch, as parts (none without a later batch).
        var parts: [[[EncodedSample]]]
        var task: Task<[StepAnswer], Never>
    }

    /// One replica's answer to sent steps, for the parts (by index, the same in every step) it was
    /// given: one response per step. (A struct, not `Result`: see `ReplicaSet.fanOut`.)
    struct StepAnswer: Sendable {
        var replica: Int
        var parts: [Int]
        var responses: [StepResponse]?
        var error: (any Error)?
    }

    enum StepCompletion {
        /// Every replica acknowledged every step with one state; each step's learning rate and the
        /// later batch's gradients, if it had one.
        case landed([(learningRate: Float?, next: (index: Int, batch: [EncodedSample], gradients: Sums)?)])
        /// Something failed: every step in flight was drained and the replicas settled on one
        /// state, which this many of the steps (the oldest first) had reached.
        case settled(count: Int)
    }

    /// How many ready steps go in one request.
    var stepsPerRequest: Int { options.stepsPerRequest ?? (options.maxStaleness + 2) / 2 }

    func send(_ steps: [ReadyStep], layout: ParameterLayout, clipNorm: Float?, on replicas: ReplicaSet) -> SentSteps {
        let parts = steps.map { step in step.next.map { Self.split($0.batch, into: partCount) } ?? [] }
        let live = replicas.liveIndices, clients = replicas.replicas.map(\.client)
        let partIndices = parts.map(\.count).max() ?? 0
        let assigned = live.isEmpty ? [:] : Dictionary(grouping: 0..<partIndices) { live[$0 % live.count] }
        let reduce: Reduction = options.reduceSum ? .sum : .none, format = options.tensorFormat
        // Each mean is encoded once for every server.
        let encoded = steps.map { EncodedTensors($0.mean, format: format) }
        let task = Task(executorPreference: onTransport ? servers[0].transport.executor : nil) {
            await withTaskGroup(of: StepAnswer.self) { group in
                for replica in live {
                    let mine = assigned[replica] ?? []
                    let requests = steps.indices.map { k in
                        GradClient.PipelinedStep(gradients: encoded[k], baseVersion: steps[k].base, ifVersion: steps[k].ifVersion,
                                                 parts: mine.filter { $0 < parts[k].count }.map { parts[k][$0] })
                    }
                    group.addTask {
                        do {
                            let client = clients[replica]
                            let responses = requests.count == 1
                                ? [try await client.step(requests[0].gradients, baseVersion: requests[0].baseVersion, ifVersion: requests[0].ifVersion,
                                                         parts: requests[0].parts, reduce: reduce, format: format, clipNorm: clipNorm, layout: layout)]
                                : try await client.steps(requests, reduce: reduce, format: format, clipNorm: clipNorm, layout: layout)
                            return StepAnswer(replica: replica, parts: mine, responses: responses)
                        } catch {
                            return StepAnswer(replica: replica, parts: mine, error: error)
                        }
                    }
                }
                var answers: [StepAnswer] = []
                for await answer in group { answers.append(answer) }
                return answers
            }
        }
        return SentSteps(steps: steps, parts: parts, task: task)
    }

    /// Waits for the oldest steps in flight. They landed when every replica they went to answered
    /// each with one state at the version it was to make, and every part at that version.
    /// Otherwise the replicas that failed are dropped, the `later` steps are drained, and the
    /// replicas settle.
    func complete(_ sent: SentSteps, after later: [SentSteps], layout: ParameterLayout, on replicas: ReplicaSet) async throws -> StepCompletion {
        let answers = await sent.task.value
        // Each step's states, one per replica that answered it (a server could answer fewer steps).
        let states = sent.steps.indices.map { k in answers.compactMap { answer in answer.responses.flatMap { k < $0.count ? $0[k].state : nil } } }
        // The parts of step k that a replica was given (none where the step had no later batch).
        func given(_ answer: StepAnswer, _ k: Int) -> [Int] { answer.parts.filter { $0 < sent.parts[k].count } }
        func agree(_ k: Int) -> Bool {
            let made = sent.steps[k].ifVersion + 1
            return states[k].count == answers.count && states[k].allSatisfy { $0.version == made && $0.digest == states[k][0].digest }
                && answers.allSatisfy { answer in
                    let mine = answer.responses![k].parts
                    return mine.count == given(answer, k).count && mine.allSatisfy { $0.version == made }
                }
        }
        if !answers.isEmpty, answers.allSatisfy({ $0.responses?.count == sent.steps.count }), sent.steps.indices.allSatisfy(agree) {
            replicas.acknowledge(sent.steps.last!.ifVersion + 1)
            return .landed(sent.steps.indices.map { k in
                var byPart = [GradientPartialSum?](repeating: nil, count: sent.parts[k].count)
                for answer in answers {
                    for (j, part) in given(answer, k).enumerated() { byPart[part] = answer.responses![k].parts[j] }
                }
                return (states[k][0].learningRate,
                        sent.steps[k].next.map { ($0.index, $0.batch, Self.combine(byPart.map { $0! }, layout: layout)) })
            })
        }
        for answer in answers {
            if let error = answer.error {
                let conflict = if case ClientError.server(_, 409, _, _, _)? = error as? ClientError { true } else { false }
                guard conflict || ReplicaSet.isReplicaFailure(error) else { throw error }
                replicas.drop(answer.replica, because: "\(error)", probeAt: conflict ? .now : nil)
            } else if let responses = answer.responses {
                // A replica whose state differs from the first replica's at any step.
                for k in sent.steps.indices where k < responses.count && !states[k].isEmpty {
                    let state = responses[k].state, made = sent.steps[k].ifVersion + 1
                    if state.version != made || state.digest != states[k][0].digest {
                        replicas.drop(answer.replica, because: "digest \(state.digest) at version \(state.version) after the step to \(made)", probeAt: .now)
                        break
                    }
                }
            }
        }
        for sent in later { _ = await sent.task.value }
        let acknowledged = replicas.version
        let inFlight = later.reduce(sent.steps.count) { $0 + $1.steps.count }
        return .settled(count: try await replicas.recover(acceptingUpTo: acknowledged + inFlight) - acknowledged)
    }

    /// A batch's gradients asked for ahead of its step (stale-synchronous training): one task per
    /// part, sent straight to a live server; the answers are checked when the step needs them.
    struct Prefetch {
        var batch: [EncodedSample]
        /// The version when they were asked for: no answer may be older.
        var version: Int
        var parts: [[EncodedSample]]
        var tasks: [Task<GradientPartialSum, any Error>]

        func cancel() { tasks.forEach { $0.cancel() } }
    }

    func prefetch(_ batch: [EncodedSample], version: Int, layout: ParameterLayout, clipNorm: Float?, on replicas: ReplicaSet) -> Prefetch {
        let parts = Self.split(batch, into: partCount)
        let live = replicas.liveIndices.map { replicas.replicas[$0].client }
        let request = partRequest(clipNorm: clipNorm, layout: layout)
        let executor = onTransport ? servers[0].transport.executor : nil
        let tasks: [Task<GradientPartialSum, any Error>] = live.isEmpty ? [] : parts.enumerated().map { i, part in
            let client = live[i % live.count]
            return Task(executorPreference: executor) { try await request(client, part) }
        }
        return Prefetch(batch: batch, version: version, parts: parts, tasks: tasks)
    }

    /// The sums of a prefetched batch and the oldest version they were computed at. A part whose
    /// request failed, or whose answer is older than when it was asked for or newer than the
    /// replicas' version, is computed again now through the replica set (which handles failures).
    func collect(_ prefetch: Prefetch, layout: ParameterLayout, clipNorm: Float?,
                 on replicas: ReplicaSet) async throws -> (gradients: Sums, version: Int) {
        guard !prefetch.batch.isEmpty else { return (([Double](repeating: 0, count: layout.count), 0, 0), replicas.version) }
        var answers = [GradientPartialSum?](repeating: nil, count: prefetch.parts.count)
        for (i, task) in prefetch.tasks.enumerated() {
            if let answer = try? await task.value, answer.version >= prefetch.version, answer.version <= replicas.version { answers[i] = answer }
        }
        let missing = answers.indices.filter { answers[$0] == nil }
        if !missing.isEmpty {
            let again = try await partSums(missing.map { prefetch.parts[$0] }, version: replicas.version, layout: layout,
                                           clipNorm: clipNorm, on: replicas)
            for (k, i) in missing.enumerated() { answers[i] = again[k] }
        }
        let complete = answers.map { $0! }
        return (Self.combine(complete, layout: layout), complete.map(\.version).min()!)
    }
}
