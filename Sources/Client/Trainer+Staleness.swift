import Model
import Wire

/// Stale-synchronous training (`Options.maxStaleness` K > 0): the gradients of the next K batches
/// are asked for while earlier steps land, and each step is applied at the oldest version its
/// parts were computed at.
extension Trainer {
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
        let parts = split(batch, into: partCount)
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
                 on replicas: ReplicaSet) async throws -> (gradients: (sum: [Double], lossSum: Double, samples: Int), version: Int) {
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
        return (combine(complete, layout: layout), complete.map(\.version).min()!)
    }
}
