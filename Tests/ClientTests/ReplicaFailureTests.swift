import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Replicas that fail during a run: killed and restarted from their state folders, frozen past
/// the request timeout, changed behind the run's back. The run goes on, every replica ends at the
/// version of an undisturbed run and bit for bit equal to it.
@Suite struct ReplicaFailureTests {
    let gradctl = ServerProcess.binary("gradctl").path
    let serverArguments = ["--layers", "4,16,16", "--optimizer", "adam", "--lr", "0.01", "--fsync", "always"]
    let training = ["--synthetic", "2000", "--batch", "8", "--epochs", "2", "--shuffle-seed", "5", "--parallel", "6",
                    "--timeout", "0.5", "--probe-interval", "0.2", "--wait-for-servers", "20"]

    func folder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("replica-\(UUID())").path
    }

    func version(_ server: ServerProcess) -> Int {
        guard let body = try? curl(["-s", "\(server.url)/health"]).body,
              let range = body.range(of: #"(?<="version":)\d+"#, options: .regularExpression) else { return -1 }
        return Int(body[range]) ?? -1
    }

    /// Waits until `server` reports at least `target`, or the run has ended.
    func wait(for server: ServerProcess, toReach target: Int, while run: Process) {
        while run.isRunning, version(server) < target { Thread.sleep(forTimeInterval: 0.02) }
    }

    /// On loopback, for machines where the cluster test (ClusterTests) cannot build its hosts.
    @Test(.timeLimit(.minutes(5)), .enabled(if: NetworkCluster.unavailableReason != nil, "ClusterTests covers this on separate hosts"))
    func killedFrozenAndCorruptedReplicasDoNotChangeTheResult() throws {
        // The undisturbed run, on one server: 2 epochs of 250 steps.
        let reference = try ServerProcess(serverArguments + ["--state", folder()])
        let undisturbed = try run(gradctl, ["train", "--server", reference.url] + training)
        #expect(undisturbed.status == 0, "\(undisturbed.stderr)")
        let expected = try curl(["-s", "\(reference.url)/params"]).body
        #expect(expected.hasPrefix(#"{"version":500,"#))

        let folders = (0..<3).map { _ in folder() }
        var replicas = try folders.map { try ServerProcess(serverArguments + ["--state", $0]) }
        let urls = replicas.map(\.url)
        let training = try TrainingRun(gradctl, ["train"] + urls.flatMap { ["--server", $0] } + self.training)
        let run = training.process

        // kill -9 of replica 2, then its restart from its state folder on the same port.
        wait(for: replicas[0], toReach: 60, while: run)
        replicas[2].kill()
        wait(for: replicas[0], toReach: 100, while: run)
        replicas[2] = try ServerProcess(serverArguments + ["--state", folders[2], "--port", String(replicas[2].port)])

        // Replica 1 frozen past the request timeout and the client's retries (0.5 s, four
        // attempts with backoff: about 2.7 s), then resumed.
        wait(for: replicas[0], toReach: 200, while: run)
        Glibc.kill(replicas[1].process.processIdentifier, SIGSTOP)
        Thread.sleep(forTimeInterval: 4)
        Glibc.kill(replicas[1].process.processIdentifier, SIGCONT)

        // Replica 0's parameters changed behind the run's back, at its current version.
        wait(for: replicas[0], toReach: 330, while: run)
        let checkpoint = try curl(["-s", "\(urls[0])/checkpoint"]).body
        let changed = checkpoint.replacingOccurrences(of: #"("W3":\{"shape":\[16\],"data":\[)[^,\]]+"#, with: "$1-5.0",
                                                      options: .regularExpression)
        #expect(changed != checkpoint)
        #expect(try curl(["-s", "-X", "PUT", "\(urls[0])/checkpoint", "-d", changed]).status == 200)

        let (status, printed, stderr) = training.finish()
        #expect(status == 0, "\(stderr)\n\(printed.suffix(3000))")
        #expect(printed.contains("dropped \(urls[2]) from the run"), "\(printed)")
        #expect(printed.contains("\(urls[2]) is back and takes part again"), "\(printed)")
        #expect(printed.contains("dropped \(urls[1]) from the run"), "\(printed)")
        #expect(printed.contains("\(urls[1]) is back and takes part again"), "\(printed)")
        // Replica 0 is caught by its digest (changed at the version the run is at) or by its
        // version (the run moved on before the change landed, so the change took it back):
        // either way it gets the trusted state again.
        #expect(printed.contains("brought \(urls[0]) in line") || printed.contains("dropped \(urls[0]) from the run: \(urls[0])/apply: HTTP 409"),
                "\(printed)")
        #expect(printed.contains("done: version 500"), "\(printed)")
        for url in urls {
            #expect(try curl(["-s", "\(url)/params"]).body == expected, "\(url) ends like the undisturbed run")
        }
        let digests = try (urls + [reference.url]).map { try curl(["-s", "\($0)/health"]).body }
        #expect(Set(digests).count == 1, "\(digests)")
    }

    /// Pipelined staleness (K = 2: up to three steps in flight): a replica killed with steps in
    /// flight is dropped, the run settles on the state the other reached and goes on, and the
    /// replica, restarted from its state folder, is brought back; both end at the last step with
    /// one state, and the loss fell. (Stale steps depend on timing, so there is no undisturbed run
    /// to match bit for bit.)
    @Test(.timeLimit(.minutes(3)))
    func aReplicaLostWithStepsInFlightIsDroppedAndBroughtBack() throws {
        let arguments = serverArguments + ["--max-staleness", "2"]
        let folders = (0..<2).map { _ in folder() }
        var replicas = try folders.map { try ServerProcess(arguments + ["--state", $0]) }
        let urls = replicas.map(\.url)
        let training = try TrainingRun(gradctl, ["train"] + urls.flatMap { ["--server", $0] } + self.training + ["--max-staleness", "2"])
        let run = training.process
        wait(for: replicas[0], toReach: 60, while: run)
        replicas[1].kill()
        wait(for: replicas[0], toReach: 150, while: run)
        replicas[1] = try ServerProcess(arguments + ["--state", folders[1], "--port", String(replicas[1].port)])
        let (status, printed, stderr) = training.finish()
        #expect(status == 0, "\(stderr)\n\(printed.suffix(3000))")
        #expect(printed.contains("dropped \(urls[1]) from the run"), "\(printed)")
        #expect(printed.contains("\(urls[1]) is back and takes part again"), "\(printed)")
        #expect(printed.contains("done: version 500"), "\(printed)")
        let losses = printed.split(separator: "\n").filter { $0.contains(": mean loss ") }.compactMap { Double($0.split(separator: " ")[4].dropLast()) }
        #expect(losses.count == 2 && losses[1] < losses[0], "\(losses)")
        let states = try urls.map { try curl(["-s", "\($0)/health"]).body }
        #expect(states[0].hasPrefix(#"{"status":"ok","version":500,"#), "\(states)")
        #expect(states[0] == states[1])
    }

    /// The first server's parameters are changed at its version before the run: the digests
    /// differ, most replicas share the other state, and that one is trusted, not the first server's.
    @Test(.timeLimit(.minutes(2)))
    func theStateMostReplicasShareWinsOverTheFirstServers() throws {
        let short = ["--synthetic", "400", "--batch", "8", "--epochs", "1", "--shuffle-seed", "5", "--parallel", "6"]
        let reference = try ServerProcess(serverArguments)
        #expect(try run(gradctl, ["train", "--server", reference.url] + short).status == 0)
        let replicas = try (0..<3).map { _ in try ServerProcess(serverArguments) }
        let checkpoint = try curl(["-s", "\(replicas[0].url)/checkpoint"]).body
        let changed = checkpoint.replacingOccurrences(of: #"("W3":\{"shape":\[16\],"data":\[)[^,\]]+"#, with: "$1-5.0", options: .regularExpression)
        #expect(try curl(["-s", "-X", "PUT", "\(replicas[0].url)/checkpoint", "-d", changed]).body.hasPrefix(#"{"version":0,"#))
        let result = try run(gradctl, ["train"] + replicas.flatMap { ["--server", $0.url] } + short)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("brought \(replicas[0].url) in line at version 0 (digest "), "\(result.stdout)")
        let expected = try curl(["-s", "\(reference.url)/params"]).body
        for replica in replicas { #expect(try curl(["-s", "\(replica.url)/params"]).body == expected) }
    }
}

/// `gradctl` running in the background while a test disturbs its servers.
struct TrainingRun {
    let process = Process()
    private let output = Pipe(), errors = Pipe()

    init(_ gradctl: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: gradctl)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = errors
        try process.run()
    }

    /// Waits for the end: the exit status, stdout and stderr (both read to the end first, so that
    /// a full pipe never holds the run up).
    func finish() -> (status: Int32, stdout: String, stderr: String) {
        let group = DispatchGroup()
        nonisolated(unsafe) var stderr = Data()
        let errors = errors
        DispatchQueue.global().async(group: group) { stderr = errors.fileHandleForReading.readDataToEndOfFile() }
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }
}
