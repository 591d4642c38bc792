import Model
import Wire

/// The servers of a training run, which of them are live, and how one is brought back.
///
/// Every replica holds the whole state, so the run goes on while one replica is live: a replica
/// that fails is dropped (its work moves to the others), probed every `probeInterval`, and when it
/// answers again it is brought to the current state from a live replica (`/checkpoint`) before it
/// takes part again. After each step the replicas' digests are compared; the state most of them
/// share is trusted (on a tie, that of the first server in the list), and the others are
/// brought in line with it. Used by one task at a time (the trainer's).
final class ReplicaSet {
    struct Replica {
        let client: GradClient
        /// One attempt and a short timeout, for probing.
        let probe: GradClient
        var live = true
        var lastError = ""
        var nextProbe = ContinuousClock.now
    }

    private(set) var replicas: [Replica]
    let probeInterval: Duration
    let waitForServers: Duration
    let report: @Sendable (Trainer.Event) -> Void
    var layout = ParameterLayout([])
    /// The version the live replicas hold: the last one acknowledged.
    private(set) var version = 0

    init(_ clients: [GradClient], probeInterval: Duration, waitForServers: Duration, report: @escaping @Sendable (Trainer.Event) -> Void) throws {
        replicas = try clients.map { client in
            var configuration = client.configuration
            configuration.attempts = 1
            configuration.timeout = min(configuration.timeout, .seconds(5))
            return Replica(client: client, probe: try GradClient(baseURL: client.baseURL, configuration: configuration, transport: client.transport))
        }
        self.probeInterval = probeInterval
        self.waitForServers = waitForServers
        self.report = report
    }

    var liveIndices: [Int] { replicas.indices.filter { replicas[$0].live } }

    /// Whether an error says the replica failed (down, too slow, broken), rather than that the
    /// request itself was wrong, which no other replica would answer differently.
    static func isReplicaFailure(_ error: any Error) -> Bool {
        switch error as? ClientError {
        case .transport?, .invalidResponse?: true
        case .server(_, let status, _, _, _)?: status >= 500
        default: false
        }
    }

    /// Every live replica acknowledged the step that made `version` (with one state).
    func acknowledge(_ version: Int) { self.version = version }

    func drop(_ index: Int, because reason: String, probeAt: ContinuousClock.Instant? = nil) {
        replicas[index].lastError = reason
        replicas[index].nextProbe = probeAt ?? ContinuousClock.now + probeInterval
        guard replicas[index].live else { return }
        replicas[index].live = false
        report(.dropped(server: replicas[index].client.baseURL, reason: reason))
    }

    // MARK: Work

    private struct Outcome<T: Sendable>: Sendable {
        var part: Int
        var replica: Int
        var value: T?
        var error: (any Error)?
    }

    /// Runs `work` for every (part, replica) job at once and returns each outcome, value or
    /// error, ordered by replica. (A struct, not `Result`: a task group of `Result<_, any Error>`
    /// crashed in release builds of Swift 6.3.1.)
    private func fanOut<T: Sendable>(
        _ jobs: [(part: Int, replica: Int)], _ work: @escaping @Sendable (GradClient, Int) async throws -> T
    ) async -> [Outcome<T>] {
        let clients = replicas.map(\.client)
        @Sendable func outcome(_ part: Int, _ replica: Int) async -> Outcome<T> {
            do { return Outcome(part: part, replica: replica, value: try await work(clients[replica], part)) } catch {
                return Outcome(part: part, replica: replica, error: error)
            }
        }
        // One job (one server, one part: a synchronous step) runs in this task: no child task to make and wait for.
        if jobs.count == 1 { return [await outcome(jobs[0].part, jobs[0].replica)] }
        return await withTaskGroup(of: Outcome<T>.self) { group in
            for (part, replica) in jobs {
                group.addTask { await outcome(part, replica) }
            }
            var outcomes: [Outcome<T>] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes.sorted { $0.replica < $1.replica }
        }
    }

    /// Runs `work` on every part, part i on the i-th live replica (round robin), and moves the
    /// parts of a replica that fails, or whose answer `check` refuses, to the live ones. The
    /// results come back in part order, whoever computed them.
    func run<Part: Sendable, T: Sendable>(
        _ parts: [Part], check: (T) -> String? = { _ in nil },
        _ work: @escaping @Sendable (GradClient, Part) async throws -> T
    ) async throws -> [T] {
        var results = [T?](repeating: nil, count: parts.count)
        while case let missing = results.indices.filter({ results[$0] == nil }), !missing.isEmpty {
            let live = try await liveReplicasOrWait()
            let jobs = missing.enumerated().map { (part: $1, replica: live[$0 % live.count]) }
            let outcomes = await fanOut(jobs) { client, part in try await work(client, parts[part]) }
            for outcome in outcomes {
                if let value = outcome.value {
                    if let problem = check(value) {
                        // Alive but out of line: bring it back at once, through the probe.
                        drop(outcome.replica, because: problem, probeAt: .now)
                    } else {
                        results[outcome.part] = value
                    }
                } else if let error = outcome.error {
                    guard Self.isReplicaFailure(error) else { throw error }
                    drop(outcome.replica, because: "\(error)")
                }
            }
        }
        return results.map { $0! }
    }

    /// Applies `mean` at `baseVersion` on every live replica and returns the new version, with the
    /// learning rate the trusted replica reports it used (nil when its answer was lost). A step
    /// that no replica acknowledged is settled with the first replica that comes back: it either
    /// holds the step (its version is one past the last acknowledged) or gets the step again.
    func apply(_ mean: TensorSet, baseVersion: Int, format: TensorFormat) async throws -> (version: Int, learningRate: Float?) {
        // A step with no parts to compute: the same acknowledgement, recovery and settling.
        let current = version
        let (version, learningRate, _) = try await step(mean, baseVersion: baseVersion, parts: [] as [Int], { client, _ in
            (try await client.apply(mean, baseVersion: baseVersion, ifVersion: current, format: format), [Int]())
        }, recompute: { _, part in part }, version: { $0 })
        return (version, learningRate)
    }

    /// `apply` and the next batch's gradients in one round trip per replica (`/step`): every live
    /// replica applies `mean` at `baseVersion`, and computes the parts assigned to it (round robin,
    /// as `run` assigns them) at the version that step made. After the states are settled, the
    /// parts computed by a replica that failed, or whose state was not the trusted one, are
    /// computed again with `run`, so every part comes from the trusted state. Returns the new
    /// version, the learning rate, and the parts' answers in part order.
    func step<Part: Sendable, T: Sendable>(
        _ mean: TensorSet, baseVersion: Int, parts: [Part],
        _ request: @escaping @Sendable (GradClient, [Part]) async throws -> (state: VersionResponse, answers: [T]),
        recompute: @escaping @Sendable (GradClient, Part) async throws -> T, version answerVersion: @escaping (T) -> Int
    ) async throws -> (version: Int, learningRate: Float?, answers: [T]) {
        while true {
            // The version the step makes: one past the last acknowledged (base + 1 unless the base is stale).
            let expected = version + 1
            let live = try await liveReplicasOrWait()
            let assigned = Dictionary(grouping: parts.indices) { live[$0 % live.count] }
            let outcomes = await fanOut(live.map { (part: $0, replica: $0) }) { client, replica in
                try await request(client, (assigned[replica] ?? []).map { parts[$0] })
            }
            var acknowledged: [(replica: Int, state: VersionResponse)] = []
            var answers = [T?](repeating: nil, count: parts.count)
            for outcome in outcomes {
                if let value = outcome.value {
                    acknowledged.append((outcome.replica, value.state))
                    for (k, part) in (assigned[outcome.replica] ?? []).enumerated() { answers[part] = value.answers[k] }
                } else if let error = outcome.error {
                    if case ClientError.server(_, 409, _, _, _)? = error as? ClientError {
                        drop(outcome.replica, because: "\(error)", probeAt: .now)
                    } else if Self.isReplicaFailure(error) {
                        drop(outcome.replica, because: "\(error)")
                    } else {
                        throw error
                    }
                }
            }
            var learningRate: Float?
            if acknowledged.isEmpty {
                // Nobody answered: the step may have landed on a replica that then went away.
                guard try await recover(acceptingUpTo: expected) == expected else { continue }
                answers = answers.map { _ in nil }
            } else {
                let trusted = try await settle(acknowledged)
                learningRate = trusted.learningRate
                // Keep only answers made at the trusted state.
                for (replica, state) in acknowledged where state.version != trusted.version || state.digest != trusted.digest {
                    for part in assigned[replica] ?? [] { answers[part] = nil }
                }
            }
            let missing = answers.indices.filter { answers[$0] == nil }
            if !missing.isEmpty {
                let target = version
                let again = try await run(missing.map { parts[$0] }, check: { (answer: T) in
                    answerVersion(answer) == target ? nil : "computed gradients at version \(answerVersion(answer)), expected \(target)"
                }, recompute)
                for (k, part) in missing.enumerated() { answers[part] = again[k] }
            }
            return (version, learningRate, answers.map { $0! })
        }
    }

    /// Trusts the state most replicas report (on a tie, the first server's) and brings the others in line.
    /// Returns the trusted state.
    @discardableResult
    private func settle(_ states: [(replica: Int, state: VersionResponse)]) async throws -> VersionResponse {
        func same(_ a: VersionResponse, _ b: VersionResponse) -> Bool { a.version == b.version && a.digest == b.digest }
        var groups: [(state: VersionResponse, replicas: [Int])] = []
        for (replica, state) in states {
            if let g = groups.firstIndex(where: { same($0.state, state) }) { groups[g].replicas.append(replica) } else { groups.append((state, [replica])) }
        }
        let trusted = groups.max { $0.replicas.count < $1.replicas.count || $0.replicas.count == $1.replicas.count && $0.replicas[0] > $1.replicas[0] }!
        version = trusted.state.version
        for group in groups where !same(group.state, trusted.state) {
            for replica in group.replicas {
                try await bringInLine(replica, from: trusted.replicas[0],
                                      because: "digest \(group.state.digest) at version \(group.state.version), while most replicas hold \(trusted.state.digest) at version \(trusted.state.version)")
            }
        }
        return trusted.state
    }

    /// Copies the whole state of `source` onto `target` (parameters, optimizer state, version).
    private func bringInLine(_ target: Int, from source: Int, because reason: String) async throws {
        do {
            let checkpoint = try await replicas[source].client.checkpoint(layout: layout)
            let version = try await replicas[target].client.restore(checkpoint)
            replicas[target].live = true
            report(.resynchronized(server: replicas[target].client.baseURL, version: version, reason: reason))
        } catch where Self.isReplicaFailure(error) {
            drop(target, because: "\(error)")
        }
    }

    // MARK: Coming and going

    /// At the start: every replica that answers takes part; the others are probed later. The
    /// state most of them share is trusted and the rest are brought in line with it.
    func start() async throws -> ModelDescription {
        let outcomes = await fanOut(replicas.indices.map { (part: 0, replica: $0) }) { client, _ in try await client.model() }
        var model: ModelDescription?
        for outcome in outcomes {
            if let description = outcome.value {
                if let model, description.layout != model.layout || description.model != model.model {
                    throw TrainingError.mismatchedServers("\(replicas[outcome.replica].client.baseURL) trains \(description.model) \(description.layers), but the first server that answered trains \(model.model) \(model.layers)")
                }
                model = model ?? description
            } else if let error = outcome.error {
                guard Self.isReplicaFailure(error) else { throw error }
                drop(outcome.replica, because: "\(error)")
            }
        }
        guard let model else {
            _ = try await recover(acceptingUpTo: .max)
            return try await start()
        }
        layout = model.layout
        var states: [(replica: Int, state: VersionResponse)] = []
        for index in liveIndices {
            do {
                let health = try await replicas[index].client.health()
                states.append((index, VersionResponse(version: health.version, digest: health.digest)))
            } catch where Self.isReplicaFailure(error) {
                drop(index, because: "\(error)")
            }
        }
        if states.isEmpty { _ = try await recover(acceptingUpTo: .max) } else { try await settle(states) }
        return model
    }

    /// Probes the dropped replicas that are due; one that answers is brought to the current
    /// state from a live replica and takes part again.
    func probeDropped() async throws {
        guard let source = liveIndices.first else { return }
        for index in replicas.indices where !replicas[index].live && replicas[index].nextProbe <= .now {
            do {
                let health = try await replicas[index].probe.health()
                let current = try await replicas[source].client.health()
                if health.version == current.version, health.digest == current.digest {
                    replicas[index].live = true
                } else {
                    let checkpoint = try await replicas[source].client.checkpoint(layout: layout)
                    _ = try await replicas[index].client.restore(checkpoint)
                    replicas[index].live = true
                }
                report(.rejoined(server: replicas[index].client.baseURL, version: current.version))
            } catch where Self.isReplicaFailure(error) {
                replicas[index].lastError = "\(error)"
                replicas[index].nextProbe = .now + probeInterval
            }
        }
    }

    /// The live replicas, waiting for one to come back when there are none.
    private func liveReplicasOrWait() async throws -> [Int] {
        if liveIndices.isEmpty { _ = try await recover(acceptingUpTo: version) }
        return liveIndices
    }

    /// With no live replica, or steps in flight whose fate is unknown: probes them all until one
    /// answers at the last acknowledged version, or at most `acceptingUpTo` (steps in flight that
    /// landed), for up to `waitForServers`. Returns the highest such version it found; the replicas
    /// that answered are brought in line with it.
    func recover(acceptingUpTo highest: Int) async throws -> Int {
        let deadline = ContinuousClock.now + waitForServers
        var reported = false
        while true {
            var answers: [(replica: Int, health: HealthResponse)] = []
            for index in replicas.indices {
                do {
                    answers.append((index, try await replicas[index].probe.health()))
                } catch {
                    // A live replica that does not answer takes no further part until a probe finds it back.
                    if replicas[index].live { drop(index, because: "\(error)") } else { replicas[index].lastError = "\(error)" }
                }
            }
            let usable = answers.filter { (version...highest).contains($0.health.version) }
            if let best = usable.max(by: { $0.health.version < $1.health.version || $0.health.version == $1.health.version && $0.replica > $1.replica }) {
                version = best.health.version
                replicas[best.replica].live = true
                report(.rejoined(server: replicas[best.replica].client.baseURL, version: version))
                for other in answers where other.replica != best.replica {
                    if other.health.version == best.health.version, other.health.digest == best.health.digest {
                        replicas[other.replica].live = true
                        report(.rejoined(server: replicas[other.replica].client.baseURL, version: version))
                    } else {
                        try await bringInLine(other.replica, from: best.replica, because: "it came back at version \(other.health.version)")
                    }
                }
                return version
            }
            guard ContinuousClock.now < deadline else {
                let reasons = replicas.map { "\($0.client.baseURL): \($0.lastError)" }.joined(separator: "; ")
                throw TrainingError.noLiveServers("no server came back at version \(version) or later within \(Int(waitForServers.seconds)) s: \(reasons)")
            }
            if !reported {
                report(.waiting(seconds: waitForServers.seconds))
                reported = true
            }
            try await Task.sleep(for: probeInterval)
        }
    }
}

extension ReplicaSet {
    /// Puts `checkpoint` on every live replica (a replica that fails is dropped, and gets the
    /// state when it comes back).
    func restoreEverywhere(_ checkpoint: Checkpoint) async throws {
        for index in liveIndices {
            do {
                _ = try await replicas[index].client.restore(checkpoint)
            } catch where Self.isReplicaFailure(error) {
                drop(index, because: "\(error)")
            }
        }
        version = checkpoint.version
    }
}
