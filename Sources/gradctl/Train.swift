import Locking
import ArgumentParser
import Client
import Foundation
import Model
import TensorBoard
import Wire

struct Train: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train remotely: per-sample gradients from the servers, averaged here, one /apply per mini-batch on every server.",
        discussion: """
            With several --server, the run goes on while one server answers. A server that fails is dropped (its share \
            of each batch moves to the others), probed every --probe-interval seconds, and when it answers again it gets \
            the current state from a live server and takes part again. After every step the servers' state digests are \
            compared: the state most servers share is trusted (on a tie, the first server's) and any other is brought in \
            line. With no server live, gradctl waits --wait-for-servers seconds for one to come back. A run with servers \
            lost and regained ends bit for bit like an undisturbed one.

            With --run-dir, the run is recorded after every step; the same command resumes it after gradctl is killed, \
            and Ctrl-C stops it cleanly after the step in flight.
            """)

    @Option(name: .customLong("server"), help: ArgumentHelp(
        "Server base URL (http://host:port); repeat to spread the work over several servers, which must hold the same state.",
        valueName: "url"))
    var servers: [String] = ["http://127.0.0.1:8080"]
    @Option(help: ArgumentHelp(
        "Training data: CSV (the inputs, then the target, one sample a line) or JSON Lines ({\"x\": [...], \"t\": number} or graphs {\"nodes\": ..., \"edges\": ..., \"t\": number}). Give this or --synthetic.",
        valueName: "file"))
    var data: String?
    @Option(help: ArgumentHelp(
        "Instead of --data, this many samples (1 or more) of the reference task: x uniform in [0,1)^D, t = |x|, D the server's input size.",
        valueName: "n"))
    var synthetic: Int?
    @Option(help: ArgumentHelp("Seed of the synthetic data, any 64-bit unsigned integer.", valueName: "seed"))
    var dataSeed: UInt64 = 1
    @Option(help: ArgumentHelp("Samples per mini-batch (1 or more); the last batch of an epoch may be smaller.", valueName: "samples"))
    var batch = 32
    @Option(help: ArgumentHelp("Passes over the data (1 or more).", valueName: "n")) var epochs = 1
    @Option(help: ArgumentHelp("Seed of the shuffle before each epoch, any 64-bit unsigned integer (epoch e shuffles with seed + e).", valueName: "seed"))
    var shuffleSeed: UInt64 = 0
    @Flag(help: "Visit the samples in file order in every epoch instead of shuffling.") var noShuffle = false
    @Option(help: ArgumentHelp("Requests in flight at once over all servers (1 or more); each batch is split into max(parallel, servers) parts. "
                               + "Default: 1, one part per server, since a server computes the parts of a /step one after another and "
                               + "more would only add sums to its answer; 4 with --two-round-trips, whose requests a server answers on several cores.",
                               valueName: "requests"))
    var parallel: Int?

    /// --parallel, or its default for the kind of step.
    var requestsInFlight: Int { parallel ?? (twoRoundTrips ? 4 : 1) }
    @Option(help: ArgumentHelp("CSV only: how many target columns end each row (1 or more); one is a number or a class index, several a list.",
                               valueName: "columns"))
    var targets = 1
    @Option(help: ArgumentHelp("Evaluation data in the format of --data, scored after each epoch: MSE and MAE (squared error), or accuracy and mean cross-entropy (classification).",
                               valueName: "file"))
    var eval: String?
    @Option(help: ArgumentHelp("Write the loss of every step to this CSV file (step, epoch, version, loss, seconds); replaced if it exists.",
                               valueName: "file"))
    var history: String?
    @Option(help: ArgumentHelp(
        "Write TensorBoard event files to this folder (created if missing; a resumed run adds a file): the loss and learning rate of every step, the mean loss, samples/s and evaluation of every epoch.",
        valueName: "dir"))
    var tensorboard: String?
    @Flag(help: "Ask for every sample's gradient on the wire instead of each part's sum, which the servers make by default (the same training, more traffic; for inspecting per-sample gradients).")
    var perSample = false
    @Flag(help: ArgumentHelp("The default: each server sums its part's gradients (kept so that older commands still run).", visibility: .hidden))
    var reduceSum = false
    @Option(help: ArgumentHelp("Tensor encoding on the wire both ways: b64 (little-endian Float32, base64; exact, smaller and faster) or numbers (JSON arrays).",
                               valueName: "format"))
    var tensorFormat: TensorFormat = .b64
    @Flag(help: "Two requests per server and step (/apply, then /gradients for the next batch) instead of one (/step): for servers without /step; the same result.")
    var twoRoundTrips = false
    @Option(help: ArgumentHelp("Steps that may land between the version a batch's gradients are computed at and the step that applies them, "
                               + "0 to 64 (0: synchronous, exactly). With K > 0 up to K + 1 steps are in flight, each computing the "
                               + "gradients of the batch K + 1 after its own (with --two-round-trips: the next K batches' gradients are "
                               + "computed while each step lands); the servers must allow it (gradserve --max-staleness K or more).", valueName: "steps"))
    var maxStaleness = 0
    @Option(help: ArgumentHelp("With --max-staleness K > 0: at most this many steps sent together in one request (/steps), 1 to 64 (1: one /step each, "
                               + "for servers without /steps). Default: half the K + 1 steps in flight, rounded up. The same result.",
                               valueName: "steps"))
    var stepsPerRequest: Int?
    @Flag(help: "At the end, put back the parameters of the epoch with the best evaluation: lowest MAE, or highest accuracy for classification (needs --eval).")
    var keepBest = false
    @Option(help: ArgumentHelp("Microseconds the client looks for an answer without sleeping, 0 to 10000 (0: sleep at once), while answers come that fast. Saves a wake-up per request on loopback and fast networks.",
                               valueName: "microseconds"))
    var busyPoll = 200
    @Option(help: ArgumentHelp("Seconds allowed for one request (above 0); a server slower than this is dropped from the run.", valueName: "seconds"))
    var timeout = 60.0
    @Option(help: ArgumentHelp("Seconds between probes of a dropped server (above 0), which rejoins once it answers.", valueName: "seconds"))
    var probeInterval = 2.0
    @Option(help: ArgumentHelp("Seconds to wait for a server when none is live (0 or more), before giving up.", valueName: "seconds"))
    var waitForServers = 60.0
    @Option(help: ArgumentHelp("File holding the bearer token for /apply (or set GRADSERVE_TOKEN); surrounding whitespace is ignored.", valueName: "file"))
    var tokenFile: String?
    @Option(help: ArgumentHelp("Folder that records the run (created if missing); the same command with the same folder resumes it where it stopped.",
                               valueName: "dir"))
    var runDir: String?
    @Option(help: ArgumentHelp(
        "Private training (DP-SGD): the L2 norm C, above 0, each sample's whole gradient is clipped to. Each step then takes every sample with probability q = batch/N and adds Gaussian noise of deviation σC to the clipped sum. Needs --dp-delta and --dp-noise-multiplier or --dp-target-epsilon.",
        valueName: "norm"))
    var dpClip: Float?
    @Option(help: ArgumentHelp("DP-SGD: the noise's standard deviation as a multiple σ of C, above 0.", valueName: "sigma"))
    var dpNoiseMultiplier: Double?
    @Option(help: ArgumentHelp("DP-SGD: instead of --dp-noise-multiplier, the ε the whole planned run may spend; the smallest σ that keeps it within (ε, δ) is used.",
                               valueName: "epsilon"))
    var dpTargetEpsilon: Double?
    @Option(help: ArgumentHelp("DP-SGD: δ, in (0, 1); take it well below 1/N.", valueName: "delta"))
    var dpDelta: Double?
    @Option(help: ArgumentHelp("DP-SGD: stop, with a message, before a step that would take ε above this (above 0).", valueName: "epsilon"))
    var dpMaxEpsilon: Double?
    @Option(help: ArgumentHelp("Testing only: DP sampling and noise from this seed, so that runs repeat; such a run is NOT private.",
                               valueName: "seed", visibility: .hidden))
    var dpSeed: UInt64?

    func validate() throws {
        guard (data == nil) != (synthetic == nil) else { throw ValidationError("give either --data FILE or --synthetic N") }
        if keepBest, eval == nil { throw ValidationError("--keep-best needs --eval FILE") }
        guard probeInterval > 0, waitForServers >= 0 else { throw ValidationError("--probe-interval must be above 0 and --wait-for-servers at least 0") }
        guard batch >= 1, epochs >= 1, requestsInFlight >= 1 else { throw ValidationError("--batch, --epochs and --parallel must each be at least 1") }
        guard (0...64).contains(maxStaleness) else { throw ValidationError("--max-staleness must be in 0...64, got \(maxStaleness)") }
        if let stepsPerRequest, !(1...64).contains(stepsPerRequest) {
            throw ValidationError("--steps-per-request must be in 1...64, got \(stepsPerRequest)")
        }
        guard timeout > 0 else { throw ValidationError("--timeout must be above 0 seconds") }
        guard (0...10_000).contains(busyPoll) else { throw ValidationError("--busy-poll must be in 0...10000 microseconds, got \(busyPoll)") }
        if let synthetic, synthetic < 1 { throw ValidationError("--synthetic must be at least 1") }
        guard targets >= 1 else { throw ValidationError("--targets must be at least 1") }
        if perSample, reduceSum { throw ValidationError("--per-sample and --reduce-sum contradict each other: give one") }
        let anyPrivacy = dpClip != nil || dpNoiseMultiplier != nil || dpTargetEpsilon != nil || dpDelta != nil || dpMaxEpsilon != nil || dpSeed != nil
        if anyPrivacy {
            guard let dpClip, let dpDelta else { throw ValidationError("private training needs --dp-clip C and --dp-delta DELTA") }
            guard (dpNoiseMultiplier == nil) != (dpTargetEpsilon == nil) else {
                throw ValidationError("private training needs exactly one of --dp-noise-multiplier SIGMA and --dp-target-epsilon E")
            }
            guard dpClip.isFinite, dpClip > 0 else { throw ValidationError("--dp-clip must be a finite number above 0, got \(dpClip)") }
            guard dpDelta > 0, dpDelta < 1 else { throw ValidationError("--dp-delta must be in (0, 1), got \(dpDelta)") }
            if let dpNoiseMultiplier, !(dpNoiseMultiplier.isFinite && dpNoiseMultiplier > 0) {
                throw ValidationError("--dp-noise-multiplier must be a finite number above 0, got \(dpNoiseMultiplier)")
            }
            if let dpTargetEpsilon, !(dpTargetEpsilon.isFinite && dpTargetEpsilon > 0) {
                throw ValidationError("--dp-target-epsilon must be a finite number above 0, got \(dpTargetEpsilon)")
            }
            if let dpMaxEpsilon, !(dpMaxEpsilon > 0) { throw ValidationError("--dp-max-epsilon must be above 0, got \(dpMaxEpsilon)") }
        }
    }

    func run() async throws {
        // Each batch's parts, for the step in progress and the K computed ahead (or K + 1 steps in flight), and the applies.
        let transport = CurlTransport(maxConnections: max(requestsInFlight, servers.count) * (maxStaleness + 1) + servers.count,
                                      busyPoll: .microseconds(busyPoll))
        let serverOptions = try ServerOptions.parse(["--timeout", String(timeout)] + (tokenFile.map { ["--token-file", $0] } ?? []))
        let clients = try servers.map { try serverOptions.makeClient($0, transport: transport) }
        let training: Dataset
        if let data {
            training = try Dataset.load(path: data, targets: targets)
        } else {
            let model = try await clients[0].model()
            training = Dataset.synthetic(count: synthetic!, dimension: model.layers[0], seed: dataSeed)
        }
        let evaluation = try eval.map { try Dataset.load(path: $0, targets: targets) }

        var options = Trainer.Options()
        options.batchSize = batch
        options.epochs = epochs
        options.shuffleSeed = shuffleSeed
        options.shuffle = !noShuffle
        options.parallel = requestsInFlight
        options.reduceSum = !perSample
        options.oneRoundTrip = !twoRoundTrips
        options.maxStaleness = maxStaleness
        options.stepsPerRequest = stepsPerRequest
        options.tensorFormat = tensorFormat
        options.keepBest = keepBest
        options.probeInterval = .milliseconds(Int64(probeInterval * 1000))
        options.waitForServers = .milliseconds(Int64(waitForServers * 1000))
        let runDirectory = try runDir.map { try RunDirectory(path: $0, configuration: recordedConfiguration()) }
        if let runDirectory, let position = try runDirectory.load() {
            options.resume = position
            if keepBest { options.resumeBest = try runDirectory.loadBest(layout: try await clients[0].model().layout) }
            print("resuming at epoch \(position.epoch), step \(position.step), version \(position.version)")
        }
        if let dpClip, let dpDelta {
            let n = training.samples.count
            let rate = min(Double(batch) / Double(n), 1), steps = epochs * ((n + batch - 1) / batch)
            let sigma: Double
            if let dpTargetEpsilon {
                guard let found = PrivacyAccountant.noiseMultiplier(forEpsilon: dpTargetEpsilon, delta: dpDelta, samplingRate: rate, steps: steps) else {
                    throw ValidationError("--dp-target-epsilon \(dpTargetEpsilon): no noise multiplier up to 10,000 keeps \(steps) steps at q = \(rate) within (ε, δ) = (\(dpTargetEpsilon), \(dpDelta))")
                }
                sigma = found
            } else {
                sigma = dpNoiseMultiplier!
            }
            if dpDelta >= 1 / Double(n) {
                print("warning: δ = \(dpDelta) is not below 1/N = \(1 / Double(n)); a run that published one sample outright would meet it")
            }
            let planned = PrivacyAccountant(samplingRate: rate, noiseMultiplier: sigma).epsilon(steps: steps, delta: dpDelta).epsilon
            print(String(format: "private training: C = %g, σ = %.4f, q = %.5f, %d steps; the planned run spends ε = %.4f at δ = %g",
                         dpClip, sigma, rate, steps, planned, dpDelta))
            if dpSeed != nil { print("warning: --dp-seed fixes the sampling and the noise: this run repeats and is NOT private") }
            options.privacy = Trainer.Privacy(clipNorm: dpClip, noiseMultiplier: sigma, delta: dpDelta, maxEpsilon: dpMaxEpsilon, seed: dpSeed)
        }
        let stop = StopRequest()
        options.shouldStop = { stop.isRequested }
        let trainer = Trainer(servers: clients, options: options)

        print("training on \(training.samples.count) samples from \(training.source) with \(servers.count) server(s): "
              + "batch \(batch), \(epochs) epoch(s), \(requestsInFlight) request(s) in flight"
              + (maxStaleness == 0 ? "" : twoRoundTrips ? ", gradients computed up to \(maxStaleness) step(s) ahead"
                  : ", up to \(maxStaleness + 1) step(s) in flight, gradients \(maxStaleness) step(s) old at most"))
        let progress = Progress(history: try history.map { try HistoryFile(path: $0, privacy: dpClip != nil) })
        let curves = try tensorboard.map { directory in
            do { return TensorBoardLog(writer: try SummaryWriter(directory: directory)) } catch { throw ValidationError("--tensorboard: \(error)") }
        }
        let report: Trainer.Report
        do {
            report = try await trainer.train(training, evaluation: evaluation) { event in
                switch event {
                case .position(let position): runDirectory?.save(position)
                case .best(_, let checkpoint): runDirectory?.saveBest(checkpoint)
                default:
                    progress.handle(event)
                    curves?.handle(event)
                }
            }
        } catch TrainingError.interrupted(let position) {
            print("stopped after step \(position.step) (epoch \(position.epoch), version \(position.version)); "
                  + (runDir == nil ? "without --run-dir this run cannot be resumed" : "run the same command again to resume"))
            throw ExitCode(130)
        }
        if let reason = report.privacyStop { print(reason) }
        if let restored = report.restoredEpoch {
            print("kept the parameters of epoch \(restored), the best on \(eval!), as version \(report.finalVersion)")
        }
        print("done: version \(report.finalVersion)")
    }
}

extension Train {
    /// The private-training options, as one recorded value.
    var privacyConfiguration: String {
        guard let dpClip else { return "off" }
        let noise: String = dpNoiseMultiplier.map { "σ \($0)" } ?? "σ for ε \(dpTargetEpsilon ?? 0)"
        let seed: String = dpSeed.map { String($0) } ?? "none"
        return "C \(dpClip), \(noise), δ \(dpDelta ?? 0), seed \(seed)"
    }

    /// The options that decide the result of a run: a resumed run must have the same.
    func recordedConfiguration() throws -> [String: String] {
        var configuration = [
            "batch": String(batch), "epochs": String(epochs), "shuffle-seed": String(shuffleSeed), "shuffle": String(!noShuffle),
            "parallel": String(requestsInFlight), "max-staleness": String(maxStaleness),
            "reduce-sum": String(!perSample), "tensor-format": tensorFormat.rawValue, "keep-best": String(keepBest),
            "servers": String(servers.count), "eval": eval ?? "", "targets": String(targets),
        ]
        configuration["dp"] = privacyConfiguration
        if let data {
            let size = (try? FileManager.default.attributesOfItem(atPath: data)[.size] as? Int) ?? -1
            configuration["data"] = "\(data) (\(size) bytes)"
        } else {
            configuration["data"] = "synthetic \(synthetic!) (seed \(dataSeed))"
        }
        return configuration
    }
}

/// Set by SIGINT: the run stops cleanly after the step in flight. A second SIGINT ends gradctl at once.
/// (Unchecked: `source` is set once here and only kept alive; the flag is behind a lock.)
final class StopRequest: @unchecked Sendable {
    private let requested = Locked(false)
    private let source: DispatchSourceSignal

    init() {
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        let requested = requested
        source.setEventHandler {
            if requested.withLock({ $0 }) { exit(130) }
            requested.withLock { $0 = true }
            FileHandle.standardError.write(Data("\nstopping after the step in flight (Ctrl-C again to quit at once)\n".utf8))
        }
        source.resume()
    }

    var isRequested: Bool { requested.withLock { $0 } }
}

extension TensorFormat: ExpressibleByArgument {}

/// The per-step loss history as CSV.
final class HistoryFile: Sendable {
    private let handle: FileHandle

    private let privacy: Bool

    /// With `privacy`, a last column holds the ε spent after each step.
    init(path: String, privacy: Bool) throws {
        self.privacy = privacy
        guard FileManager.default.createFile(atPath: path, contents: Data(("step,epoch,version,loss,seconds" + (privacy ? ",epsilon" : "") + "\n").utf8)),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw ValidationError("--history: cannot write \(path)")
        }
        handle.seekToEndOfFile()
        self.handle = handle
    }

    func append(_ step: Trainer.Step) {
        let epsilon = privacy ? "," + (step.epsilon.map { "\($0)" } ?? "") : ""
        handle.write(Data("\(step.step),\(step.epoch),\(step.version),\(step.loss),\(String(format: "%.4f", step.seconds))\(epsilon)\n".utf8))
    }
}

/// The run's curves as TensorBoard scalars, on the axis of steps applied in the run (as the history's `step`).
struct TensorBoardLog: Sendable {
    let writer: SummaryWriter

    func handle(_ event: Trainer.Event) {
        switch event {
        case .step(let step):
            var scalars: [(tag: String, value: Float)] = step.loss.isFinite ? [("train/loss", Float(step.loss))] : []
            if let rate = step.learningRate { scalars.append(("train/learning_rate", rate)) }
            if let epsilon = step.epsilon { scalars.append(("privacy/epsilon", Float(epsilon))) }
            writer.add(scalars, step: step.step)
        case .epoch(let summary):
            var scalars = [(tag: "epoch/loss", value: Float(summary.meanLoss)),
                           ("epoch/samples_per_second", Float(summary.samplesPerSecond))]
            if let evaluation = summary.evaluation {
                for (tag, value) in [("eval/mse", evaluation.meanSquaredError), ("eval/mae", evaluation.meanAbsoluteError),
                                     ("eval/accuracy", evaluation.accuracy), ("eval/cross_entropy", evaluation.crossEntropy)] {
                    if let value { scalars.append((tag, Float(value))) }
                }
            }
            writer.add(scalars, step: summary.step)
        default:
            break
        }
    }
}

/// A progress bar with samples/s and the running loss on a terminal; plain lines otherwise.
final class Progress: Sendable {
    private let history: HistoryFile?
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let state = Locked((0, 0, -1) as (lossSum: Double, steps: Int, lastLine: Int))

    init(history: HistoryFile?) {
        self.history = history
    }

    func handle(_ event: Trainer.Event) {
        switch event {
        case .step(let step):
            history?.append(step)
            let (running, shouldPrint) = state.withLock { state -> (Double, Bool) in
                if step.loss.isFinite {  // a private step with no sample has no loss
                    state.lossSum += step.loss
                    state.steps += 1
                }
                let tenth = step.samplesDone * 10 / max(step.samplesPerEpoch, 1)
                defer { state.lastLine = tenth }
                return (state.lossSum / Double(state.steps), tenth != state.lastLine)
            }
            let rate = Double(step.samplesDone) / max(step.seconds, 1e-9)
            if isTerminal {
                let width = 30
                let filled = width * step.samplesDone / max(step.samplesPerEpoch, 1)
                let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
                FileHandle.standardError.write(Data(String(format: "\repoch %d [%@] %d/%d  %.0f samples/s  loss %.5f ",
                                                           step.epoch, bar, step.samplesDone, step.samplesPerEpoch, rate, running).utf8))
            } else if shouldPrint {
                print(String(format: "epoch %d: %d/%d samples, %.0f samples/s, running loss %.5f",
                             step.epoch, step.samplesDone, step.samplesPerEpoch, rate, running))
            }
        case .epoch(let summary):
            state.withLock { $0 = (0, 0, -1) }
            if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
            var line = String(format: "epoch %d: mean loss %.6f, %.0f samples/s, version %d",
                              summary.epoch, summary.meanLoss, summary.samplesPerSecond, summary.version)
            if let evaluation = summary.evaluation {
                line += ", eval " + evaluation.summary
            }
            if let epsilon = summary.epsilon { line += String(format: ", ε = %.4f", epsilon) }
            print(line)
        case .resynchronized(let server, let version, let reason):
            print("brought \(server) in line at version \(version) (\(reason))")
        case .dropped(let server, let reason):
            print("dropped \(server) from the run: \(reason)")
        case .rejoined(let server, let version):
            print("\(server) is back and takes part again at version \(version)")
        case .position, .best:
            break
        case .waiting(let seconds):
            print(String(format: "no server is live: waiting up to %.0f s for one to come back", seconds))
        }
        fflush(nil)
    }
}
