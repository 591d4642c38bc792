import Client
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `gradctl train --run-dir`: a run stopped with SIGINT, or killed with SIGKILL at any moment,
/// goes on with the same command and ends bit for bit where an undisturbed run ends.
@Suite struct ResumeTests {
    let gradctl = ServerProcess.binary("gradctl").path
    let serverArguments = ["--layers", "4,16,16", "--optimizer", "momentum", "--lr", "0.01"]
    let training = ["--synthetic", "1600", "--batch", "8", "--epochs", "4", "--shuffle-seed", "9", "--parallel", "3"]

    func version(_ url: String) -> Int {
        guard let body = try? curl(["-s", "\(url)/health"]).body,
              let range = body.range(of: #"(?<="version":)\d+"#, options: .regularExpression) else { return -1 }
        return Int(body[range]) ?? -1
    }

    /// Starts gradctl and stops it with `signal` once the first server reaches `target`.
    func interrupt(_ arguments: [String], at target: Int, with signal: Int32, watching url: String) throws -> String {
        let run = Process()
        run.executableURL = URL(fileURLWithPath: gradctl)
        run.arguments = arguments
        let output = Pipe()
        run.standardOutput = output
        run.standardError = FileHandle.nullDevice
        let start = version(url)
        try run.run()
        // At `target`, and two steps past where this run began: its first step was reported, so
        // what it printed before (such as "resuming at epoch") was flushed, even when an earlier
        // run was stopped late, already past `target`.
        while run.isRunning, case let now = version(url), now < target || now < start + 2 { Thread.sleep(forTimeInterval: 0.01) }
        #expect(run.isRunning, "the run ended before the server reached version \(target)")
        Glibc.kill(run.processIdentifier, signal)
        run.waitUntilExit()
        return String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    @Test(.timeLimit(.minutes(3)))
    func aStoppedOrKilledRunResumesToTheSameResult() throws {
        let reference = try ServerProcess(serverArguments)
        let undisturbed = try run(gradctl, ["train", "--server", reference.url] + training)
        #expect(undisturbed.status == 0, "\(undisturbed.stderr)")
        let expected = try curl(["-s", "\(reference.url)/params"]).body
        #expect(expected.hasPrefix(#"{"version":800,"#))

        let servers = try (0..<2).map { _ in try ServerProcess(serverArguments) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("run-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let command = ["train"] + servers.flatMap { ["--server", $0.url] } + training + ["--run-dir", folder]

        let stopped = try interrupt(command, at: 50, with: SIGINT, watching: servers[0].url)
        #expect(stopped.contains("run the same command again to resume"), "\(stopped)")
        for target in [130, 260] {
            let output = try interrupt(command, at: target, with: SIGKILL, watching: servers[0].url)
            #expect(output.contains("resuming at epoch"), "\(output)")
        }
        let last = try run(gradctl, command)
        #expect(last.status == 0, "\(last.stderr)")
        #expect(last.stdout.contains("resuming at epoch"), "\(last.stdout)")
        #expect(last.stdout.contains("done: version 800"), "\(last.stdout)")
        for server in servers {
            #expect(try curl(["-s", "\(server.url)/params"]).body == expected)
        }

        // The same folder with other options is refused before anything is sent.
        let other = try run(gradctl, command.map { $0 == "8" ? "16" : $0 })
        #expect(other.status != 0)
        #expect(other.stderr.contains("holds a run with other options (batch 8 there, 16 here)"), "\(other.stderr)")
    }

    /// Pipelined staleness keeps several steps in flight; a run killed then may find the servers
    /// up to that many steps past its last acknowledged one. The run folder lists them, so the same
    /// command goes on from where the servers are. (Stale steps depend on timing: no bit-for-bit reference.)
    @Test(.timeLimit(.minutes(3)))
    func aRunKilledWithStepsInFlightResumes() throws {
        // Plain SGD: with momentum at this rate, gradients three steps old make the run diverge.
        let server = try ServerProcess(["--layers", "4,16,16", "--optimizer", "sgd", "--lr", "0.01", "--max-staleness", "3"])
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("stale-run-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let command = ["train", "--server", server.url] + training + ["--max-staleness", "3", "--run-dir", folder]
        _ = try interrupt(command, at: 150, with: SIGKILL, watching: server.url)
        let state = try String(contentsOfFile: folder + "/run.json", encoding: .utf8)
        let last = try run(gradctl, command)
        #expect(last.status == 0, "\(last.stderr)\n\(state)")
        #expect(last.stdout.contains("resuming at epoch"), "\(last.stdout)")
        #expect(last.stdout.contains("done: version 800"), "\(last.stdout)")
        #expect(version(server.url) == 800)
    }

    /// A private run stopped and resumed spends, in all, the privacy of the steps it took: the
    /// accountant's count is part of the record, so the ε printed at the end is that of the
    /// whole run, and not that of the resumed part alone.
    @Test(.timeLimit(.minutes(3)))
    func aResumedPrivateRunCountsEveryStepOnce() throws {
        let server = try ServerProcess(serverArguments)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("private-run-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // Four epochs of 250 steps, stopped at step 40: the watcher (a curl process every 10 ms) must
        // see version 40 and signal before the run is over, even on a loaded machine. With 50 steps
        // an epoch, a CI machine once finished all 200 before the signal; 1,000 steps take seconds.
        let command = ["train", "--server", server.url, "--synthetic", "2000", "--batch", "8", "--epochs", "4", "--reduce-sum",
                       "--dp-clip", "1", "--dp-noise-multiplier", "1.3", "--dp-delta", "1e-4", "--run-dir", folder]
        let stopped = try interrupt(command, at: 40, with: SIGINT, watching: server.url)
        #expect(stopped.contains("run the same command again to resume"), "\(stopped)")
        let last = try run(gradctl, command)
        #expect(last.status == 0, "\(last.stderr)")
        #expect(last.stdout.contains("resuming at epoch"), "\(last.stdout)")
        #expect(last.stdout.contains("done: version 1000"), "\(last.stdout)")
        let whole = PrivacyEpsilon.of(steps: 1000, rate: 8.0 / 2000, sigma: 1.3, delta: 1e-4)
        #expect(last.stdout.contains("epoch 4: ") && last.stdout.contains(String(format: "ε = %.4f", whole)), "\(last.stdout)")
    }
}

enum PrivacyEpsilon {
    static func of(steps: Int, rate: Double, sigma: Double, delta: Double) -> Double {
        PrivacyAccountant(samplingRate: rate, noiseMultiplier: sigma).epsilon(steps: steps, delta: delta).epsilon
    }
}
