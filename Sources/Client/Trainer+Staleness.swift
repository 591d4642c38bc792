import Model
import Wire

/// Stale-synchronous training (`Options.maxStaleness` K > 0).
///
/// With `/step` (the default) steps are pipelined: up to K + 1 are in flight, each sent as soon as
/// its batch's gradients are known, with `if_version` naming the version it must land on, so the
/// servers apply them in order whichever arrives first (a server parks one that comes early).
/// Each step computes the gradients of the batch K + 1 after its own, at the version it makes;
/// that batch is applied K steps later, so no gradient is more than K steps old. The first K + 1
/// batches' gradients are asked for at the start. If anything fails, every step in flight is
/// drained, the replicas settle on the furthest state any of them reached (`ReplicaSet.recover`),
/// the steps that reached it count as landed, and the pipeline starts again from there.
///
/// With `/apply` (two round trips) the gradients of the next K batches are asked for while each
/// step lands, and each step is applied at the oldest version its parts were computed at.
extension Trainer {
    /// A step in flight: one batch's mean sent to every live replica to land on `ifVersion`, with
    /// the parts of a later batch to compute at the version it makes.
    struct SentStep {
        var index: Int
        var batchStart: Int
        var gradients: Sums
        var base: Int
        var ifVersion: Int
        var next: (index: Int, batch: [EncodedSample], parts: [[EncodedSample]])?
        var task: Task<[StepAnswer], Never>
    }

    /// One replica's answer to a sent step, for the parts (by index) it was given. (A struct, not
    /// `Result`: see `ReplicaSet.fanOut`.)
    struct StepAnswer: Sendable {
        var replica: Int
        var parts: [Int]
        var response: StepResponse?
        var error: (any Error)?
    }

    enum StepCompletion {
        /// Every replica acknowledged the step with one state; the later batch's gradients, if it had one.
        case landed(learningRate: Float?, next: (index: Int, batch: [EncodedSample], gradients: Sums)?)
        /// Something failed: every step in flight was drained and the replicas settled on one
        /// state, which this many of the steps (the oldest first) had reached.
        case settled(count: Int)
    }

    func sendStep(_ mean: TensorSet, index: Int, batchStart: Int, gradients: Sums, base: Int, ifVersion: Int,
                  next: (index: Int, batch: [EncodedSample])?, layout: ParameterLayout, clipNorm: Float?, on replicas: ReplicaSet) -> SentStep {
        let parts = next.map { Self.split($0.batch, into: partCount) } ?? []
        let live = replicas.liveIndices, clients = replicas.replicas.map(\.client)
        let assigned = live.isEmpty ? [:] : Dictionary(grouping: parts.indices) { live[$0 % live.count] }
        let reduce: Reduction = options.reduceSum ? .sum : .none, format = options.tensorFormat
        let encoded = EncodedTensors(mean, format: format)  // once for every server
        let task = Task(executorPreference: onTransport ? servers[0].transport.executor : nil) {
            await withTaskGroup(of: StepAnswer.self) { group in
                for replica in live {
                    let mine = assigned[replica] ?? []
                    group.addTask {
                        do {
                            let response = try await clients[replica].step(encoded, baseVersion: base, ifVersion: ifVersion, parts: mine.map { parts[$0] },
                                                                           reduce: reduce, format: format, clipNorm: clipNorm, layout: layout)
                            return StepAnswer(replica: replica, parts: mine, response: response)
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
        return SentStep(index: index, batchStart: batchStart, gradients: gradients, base: base, ifVersion: ifVersion,
                        next: next.map { ($0.index, $0.batch, parts) }, task: task)
    }

    /// Waits for the oldest step in flight. It landed when every replica it went to answered with
    /// one state at the version it was to make, and every part at that version. Otherwise the
    /// replicas that failed are dropped, the `later` steps are drained, and the replicas settle.
    func complete(_ step: SentStep, after later: [SentStep], layout: ParameterLayout, on replicas: ReplicaSet) async throws -> StepCompletion {
        let answers = await step.task.value, made = step.ifVersion + 1
        let states = answers.compactMap(\.response?.state)
        if !answers.isEmpty, states.count == answers.count, states.allSatisfy({ $0.version == made && $0.digest == states[0].digest }),
           answers.allSatisfy({ $0.response!.parts.count == $0.parts.count && $0.response!.parts.allSatisfy { $0.version == made } }) {
            replicas.acknowledge(made)
            var byPart = [GradientPartialSum?](repeating: nil, count: step.next?.parts.count ?? 0)
            for answer in answers {
                for (k, part) in answer.parts.enumerated() { byPart[part] = answer.response!.parts[k] }
            }
            return .landed(learningRate: states[0].learningRate,
                           next: step.next.map { ($0.index, $0.batch, Self.combine(byPart.map { $0! }, layout: layout)) })
        }
        for answer in answers {
            if let error = answer.error {
                let conflict = if case ClientError.server(_, 409, _, _, _)? = error as? ClientError { true } else { false }
                guard conflict || ReplicaSet.isReplicaFailure(error) else { throw error }
                replicas.drop(answer.replica, because: "\(error)", probeAt: conflict ? .now : nil)
            } else if let state = answer.response?.state, state.version != made || state.digest != states[0].digest {
                replicas.drop(answer.replica, because: "digest \(state.digest) at version \(state.version) after the step to \(made)", probeAt: .now)
            }
        }
        for step in later { _ = await step.task.value }
        let acknowledged = replicas.version
        return .settled(count: try await replicas.recover(acceptingUpTo: acknowledged + 1 + later.count) - acknowledged)
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
