import Foundation
import Model
import Wire

/// Trains a model held by one or more servers: for each mini-batch it asks the servers for
/// per-sample gradients (the batch split over them), averages the gradients itself, and posts
/// the mean to `/apply` on every server, so that all stay at the same parameters and version.
public final class Trainer: Sendable {
    public struct Options: Sendable {
        public var batchSize = 32
        public var epochs = 1
        public var shuffleSeed: UInt64 = 0
        /// Requests in flight at once (also the number of parts a batch is split into).
        public var parallel = 4
        /// Ask each server for the sum of its part's gradients instead of one per sample.
        public var reduceSum = false
        public var tensorFormat = TensorFormat.numbers
        /// After training, put back the parameters of the epoch with the best evaluation MAE.
        public var keepBest = false

        public init() {}
    }

    /// Reported after every step and at the end of every epoch.
    public enum Event: Sendable {
        case step(Step)
        case epoch(EpochSummary)
        case resynchronized(server: String, version: Int)
    }

    public struct Step: Sendable {
        public var epoch: Int
        public var step: Int
        /// The version the batch's gradients were computed at; the step made version + 1.
        public var version: Int
        public var loss: Double
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
    }

    public struct Evaluation: Sendable {
        public var meanSquaredError: Double
        public var meanAbsoluteError: Double
    }

    public struct Report: Sendable {
        public var epochs: [EpochSummary]
        public var finalVersion: Int
        /// The epoch whose parameters the servers hold at the end when `keepBest` was asked.
        public var restoredEpoch: Int?
    }

    public let servers: [GradClient]
    public let options: Options

    public init(servers: [GradClient], options: Options) {
        precondition(!servers.isEmpty, "at least one server")
        self.servers = servers
        self.options = options
    }

    public func train(_ data: Dataset, evaluation: Dataset? = nil, report: @Sendable (Event) -> Void = { _ in }) async throws -> Report {
        guard options.batchSize >= 1, options.epochs >= 1, options.parallel >= 1 else {
            throw TrainingError.invalidOption("batch, epochs and parallel must each be at least 1")
        }
        let model = try await checkModels()
        try check(data, against: model)
        if let evaluation { try check(evaluation, against: model) }
        var version = try await synchronize(layout: model.layout, report: report)

        var summaries: [EpochSummary] = []
        var best: (mae: Double, epoch: Int, checkpoint: Checkpoint)?
        var step = 0
        for epoch in 1...options.epochs {
            var generator = SeededGenerator(seed: options.shuffleSeed &+ UInt64(epoch))
            let order = Array(data.samples.indices).shuffled(using: &generator)
            let started = ContinuousClock.now
            var lossSum = 0.0
            for batchStart in stride(from: 0, to: order.count, by: options.batchSize) {
                let batch = order[batchStart..<min(batchStart + options.batchSize, order.count)].map { data.samples[$0] }
                let (mean, losses) = try await meanGradient(of: batch, version: version, layout: model.layout)
                version = try await applyEverywhere(mean, baseVersion: version, layout: model.layout, report: report)
                lossSum += losses.reduce(0, +)
                step += 1
                report(.step(Step(epoch: epoch, step: step, version: version - 1, loss: losses.reduce(0, +) / Double(losses.count),
                                  samplesDone: min(batchStart + options.batchSize, order.count), samplesPerEpoch: order.count,
                                  seconds: (ContinuousClock.now - started).seconds)))
            }
            let elapsed = (ContinuousClock.now - started).seconds
            var summary = EpochSummary(epoch: epoch, meanLoss: lossSum / Double(order.count),
                                       samplesPerSecond: Double(order.count) / max(elapsed, 1e-9), evaluation: nil, version: version)
            if let evaluation {
                let result = try await evaluate(evaluation)
                summary.evaluation = result
                if options.keepBest, best == nil || result.meanAbsoluteError < best!.mae {
                    best = (result.meanAbsoluteError, epoch, try await servers[0].checkpoint(layout: model.layout))
                }
            }
            summaries.append(summary)
            report(.epoch(summary))
        }
        var restoredEpoch: Int?
        if let best, best.epoch != options.epochs {
            // The best parameters go back on every server as a new version, so the history stays monotonic.
            var checkpoint = best.checkpoint
            checkpoint.version = version + 1
            for server in servers { _ = try await server.restore(checkpoint) }
            version = checkpoint.version
            restoredEpoch = best.epoch
        } else if best != nil {
            restoredEpoch = options.epochs
        }
        return Report(epochs: summaries, finalVersion: version, restoredEpoch: restoredEpoch)
    }

    /// Mean squared and absolute error of the servers' outputs on `data`, at the current parameters.
    public func evaluate(_ data: Dataset) async throws -> Evaluation {
        let parts = split(data.samples, into: max(options.parallel, servers.count))
        let outputs = try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
            for (index, part) in parts.enumerated() {
                let server = servers[index % servers.count]
                group.addTask { (index, try await server.forward(part).outputs) }
            }
            var byPart = [[Float]](repeating: [], count: parts.count)
            for try await (index, values) in group { byPart[index] = values }
            return byPart.flatMap { $0 }
        }
        var squared = 0.0, absolute = 0.0
        for (output, sample) in zip(outputs, data.samples) {
            let error = Double(output) - Double(sample.target)
            squared += error * error
            absolute += abs(error)
        }
        let n = Double(data.samples.count)
        return Evaluation(meanSquaredError: squared / n, meanAbsoluteError: absolute / n)
    }

    // MARK: Steps

    /// Every server must train the same model; returns the first one's description.
    private func checkModels() async throws -> ModelDescription {
        let models = try await withThrowingTaskGroup(of: (Int, ModelDescription).self) { group in
            for (index, server) in servers.enumerated() { group.addTask { (index, try await server.model()) } }
            var models = [ModelDescription?](repeating: nil, count: servers.count)
            for try await (index, model) in group { models[index] = model }
            return models.map { $0! }
        }
        for (server, model) in zip(servers, models).dropFirst() where model.layout != models[0].layout || model.model != models[0].model {
            throw TrainingError.mismatchedServers("\(server.baseURL) trains \(model.model) \(model.layers), but \(servers[0].baseURL) trains \(models[0].model) \(models[0].layers)")
        }
        return models[0]
    }

    /// Samples must fit the model: vectors of its input size, or graphs with its feature count.
    private func check(_ data: Dataset, against model: ModelDescription) throws {
        let inputSize = model.layers[0]
        for (index, sample) in data.samples.enumerated() {
            switch (sample.input, model.model) {
            case (.vector(let x), "mlp") where x.count != inputSize:
                throw TrainingError.invalidData("\(data.location(of: index)): x has \(x.count) values, the server's model expects \(inputSize)")
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

    /// Brings every server to the first one's state when its version or parameters differ.
    private func synchronize(layout: ParameterLayout, report: @Sendable (Event) -> Void) async throws -> Int {
        let reference = try await servers[0].params()
        for server in servers.dropFirst() {
            let other = try await server.params()
            if other.version != reference.version || other.parameters != reference.parameters {
                try await resynchronize(server, layout: layout, report: report)
            }
        }
        return reference.version
    }

    private func resynchronize(_ server: GradClient, layout: ParameterLayout, report: @Sendable (Event) -> Void) async throws {
        let checkpoint = try await servers[0].checkpoint(layout: layout)
        let version = try await server.restore(checkpoint)
        report(.resynchronized(server: server.baseURL, version: version))
    }

    /// The batch split over the servers, per-sample gradients (or partial sums) fetched
    /// concurrently, and averaged here. Returns the mean and the per-sample losses.
    private func meanGradient(of batch: [Sample], version: Int, layout: ParameterLayout) async throws -> (TensorSet, [Double]) {
        let parts = split(batch, into: max(options.parallel, servers.count))
        let reduce: Reduction = options.reduceSum ? .sum : .none, format = options.tensorFormat
        // Each answer is read straight into its own Float64 sum as it arrives; the parts' sums are
        // then added in part order, so the mean depends on the split, not on which server answered first.
        let answers = try await withThrowingTaskGroup(of: (Int, String, GradientPartialSum).self) { group in
            for (index, part) in parts.enumerated() {
                let server = servers[index % servers.count]
                group.addTask {
                    (index, server.baseURL, try await server.gradientSum(part, reduce: reduce, format: format, layout: layout))
                }
            }
            var answers: [(Int, String, GradientPartialSum)] = []
            for try await answer in group { answers.append(answer) }
            return answers.sorted { $0.0 < $1.0 }
        }
        var total = [Double](repeating: 0, count: layout.count)
        var losses: [Double] = []
        for (_, url, answer) in answers {
            guard answer.version == version else {
                throw TrainingError.versionMismatch("\(url) computed gradients at version \(answer.version), expected \(version): is another client training on it?")
            }
            losses += answer.losses.map(Double.init)
            for i in total.indices { total[i] += answer.sum[i] }
        }
        let n = Double(batch.count)
        return (TensorSet(layout: layout, storage: total.map { Float($0 / n) }), losses)
    }

    /// Posts the mean to every server; a server that refuses is brought back in line from the first.
    private func applyEverywhere(_ mean: TensorSet, baseVersion: Int, layout: ParameterLayout, report: @Sendable (Event) -> Void) async throws -> Int {
        let format = options.tensorFormat
        let outcomes = await withTaskGroup(of: ApplyOutcome.self) { group in
            for (index, server) in servers.enumerated() {
                group.addTask {
                    do {
                        return ApplyOutcome(index: index, version: try await server.apply(mean, baseVersion: baseVersion, format: format), error: nil)
                    } catch {
                        return ApplyOutcome(index: index, version: nil, error: error)
                    }
                }
            }
            var outcomes: [ApplyOutcome] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes.sorted { $0.index < $1.index }
        }
        guard let version = outcomes[0].version else { throw outcomes[0].error! }
        for outcome in outcomes.dropFirst() where outcome.version != version {
            switch outcome.error {
            case nil, ClientError.server(_, 409, _, _, _)?:
                try await resynchronize(servers[outcome.index], layout: layout, report: report)
            case let error?:
                throw error
            }
        }
        return version
    }

    private struct ApplyOutcome: Sendable {
        var index: Int
        var version: Int?
        var error: (any Error)?
    }

    /// `items` in up to `count` contiguous parts of near-equal size.
    private func split<T>(_ items: [T], into count: Int) -> [[T]] {
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
    case versionMismatch(String)

    public var description: String {
        switch self {
        case .invalidOption(let message), .invalidData(let message), .mismatchedServers(let message), .versionMismatch(let message):
            message
        }
    }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}
