import Foundation
import Model
import Wire

/// Trains a model held by one or more servers: for each mini-batch it asks the servers for the
/// gradients of its parts (partial sums by default, or one per sample), averages them itself, and
/// posts the mean to every server (`/step`, which also computes the next batch's parts, or
/// `/apply`), so that all stay at the same parameters and version. With `maxStaleness` K > 0 the
/// next K batches' gradients are computed while earlier steps land (Trainer+Staleness.swift).
///
/// Servers may fail and come back (see `ReplicaSet`): the run goes on while one is live. Each
/// batch is cut into the same parts whichever servers are live, and the parts' sums are added
/// in part order, so a run with servers lost and regained ends bit for bit where an undisturbed
/// run ends.
public final class Trainer: Sendable {
    public struct Options: Sendable {
        public var batchSize = 32
        public var epochs = 1
        public var shuffleSeed: UInt64 = 0
        /// Visit the samples in the order given instead of shuffling before each epoch.
        public var shuffle = true
        /// Requests in flight at once (also the number of parts a batch is split into).
        public var parallel = 4
        /// Ask each server for the sum of its part's gradients instead of one per sample.
        public var reduceSum = true
        public var tensorFormat = TensorFormat.b64
        /// After training, put back the parameters of the epoch with the best evaluation MAE.
        public var keepBest = false
        /// How often a dropped server is asked whether it is back.
        public var probeInterval: Duration = .seconds(2)
        /// How long to wait for a server when none is live, before giving up.
        public var waitForServers: Duration = .seconds(60)
        /// Where an earlier run of the same configuration stopped, to go on from there, and with
        /// `keepBest` the best state it had kept.
        public var resume: Position?
        public var resumeBest: Checkpoint?
        /// Asked after every step: true stops the run cleanly there (`TrainingError.interrupted`).
        public var shouldStop: @Sendable () -> Bool = { false }
        /// Private training (DP-SGD) instead of the plain mini-batches.
        public var privacy: Privacy?
        /// One round trip per replica and step (`/step`: the apply and the next batch's gradients
        /// together) instead of two (`/apply`, then `/gradients`). The result is the same, bit for bit.
        public var oneRoundTrip = true
        /// Stale-synchronous training: up to this many steps may land between the version a batch's
        /// gradients are computed at and the step that applies them, so the gradients of the next
        /// `maxStaleness` batches are computed while earlier steps land. 0 is synchronous, exactly.
        /// The servers must accept as much (`gradserve --max-staleness`).
        public var maxStaleness = 0
        /// Pipelined steps (`maxStaleness` > 0 with `oneRoundTrip`) sent together, at most this many
        /// in one request (`/steps`; one goes as `/step`): each request's cost is shared by its steps.
        /// The result is the same, bit for bit. Default: half the K + 1 steps in flight, rounded up,
        /// so that two requests are in flight and the servers work on one while the client reads the other.
        public var stepsPerRequest: Int?

        public init() {}
    }

    /// Where a run is: enough to resume it exactly. Reported before each step's apply (with the
    /// step `pending`) and after it, so that a run killed at any moment can tell, from the
    /// servers' version, whether the step in flight landed.
    public struct Position: Sendable, Codable, Equatable {
        /// The epoch in progress, from 1, and how many of its batches are applied.
        public var epoch = 1
        public var batch = 0
        /// Steps applied in this run so far.
        public var step = 0
        /// The version after the last applied step.
        public var version: Int
        /// The sum of the losses of this epoch's applied batches, and the number of samples they had.
        public var epochLossSum = 0.0
        /// The step being applied: the sum of its batch's losses.
        public var pendingLossSum: Double?
        /// With staleness, the steps sent after it and not yet acknowledged, in order: the sums of their batches' losses.
        public var queuedLossSums: [Double]?
        /// Private training: steps whose noisy gradient was sent, landed or not (what the
        /// accountant counts, so that a resumed run never spends privacy twice).
        public var privateSteps: Int?
        /// With `keepBest`: the best epoch so far and its evaluation MAE (the checkpoint comes with `Event.best`).
        public var bestEpoch: Int?
        /// The measure `keepBest` compares, lower is better (MAE, or 1 - accuracy).
        public var bestScore: Double?

        public init(version: Int) { self.version = version }
    }

    /// Reported after every step and at the end of every epoch.
    public enum Event: Sendable {
        /// Where the run is (see `Position`).
        case position(Position)
        /// With `keepBest`: a new best epoch, with the state to put back at the end.
        case best(epoch: Int, checkpoint: Checkpoint)
        case step(Step)
        case epoch(EpochSummary)
        /// A server whose state differed was given the trusted state.
        case resynchronized(server: String, version: Int, reason: String)
        /// A server failed and no longer takes part; it is probed again.
        case dropped(server: String, reason: String)
        /// A dropped server answers again and holds the current state.
        case rejoined(server: String, version: Int)
        /// No server is live: waiting up to this long for one.
        case waiting(seconds: Double)
    }

    public struct Step: Sendable {
        public var epoch: Int
        public var step: Int
        /// The version the batch's gradients were computed at; the step made version + 1.
        public var version: Int
        public var loss: Double
        /// The learning rate the servers used for this step (nil when the answer that said it was lost).
        public var learningRate: Float?
        /// Private training: ε spent so far at the run's δ.
        public var epsilon: Double?
        public var samplesDone: Int
        public var samplesPerEpoch: Int
        public var seconds: Double
    }

    public struct EpochSummary: Sendable {
        public var epoch: Int
        public var meanLoss: Double
        public var samplesPerSecond: Double
        public var evaluation: Evaluation?
        public var version: Int
        /// Steps applied in the run at the end of this epoch.
        public var step: Int
        /// Private training: ε spent so far at the run's δ.
        public var epsilon: Double?
    }

    /// What fits the loss: MSE and MAE (averaged over outputs) for squared error; accuracy and
    /// mean cross-entropy for the classification losses.
    public struct Evaluation: Sendable {
        public var meanSquaredError: Double?
        public var meanAbsoluteError: Double?
        /// softmax: the share of samples whose most probable class is the target; sigmoid: the
        /// share of labels whose probability is on the target's side of 0.5.
        public var accuracy: Double?
        /// The mean of the samples' losses, computed here in Float64 from the outputs.
        public var crossEntropy: Double?

        /// What `keepBest` minimises: the MAE, or 1 - accuracy.
        public var score: Double { accuracy.map { 1 - $0 } ?? meanAbsoluteError! }

        /// Such as "MSE 0.001234, MAE 0.012345" or "accuracy 0.9612, cross-entropy 0.123456".
        public var summary: String {
            if let accuracy, let crossEntropy { return String(format: "accuracy %.4f, cross-entropy %.6f", accuracy, crossEntropy) }
            return String(format: "MSE %.6f, MAE %.6f", meanSquaredError ?? .nan, meanAbsoluteError ?? .nan)
        }
    }

    public struct Report: Sendable {
        public var epochs: [EpochSummary]
        public var finalVersion: Int
        /// The epoch whose parameters the servers hold at the end when `keepBest` was asked.
        public var restoredEpoch: Int?
        /// Private training that stopped before a step that would have exceeded `maxEpsilon`: why.
        public var privacyStop: String?
    }

    public let servers: [GradClient]
    public let options: Options

    public init(servers: [GradClient], options: Options) {
        precondition(!servers.isEmpty, "at least one server")
        self.servers = servers
        self.options = options
    }

    public func train(_ data: Dataset, evaluation: Dataset? = nil, report: @escaping @Sendable (Event) -> Void = { _ in }) async throws -> Report {
        try await onTransportThread { try await self.run(data, evaluation: evaluation, report: report) }
    }

    /// Runs `body` on the thread that drives the servers' transfers (see `CurlTransport.executor`),
    /// so that sending a request and reading its answer never wait for another thread to wake.
    private func onTransportThread<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await withTaskExecutorPreference(onTransport ? servers[0].transport.executor : nil) { try await body() }
    }

    /// Whether every server is reached through one transport, whose thread can then run the trainer.
    var onTransport: Bool { servers.allSatisfy { $0.transport === servers[0].transport } }

    private func run(_ data: Dataset, evaluation: Dataset?, report: @escaping @Sendable (Event) -> Void) async throws -> Report {
        guard options.batchSize >= 1, options.epochs >= 1, options.parallel >= 1, options.maxStaleness >= 0 else {
            throw TrainingError.invalidOption("batch, epochs and parallel must each be at least 1, and max staleness 0 or more")
        }
        let replicas = try ReplicaSet(servers, probeInterval: options.probeInterval, waitForServers: options.waitForServers, report: report)
        let model = try await replicas.start()
        // Built once: `ModelDescription.layout` makes a new layout from the parameter list on each use.
        let layout = model.layout
        guard model.maxStaleness >= options.maxStaleness else {
            throw TrainingError.invalidOption("max staleness \(options.maxStaleness): the servers accept gradients at most \(model.maxStaleness) "
                + "step(s) old; start them with gradserve --max-staleness \(options.maxStaleness) or more")
        }
        try check(data, against: model)
        if let evaluation { try check(evaluation, against: model) }
        var position = try resumePosition(at: replicas.version)
        var best: (score: Double, epoch: Int, checkpoint: Checkpoint)?
        if let epoch = position.bestEpoch, let score = position.bestScore, let checkpoint = options.resumeBest {
            best = (score, epoch, checkpoint)
        }
        var summaries: [EpochSummary] = []
        let privacy = options.privacy
        try privacy?.validate()
        // q = B / N, and the accountant of the sampled Gaussian mechanism at that rate.
        let rate = Double(options.batchSize) / Double(data.samples.count)
        let accountant = privacy.map { PrivacyAccountant(samplingRate: min(rate, 1), noiseMultiplier: $0.noiseMultiplier) }
        func epsilon(_ steps: Int) -> Double? { privacy.map { accountant!.epsilon(steps: steps, delta: $0.delta).epsilon } }
        var random = PrivacyRandom(seed: privacy?.seed)
        var privacyStop: String?
        // Each sample is written as JSON once for the whole run (its inputs in the run's tensor format);
        // requests are put together from these.
        let encoded = EncodedSample.encoding(data.samples, format: options.tensorFormat)
        training: for epoch in stride(from: position.epoch, through: options.epochs, by: 1) {
            var generator = SeededGenerator(seed: options.shuffleSeed &+ UInt64(epoch))
            let order = options.shuffle ? Array(data.samples.indices).shuffled(using: &generator) : Array(data.samples.indices)
            let started = ContinuousClock.now
            let starts = Array(stride(from: 0, to: order.count, by: options.batchSize))
            let remaining = Array(starts.dropFirst(position.batch))
            // A step's batch: a slice of the shuffled order, or for private training a Poisson sample.
            var drawnAhead: (start: Int, batch: [EncodedSample])?
            func draw(_ batchStart: Int) -> [EncodedSample] {
                if privacy != nil { return random.poissonSample(count: data.samples.count, rate: rate).map { encoded[$0] } }
                if let drawn = drawnAhead, drawn.start == batchStart { return drawn.batch }
                return order[batchStart..<min(batchStart + options.batchSize, order.count)].map { encoded[$0] }
            }
            // The shuffled batch after the one being sent, drawn a step early with its bytes asked into
            // the caches (`EncodedSample.prefetch`), so that the next request copies them from there;
            // and the entries of the batch after it, so that drawing it then finds them there. (A
            // private run's Poisson samples are drawn when used: they take from its random stream.)
            func drawAhead(_ batchIndex: Int) {
                guard privacy == nil, batchIndex < remaining.count else { return }
                let batch = draw(remaining[batchIndex])
                batch.forEach { $0.prefetch() }
                drawnAhead = (remaining[batchIndex], batch)
                if batchIndex + 1 < remaining.count {
                    let start = remaining[batchIndex + 1]
                    EncodedSample.prefetch(order[start..<min(start + options.batchSize, order.count)], of: encoded)
                }
            }
            // The next batch and, with one round trip per step, its gradients, computed by the step before.
            var upcoming: (batch: [EncodedSample], gradients: Sums?)?
            let staleness = options.maxStaleness
            // With staleness K and `/step`, steps are pipelined (Trainer+Staleness.swift): up to K + 1
            // in flight, each computing the gradients of the batch K + 1 after its own, which land
            // here by batch index. The first K + 1 batches' gradients are asked for ahead instead.
            // Ready steps wait in `ready` to go together, up to `stepsPerRequest` a request; they go
            // before the loop waits for anything, so none is held back while the run could go on.
            let pipelined = staleness > 0 && options.oneRoundTrip
            var inFlight: [SentSteps] = [], ready: [ReadyStep] = []
            // The steps sent and not yet landed, and those ready to go: each lands on the version after the one before.
            var stepsInFlight: Int { inFlight.reduce(ready.count) { $0 + $1.steps.count } }
            func sendReady() {
                guard !ready.isEmpty else { return }
                inFlight.append(send(ready, layout: layout, clipNorm: privacy?.clipNorm, on: replicas))
                ready = []
            }
            var fromSteps: [Int: (batch: [EncodedSample], gradients: Sums, base: Int)] = [:]
            // With staleness K: the batches whose gradients are asked for ahead, by index in `remaining`.
            var ahead: [Int: Prefetch] = [:], launched = 0
            defer {
                for prefetch in ahead.values { prefetch.cancel() }
                for step in inFlight { step.task.cancel() }
            }
            /// Asks for the gradients of the batches up to `index + K` that are not asked for yet. At the
            /// current version v, a batch up to K steps ahead is applied at a version at most v + K.
            func launch(through index: Int) {
                guard staleness > 0 else { return }
                while launched < remaining.count, launched <= index + staleness {
                    ahead[launched] = prefetch(draw(remaining[launched]), version: position.version, layout: layout,
                                               clipNorm: privacy?.clipNorm, on: replicas)
                    launched += 1
                }
            }
            /// Asks for the gradients of batches `start...start + K` at the current version; pipelined,
            /// waits for them all before the first step is sent, so that each is computed at that
            /// version (no step is in flight yet) and is applied at most K steps later.
            func begin(at start: Int) async throws {
                launch(through: start)
                guard pipelined else { return }
                for i in start..<launched {
                    let fetched = ahead.removeValue(forKey: i)!
                    let (gradients, base) = try await collect(fetched, layout: layout, clipNorm: privacy?.clipNorm, on: replicas)
                    fromSteps[i] = (fetched.batch, gradients, base)
                }
            }
            try await begin(at: 0)
            /// A step landed, making `version`: the run moves on, and says so.
            func landed(_ version: Int, learningRate: Float?, batchStart: Int, gradients: Sums,
                        base: Int) async throws {
                position.advance(to: version)
                report(.position(position))
                if inFlight.isEmpty { try await replicas.probeDropped() }
                report(.step(Step(epoch: epoch, step: position.step, version: base,
                                  // A private step's batch may be empty (noise only): its loss is NaN.
                                  loss: gradients.lossSum / Double(gradients.samples),
                                  learningRate: learningRate, epsilon: epsilon(position.privateSteps ?? 0),
                                  samplesDone: min(batchStart + options.batchSize, order.count), samplesPerEpoch: order.count,
                                  seconds: (ContinuousClock.now - started).seconds)))
            }
            var index = 0, stopping = false
            while index < remaining.count && !stopping || stepsInFlight > 0 {
                guard index < remaining.count, !stopping, stepsInFlight <= staleness || !pipelined else {
                    // Pipelined: the oldest steps in flight must land before another is sent.
                    sendReady()
                    let oldest = inFlight.removeFirst()
                    switch try await complete(oldest, after: inFlight, layout: layout, on: replicas) {
                    case .landed(let results):
                        for (step, result) in zip(oldest.steps, results) {
                            try await landed(step.ifVersion + 1, learningRate: result.learningRate, batchStart: step.batchStart,
                                             gradients: step.gradients, base: step.base)
                            if let next = result.next { fromSteps[next.index] = (next.batch, next.gradients, step.ifVersion + 1) }
                        }
                    case .settled(let count):
                        // Something failed: every step was drained, and `count` of them landed (the oldest first).
                        let drained = ([oldest] + inFlight).flatMap(\.steps)
                        for step in drained.prefix(count) {
                            try await landed(step.ifVersion + 1, learningRate: nil, batchStart: step.batchStart, gradients: step.gradients,
                                             base: step.base)
                        }
                        // The rest start again from the first batch that did not land (steps go out in batch
                        // order), as at an epoch's start.
                        index = drained[0].index + count
                        inFlight = []
                        fromSteps = [:]
                        for prefetch in ahead.values { prefetch.cancel() }
                        (ahead, launched) = ([:], index)
                        position.forgetStepsInFlight()
                        report(.position(position))
                        try await replicas.probeDropped()
                        try await begin(at: index)
                    }
                    if options.shouldStop() { stopping = true }
                    continue
                }
                let batchStart = remaining[index]
                if let privacy, let maxEpsilon = privacy.maxEpsilon, let next = epsilon((position.privateSteps ?? 0) + 1), next > maxEpsilon {
                    privacyStop = String(format: "stopped before step %d: it would spend ε = %.4f, above the largest allowed, %.4f (δ = %g)",
                                         position.step + stepsInFlight + 1, next, maxEpsilon, privacy.delta)
                    stopping = true
                    continue
                }
                let batch: [EncodedSample], gradients: Sums
                // The version the gradients were computed at: the step's base.
                var base = position.version
                if let computed = fromSteps.removeValue(forKey: index) {
                    (batch, gradients, base) = computed
                } else if let fetched = ahead.removeValue(forKey: index) {
                    batch = fetched.batch
                    (gradients, base) = try await collect(fetched, layout: layout, clipNorm: privacy?.clipNorm, on: replicas)
                } else if let ready = upcoming?.gradients {
                    batch = upcoming!.batch
                    gradients = ready
                } else {
                    batch = upcoming?.batch ?? draw(batchStart)
                    gradients = try await gradientSums(of: batch, version: position.version, layout: layout,
                                                       clipNorm: privacy?.clipNorm, on: replicas)
                }
                upcoming = nil
                let mean: TensorSet
                if let privacy {
                    mean = TensorSet(layout: layout, storage: privacy.noisyMean(gradients.sum, expectedBatch: options.batchSize, random: &random))
                    position.privateSteps = (position.privateSteps ?? 0) + 1
                } else {
                    mean = TensorSet(layout: layout, meanOf: gradients.sum, count: batch.count)
                }
                position.send(lossSum: gradients.lossSum)
                report(.position(position))
                if pipelined {
                    // The step lands on version v + (steps in flight); it computes the batch K + 1 after its own.
                    let later = index + staleness + 1
                    let next = later < remaining.count ? (later, draw(remaining[later])) : nil
                    drawAhead(later + 1)
                    ready.append(ReadyStep(index: index, batchStart: batchStart, mean: mean, gradients: gradients, base: base,
                                               ifVersion: position.version + stepsInFlight, next: next))
                    index += 1
                    // Sent when full, or when the next step must wait for an answer.
                    if ready.count >= stepsPerRequest || fromSteps[index] == nil { sendReady() }
                    continue
                }
                let version: Int, learningRate: Float?
                let following = index + 1 < remaining.count && staleness == 0 ? draw(remaining[index + 1]) : nil
                if staleness == 0 { drawAhead(index + 2) }
                if staleness > 0 {
                    (version, learningRate) = try await replicas.apply(mean, baseVersion: base, format: options.tensorFormat)
                } else if options.oneRoundTrip, let following, !following.isEmpty {
                    let next = try await step(mean, baseVersion: position.version, next: following, layout: layout,
                                              clipNorm: privacy?.clipNorm, on: replicas)
                    (version, learningRate) = (next.version, next.learningRate)
                    upcoming = (following, next.gradients)
                } else {
                    (version, learningRate) = try await replicas.apply(mean, baseVersion: position.version, format: options.tensorFormat)
                    upcoming = following.map { ($0, nil) }
                }
                try await landed(version, learningRate: learningRate, batchStart: batchStart, gradients: gradients, base: base)
                launch(through: index + 1)
                index += 1
                if options.shouldStop() { stopping = true }
            }
            if stopping, privacyStop == nil { throw TrainingError.interrupted(position) }
            if privacyStop != nil { break training }
            let elapsed = (ContinuousClock.now - started).seconds
            // With private training, the losses of the samples drawn over N: an unbiased estimate of the mean.
            var summary = EpochSummary(epoch: epoch, meanLoss: position.epochLossSum / Double(order.count),
                                       samplesPerSecond: Double(order.count) / max(elapsed, 1e-9), evaluation: nil, version: position.version,
                                       step: position.step, epsilon: epsilon(position.privateSteps ?? 0))
            if let evaluation {
                let result = try await evaluate(evaluation, loss: model.options.loss, on: replicas)
                summary.evaluation = result
                if options.keepBest, best == nil || result.score < best!.score {
                    let checkpoint = try await replicas.run([layout]) { try await $0.checkpoint(layout: $1) }[0]
                    best = (result.score, epoch, checkpoint)
                    (position.bestEpoch, position.bestScore) = (epoch, result.score)
                    report(.best(epoch: epoch, checkpoint: checkpoint))
                }
            }
            summaries.append(summary)
            report(.epoch(summary))
            (position.epoch, position.batch, position.epochLossSum) = (epoch + 1, 0, 0)
            report(.position(position))
        }
        var version = position.version
        var restoredEpoch: Int?
        if let best, best.epoch != options.epochs {
            // The best parameters go back on every server as a new version, so the history stays monotonic.
            var checkpoint = best.checkpoint
            checkpoint.version = version + 1
            try await replicas.restoreEverywhere(checkpoint)
            version = checkpoint.version
            restoredEpoch = best.epoch
        } else if best != nil {
            restoredEpoch = options.epochs
        }
        return Report(epochs: summaries, finalVersion: version, restoredEpoch: restoredEpoch, privacyStop: privacyStop)
    }

    /// Where to start: the beginning, at the servers' version; or where `options.resume` says,
    /// once the servers' version tells whether the step in flight when the run stopped landed.
    private func resumePosition(at version: Int) throws -> Position {
        guard var position = options.resume else { return Position(version: version) }
        let inFlight = position.stepsInFlight
        if (position.version + 1...position.version + max(inFlight, 1)).contains(version), inFlight > 0 {
            // The steps in flight when the run stopped landed, this many of them, in order.
            while position.version < version { position.advance(to: position.version + 1) }
        } else if version != position.version {
            let flight = switch inFlight {
            case 0: ""
            case 1: " with the step to \(position.version + 1) in flight"
            default: " with the steps to \(position.version + 1)...\(position.version + inFlight) in flight"
            }
            throw TrainingError.cannotResume("the servers are at version \(version), but the run stopped at version \(position.version)"
                + flight + ": did another client train them?")
        }
        position.forgetStepsInFlight()
        return position
    }

    /// The servers' answers for every sample, in order (outputs K a sample, and for classifiers
    /// the probabilities and classes), `batchSize` samples a request, spread over the live
    /// servers (one that fails is dropped and its batches move to the others). `progress` hears
    /// how many samples are done.
    public func predict(_ data: Dataset, batchSize: Int, progress: @escaping @Sendable (Int) -> Void = { _ in }) async throws -> ForwardResponse {
        try await onTransportThread { try await self.forward(data, batchSize: batchSize, progress: progress) }
    }

    private func forward(_ data: Dataset, batchSize: Int, progress: @Sendable (Int) -> Void) async throws -> ForwardResponse {
        guard batchSize >= 1 else { throw TrainingError.invalidOption("batch must be at least 1") }
        let replicas = try ReplicaSet(servers, probeInterval: options.probeInterval, waitForServers: options.waitForServers, report: { _ in })
        _ = try await replicas.start()
        let batches = stride(from: 0, to: data.samples.count, by: batchSize).map { Array(data.samples[$0..<min($0 + batchSize, data.samples.count)]) }
        var all: ForwardResponse?
        // A window of requests at a time, so progress moves and memory stays bounded.
        let window = max(options.parallel, servers.count) * 2
        for start in stride(from: 0, to: batches.count, by: window) {
            let answers = try await replicas.run(Array(batches[start..<min(start + window, batches.count)])) { server, batch in
                try await server.forward(batch)
            }
            for answer in answers {
                if all == nil { all = answer } else { all!.append(answer) }
            }
            progress(all?.count ?? 0)
            try await replicas.probeDropped()
        }
        return all!
    }

    /// The evaluation of `data` at the servers' current parameters, with the measures that fit `loss`.
    public func evaluate(_ data: Dataset, loss: Loss) async throws -> Evaluation {
        try await onTransportThread {
            let replicas = try ReplicaSet(self.servers, probeInterval: self.options.probeInterval, waitForServers: self.options.waitForServers,
                                          report: { _ in })
            _ = try await replicas.start()
            return try await self.evaluate(data, loss: loss, on: replicas)
        }
    }

    private func evaluate(_ data: Dataset, loss: Loss, on replicas: ReplicaSet) async throws -> Evaluation {
        let parts = Self.split(data.samples, into: partCount)
        let answers = try await replicas.run(parts) { server, part in try await server.forward(part) }
        var outputs: [Float] = []
        for answer in answers { outputs += answer.outputs }
        let k = answers.first?.outputCount ?? 1
        return Evaluation(outputs: outputs, outputCount: k, samples: data.samples, loss: loss)
    }

    /// Parts a batch is cut into: fixed by the options and the number of servers named, never by
    /// how many are live, so that every sample's gradient comes from the same computation.
    var partCount: Int { max(options.parallel, servers.count) }

    // MARK: Steps

    /// Samples must fit the model: vectors of its input size, or graphs with its feature count.
    private func check(_ data: Dataset, against model: ModelDescription) throws {
        let inputSize = model.layers[0]
        for (index, sample) in data.samples.enumerated() {
            switch (sample.input, model.model) {
            case (.vector(let x), "mlp") where x.count != inputSize:
                let hint = data.source.hasSuffix(".csv") ? " (the last --targets columns of a CSV row are its targets)" : ""
                throw TrainingError.invalidData("\(data.location(of: index)): x has \(x.count) values, the server's model expects \(inputSize)\(hint)")
            case (.graph(let graph), "gcn") where graph.featureCount != inputSize && graph.nodeCount > 0:
                throw TrainingError.invalidData("\(data.location(of: index)): nodes have \(graph.featureCount) features, the server's model expects \(inputSize)")
            case (.graph, "mlp"):
                throw TrainingError.invalidData("\(data.location(of: index)): a graph sample, but the server trains a dense model")
            case (.vector, "gcn"):
                throw TrainingError.invalidData("\(data.location(of: index)): a vector sample, but the server trains a graph model")
            default:
                continue
            }
        }
    }

    /// `/step` on every replica: `mean` applied at `baseVersion`, and the gradient sums of the
    /// `next` batch (cut into the usual parts) at the version that made.
    private func step(_ mean: TensorSet, baseVersion: Int, next: [EncodedSample], layout: ParameterLayout, clipNorm: Float?,
                      on replicas: ReplicaSet) async throws -> (version: Int, learningRate: Float?, gradients: Sums) {
        let reduce: Reduction = options.reduceSum ? .sum : .none, format = options.tensorFormat
        let encoded = EncodedTensors(mean, format: format)  // once for every server
        let (version, learningRate, answers) = try await replicas.step(mean, baseVersion: baseVersion, parts: Self.split(next, into: partCount), { client, parts in
            let answer = try await client.step(encoded, baseVersion: baseVersion, parts: parts, reduce: reduce, format: format, clipNorm: clipNorm, layout: layout)
            return (answer.state, answer.parts)
        }, recompute: partRequest(clipNorm: clipNorm, layout: layout), version: { $0.version })
        return (version, learningRate, Self.combine(answers, layout: layout))
    }

    /// How one part's gradients are asked of a server: a partial sum or one per sample, in the
    /// options' tensor form, each sample clipped to `clipNorm` when given.
    func partRequest(clipNorm: Float?, layout: ParameterLayout) -> @Sendable (GradClient, [EncodedSample]) async throws -> GradientPartialSum {
        let reduce: Reduction = options.reduceSum ? .sum : .none, format = options.tensorFormat
        return { client, part in try await client.gradientSum(part, reduce: reduce, format: format, clipNorm: clipNorm, layout: layout) }
    }

    /// A batch's gradient sum in Float64, the sum of its losses, and how many samples it had.
    public typealias Sums = (sum: [Double], lossSum: Double, samples: Int)

    /// The parts' sums added in part order (so the total depends on the split, not on who
    /// answered first), and so are their loss sums.
    ///
    /// The total starts as the first part's sum rather than as zeros: each sum was added up from
    /// +0, so it holds no -0, and 0 + x is then x bit for bit. The first sum's storage becomes the
    /// total's when the caller hands over its last reference (one server's single answer at a
    /// large model: no 16.8 MB zero fill and no pass over it), and is copied otherwise.
    public static func combine(_ answers: consuming [GradientPartialSum], layout: ParameterLayout) -> Sums {
        var lossSum = 0.0, samples = 0
        for k in answers.indices {
            lossSum += answers[k].lossSum
            samples += answers[k].samples
        }
        guard !answers.isEmpty else { return ([Double](repeating: 0, count: layout.count), lossSum, samples) }
        precondition(answers.allSatisfy { $0.sum.count == layout.count }, "sums laid out by the layout")
        var total = answers[0].sum
        answers[0].sum = []
        total.withUnsafeMutableBufferPointer { total in
            for k in answers.indices.dropFirst() {
                // Plain loops over the storage, which the compiler turns into vector additions.
                answers[k].sum.withUnsafeBufferPointer { sum in
                    for i in 0..<total.count { total[i] += sum[i] }
                }
            }
        }
        return (total, lossSum, samples)
    }

    /// The sum of the batch's per-sample gradients (each clipped to `clipNorm` by the servers when
    /// given) in Float64, with the sum and count of the losses. An empty batch sums to zero.
    func gradientSums(of batch: [EncodedSample], version: Int, layout: ParameterLayout, clipNorm: Float?,
                      on replicas: ReplicaSet) async throws -> Sums {
        guard !batch.isEmpty else { return ([Double](repeating: 0, count: layout.count), 0, 0) }
        // Each answer is read straight into its own Float64 sum as it arrives; the parts' sums are
        // then added in part order, so the mean depends on the split, not on who answered first.
        let answers = try await partSums(Self.split(batch, into: partCount), version: version, layout: layout, clipNorm: clipNorm, on: replicas)
        return Self.combine(answers, layout: layout)
    }

    /// Each part's gradients, spread over the live replicas (see `ReplicaSet.run`), all computed at `version`.
    func partSums(_ parts: [[EncodedSample]], version: Int, layout: ParameterLayout, clipNorm: Float?,
                  on replicas: ReplicaSet) async throws -> [GradientPartialSum] {
        try await replicas.run(parts, check: { (answer: GradientPartialSum) in
            answer.version == version ? nil : "computed gradients at version \(answer.version), expected \(version)"
        }, partRequest(clipNorm: clipNorm, layout: layout))
    }

    /// `items` in up to `count` contiguous parts of near-equal size.
    public static func split<T>(_ items: [T], into count: Int) -> [[T]] {
        let parts = min(count, items.count)
        guard parts > 0 else { return [] }
        return (0..<parts).map { part in
            Array(items[(items.count * part / parts)..<(items.count * (part + 1) / parts)])
        }
    }
}

public enum TrainingError: Error, Sendable, CustomStringConvertible {
    case invalidOption(String)
    case invalidData(String)
    case mismatchedServers(String)
    case noLiveServers(String)
    case cannotResume(String)
    /// `shouldStop` asked for a stop; the run is at `Position`.
    case interrupted(Trainer.Position)

    public var description: String {
        switch self {
        case .invalidOption(let message), .invalidData(let message), .mismatchedServers(let message), .noLiveServers(let message),
             .cannotResume(let message):
            message
        case .interrupted(let position):
            "stopped after step \(position.step) (epoch \(position.epoch), version \(position.version))"
        }
    }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}

extension Trainer.Position {
    /// The pending step (the first of those in flight) landed, making `version`.
    mutating func advance(to version: Int) {
        epochLossSum += pendingLossSum ?? 0
        pendingLossSum = queuedLossSums?.first
        queuedLossSums = queuedLossSums.flatMap { $0.count > 1 ? Array($0.dropFirst()) : nil }
        self.version = version
        batch += 1
        step += 1
    }

    /// A step sent, with the sum of its batch's losses: it is in flight until it lands (`advance`).
    mutating func send(lossSum: Double) {
        if pendingLossSum == nil { pendingLossSum = lossSum } else { queuedLossSums = (queuedLossSums ?? []) + [lossSum] }
    }

    /// Steps sent and not yet known to have landed.
    var stepsInFlight: Int { (pendingLossSum == nil ? 0 : 1) + (queuedLossSums?.count ?? 0) }

    /// The steps in flight did not land (or were accounted already): none is pending.
    mutating func forgetStepsInFlight() { (pendingLossSum, queuedLossSums) = (nil, nil) }
}

extension Trainer.Evaluation {
    /// The measures of `outputs` (K a sample) against the samples' targets, in Float64.
    public init(outputs: [Float], outputCount k: Int, samples: [Sample], loss: Loss) {
        let n = Double(samples.count)
        switch loss {
        case .squaredError:
            var squared = 0.0, absolute = 0.0
            for (i, sample) in samples.enumerated() {
                for (j, t) in sample.target.values.enumerated() {
                    let error = Double(outputs[i * k + j]) - Double(t)
                    squared += error * error
                    absolute += abs(error)
                }
            }
            self.init(meanSquaredError: squared / (n * Double(k)), meanAbsoluteError: absolute / (n * Double(k)))
        case .softmaxCrossEntropy:
            var correct = 0.0, entropy = 0.0
            for (i, sample) in samples.enumerated() {
                let y = outputs[(i * k)..<((i + 1) * k)].map(Double.init), t = Int(sample.target.values[0])
                let m = y.max()!
                let logSum = m + log(y.reduce(0) { $0 + exp($1 - m) })
                entropy += logSum - y[t]
                if y.indices.max(by: { y[$0] < y[$1] }) == t { correct += 1 }
            }
            self.init(accuracy: correct / n, crossEntropy: entropy / n)
        case .sigmoidCrossEntropy:
            var correct = 0.0, entropy = 0.0
            for (i, sample) in samples.enumerated() {
                for (j, t) in sample.target.values.enumerated() {
                    let y = Double(outputs[i * k + j]), t = Double(t)
                    entropy += max(y, 0) + log1p(exp(-abs(y))) - t * y
                    if (y >= 0) == (t >= 0.5) { correct += 1 }
                }
            }
            self.init(accuracy: correct / (n * Double(k)), crossEntropy: entropy / n)
        }
    }
}

extension ForwardResponse {
    /// Appends the samples of a later answer of the same model.
    mutating func append(_ other: ForwardResponse) {
        outputs += other.outputs
        if let more = other.probabilities { probabilities = (probabilities ?? []) + more }
        if let more = other.classes { classes = (classes ?? []) + more }
        if let more = other.labels { labels = (labels ?? []) + more }
    }
}
