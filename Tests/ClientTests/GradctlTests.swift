import Foundation
import Model
import TestSupport
import Testing
import Wire

/// The built `gradctl` binary against real `gradserve` processes.
@Suite struct GradctlTests {
    let gradctl = ServerProcess.binary("gradctl").path

    /// The rows of the matrix printed after `title` in the demo's output.
    func matrix(after title: String, in output: String) -> [Float] {
        guard let range = output.range(of: title) else { return [] }
        return output[range.upperBound...].split(separator: "\n", omittingEmptySubsequences: false).dropFirst().prefix { $0.hasPrefix("  [") }
            .flatMap { $0.split(separator: " ").compactMap { Float($0) } }
    }

    @Test func demoPrintsAStepEqualToMinusLearningRateTimesTheMean() throws {
        let server = try ServerProcess(["--layers", "3,3,3", "--lr", "0.001"])
        let result = try run(gradctl, ["demo", "--server", server.url])
        #expect(result.status == 0, "\(result.stderr)")
        let mean = matrix(after: "mean dW1 (averaged here, on the client):", in: result.stdout)
        let change = matrix(after: "after - before:", in: result.stdout)
        let perSample = (1...3).map { matrix(after: "dW1 of sample \($0)", in: result.stdout) }
        #expect(mean.count == 9 && change.count == 9 && perSample.allSatisfy { $0.count == 9 })
        for i in 0..<9 {
            // The printed mean is the mean of the three printed gradients (to the 7 printed decimals).
            #expect(abs(mean[i] - perSample.map { $0[i] }.reduce(0, +) / 3) < 2e-7)
            #expect(abs(change[i] - -0.001 * mean[i]) < 2e-7, "entry \(i)")
        }
        #expect(mean.contains { abs($0) > 1e-3 })
        #expect(result.stdout.contains("after - before equals -lr x mean: yes"))
        #expect(try curl(["\(server.url)/health"]).body.hasPrefix(#"{"status":"ok","version":2,"digest":"#))
    }

    @Test func trainingTheSyntheticTaskLowersTheLoss() throws {
        let server = try ServerProcess(["--layers", "3,8,8", "--optimizer", "adam", "--lr", "0.01"])
        let history = FileManager.default.temporaryDirectory.appendingPathComponent("history-\(UUID()).csv").path
        defer { try? FileManager.default.removeItem(atPath: history) }
        let result = try run(gradctl, ["train", "--server", server.url, "--synthetic", "2000", "--batch", "32",
                                       "--epochs", "4", "--history", history])
        #expect(result.status == 0, "\(result.stderr)")
        let epochLosses = result.stdout.split(separator: "\n").filter { $0.contains(": mean loss ") }
            .compactMap { Double($0.split(separator: " ")[4].dropLast()) }
        #expect(epochLosses.count == 4)
        #expect(epochLosses.last! < epochLosses.first! / 2, "\(epochLosses)")
        let rows = try String(contentsOfFile: history, encoding: .utf8).split(separator: "\n")
        #expect(rows.first == "step,epoch,version,loss,seconds")
        #expect(rows.count == 1 + 4 * 63)
        #expect(try curl(["\(server.url)/health"]).body.hasPrefix(#"{"status":"ok","version":252,"digest":"#))
    }

    /// gradctl reads the server's model before it trains: a network of 12 hidden layers (more
    /// sizes than a tensor has dimensions) and one of widths 700,700,700 (a product past what a
    /// tensor may hold) both train, each step landing.
    @Test(arguments: ["2,3,3,3,3,3,3,3,3,3,3,3,3", "700,700,700"])
    func deepAndWideNetworksTrainOverHTTP(layers: String) throws {
        let server = try ServerProcess(["--layers", layers])
        let result = try run(gradctl, ["train", "--server", server.url, "--synthetic", "16", "--batch", "8", "--epochs", "1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("done: version 2"), "\(result.stdout)")
        #expect(try curl(["\(server.url)/health"]).body.hasPrefix(#"{"status":"ok","version":2,"digest":"#))
    }

    @Test func twoServersEndIdenticalAndEqualToOneServer() throws {
        let arguments = ["--layers", "3,5,4", "--optimizer", "momentum", "--lr", "0.01"]
        let first = try ServerProcess(arguments)
        // A different seed: the trainer must first bring it in line with the first server.
        let second = try ServerProcess(arguments + ["--seed", "9"])
        let single = try ServerProcess(arguments)
        let common = ["--synthetic", "600", "--batch", "16", "--epochs", "2", "--shuffle-seed", "3", "--parallel", "4"]
        let pair = try run(gradctl, ["train", "--server", first.url, "--server", second.url] + common)
        #expect(pair.status == 0, "\(pair.stderr)")
        #expect(pair.stdout.contains("brought \(second.url) in line at version 0"))
        let alone = try run(gradctl, ["train", "--server", single.url] + common)
        #expect(alone.status == 0, "\(alone.stderr)")
        // Two requests a step (/apply, then /gradients) instead of /step: the same training.
        let twice = try ServerProcess(arguments)
        let separate = try run(gradctl, ["train", "--server", twice.url, "--two-round-trips"] + common)
        #expect(separate.status == 0, "\(separate.stderr)")

        // Bit equality by construction: both servers apply the same mean, computed once by the
        // client. And the trainer cuts every batch into the same max(parallel, servers) = 4
        // contiguous parts whether one server or two compute them, so each sample's gradient comes
        // from the same sgemm calls in both runs. (A sample's gradient row can differ in its last
        // bits between batches of different sizes, because sgemm's edge tiles add in another
        // order; the split, not the servers, must decide the parts.)
        let params = try [first, second, single, twice].map { try curl(["\($0.url)/params"]).body }
        #expect(params[0] == params[1])
        #expect(params[0] == params[2])
        #expect(params[0] == params[3], "one round trip a step ends where two do")
        #expect(params[0].hasPrefix(#"{"version":76,"#))
        #expect(try curl(["\(second.url)/model"]).body.contains(#""step":76"#))
    }

    /// `--max-staleness K`: every step applies gradients computed at most K steps earlier (the
    /// history's version column is each step's base), some steps are stale indeed, the loss falls,
    /// and the replicas end identical. A K the servers do not accept is refused before any step.
    @Test func staleSynchronousTrainingKeepsItsBound() throws {
        let arguments = ["--layers", "3,8,8", "--optimizer", "adam", "--lr", "0.01", "--max-staleness", "3"]
        let first = try ServerProcess(arguments), second = try ServerProcess(arguments)
        let history = FileManager.default.temporaryDirectory.appendingPathComponent("history-\(UUID()).csv").path
        defer { try? FileManager.default.removeItem(atPath: history) }
        let result = try run(gradctl, ["train", "--server", first.url, "--server", second.url, "--synthetic", "2000", "--batch", "32",
                                       "--epochs", "4", "--parallel", "2", "--max-staleness", "3", "--history", history])
        #expect(result.status == 0, "\(result.stderr)")
        let epochLosses = result.stdout.split(separator: "\n").filter { $0.contains(": mean loss ") }
            .compactMap { Double($0.split(separator: " ")[4].dropLast()) }
        #expect(epochLosses.count == 4)
        #expect(epochLosses.last! < epochLosses.first! / 2, "\(epochLosses)")
        let rows = try String(contentsOfFile: history, encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",") }
        #expect(rows.count == 4 * 63)
        // Step s made version s; its gradients were computed at its base, s - 1 - lag.
        let lags = rows.map { Int($0[0])! - 1 - Int($0[2])! }
        #expect(lags.allSatisfy { (0...3).contains($0) }, "\(lags)")
        #expect(lags.contains { $0 > 0 }, "some gradients were computed while earlier steps landed")
        let states = try [first, second].map { try curl(["\($0.url)/health"]).body }
        #expect(states[0].hasPrefix(#"{"status":"ok","version":252,"digest":"#))
        #expect(states[0] == states[1])

        // The default sent the ready steps two to a request (/steps). One /step each, or all K + 1
        // in one request, is the same training, bit for bit: the same steps land on the same versions.
        // (--parallel 2 cuts every batch into the same two parts whether one server or two compute them.)
        for perRequest in ["1", "4"] {
            let alone = try ServerProcess(arguments)
            let other = try run(gradctl, ["train", "--server", alone.url, "--synthetic", "2000", "--batch", "32", "--epochs", "4",
                                          "--parallel", "2", "--max-staleness", "3", "--steps-per-request", perRequest])
            #expect(other.status == 0, "\(other.stderr)")
            #expect(try curl(["\(alone.url)/params"]).body == curl(["\(first.url)/params"]).body, "--steps-per-request \(perRequest)")
        }

        let strict = try ServerProcess(["--layers", "3,3,3"])
        let refused = try run(gradctl, ["train", "--server", strict.url, "--synthetic", "100", "--max-staleness", "2"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("max staleness 2: the servers accept gradients at most 0 step(s) old; start them with gradserve --max-staleness 2 or more"),
                "\(refused.stderr)")
        #expect(try curl(["\(strict.url)/health"]).body.hasPrefix(#"{"status":"ok","version":0,"#))
    }

    /// With no server left, gradctl waits --wait-for-servers seconds for one to come back, then
    /// stops with an error naming every server and its last error.
    @Test func aRunWithNoServerLeftWaitsThenStopsNamingTheServer() throws {
        let server = try ServerProcess(["--layers", "3,3,3"])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: gradctl)
        process.arguments = ["train", "--server", server.url, "--synthetic", "200000", "--epochs", "5", "--timeout", "5",
                             "--wait-for-servers", "1", "--probe-interval", "0.2"]
        let errors = Pipe(), output = Pipe()
        process.standardError = errors
        process.standardOutput = output
        try process.run()
        Thread.sleep(forTimeInterval: 1.5)
        server.kill()
        process.waitUntilExit()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus != 0)
        #expect(printed.contains("dropped \(server.url) from the run"), "\(printed)")
        #expect(printed.contains("no server is live: waiting up to 1 s for one to come back"), "\(printed)")
        #expect(message.contains("no server came back at version"), "\(message)")
        #expect(message.contains(server.url), "\(message)")
        #expect(message.contains("Could not connect") || message.contains("Couldn't connect") || message.contains("Connection refused") || message.contains("Failed to connect"), "\(message)")
    }

    @Test func badDataLinesAreNamed() throws {
        let server = try ServerProcess(["--layers", "3,3,3"])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gradctl-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let cases = [
            ("bad.csv", "x1,x2,x3,t\n1,2,3,4\n1,abc,3,4\n", "bad.csv:3: column 2 \"abc\" is not a number"),
            ("short.csv", "1,2,3,4\n1,2,3\n", "short.csv:2: expected 4 columns like the first row, got 3"),
            ("wide.csv", "1,2,3,4,5\n", "wide.csv:1: x has 4 values, the server's model expects 3"),
            ("bad.jsonl", "{\"x\": [1, 2, 3], \"t\": 1}\n\n{\"x\": [1, 2, 3], \"t\": \"one\"}\n", "bad.jsonl:3: t: expected a number or a list of numbers, got a string"),
        ]
        for (name, text, message) in cases {
            let path = directory.appendingPathComponent(name).path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let result = try run(gradctl, ["train", "--server", server.url, "--data", path])
            #expect(result.status != 0)
            #expect(result.stderr.contains(message), "\(result.stderr)")
        }
        #expect(try curl(["\(server.url)/health"]).body.hasPrefix(#"{"status":"ok","version":0,"digest":"#))
    }

    /// The ranges each option's --help states are the ones enforced: a value outside is refused
    /// before anything starts (exit code 64, as every usage error), naming the option.
    @Test func optionsOutsideTheRangeTheirHelpStatesAreRefused() throws {
        let gradserve = ServerProcess.binary("gradserve").path
        let cases: [(String, [String], String)] = [
            (gradctl, ["train", "--synthetic", "10", "--batch", "0"], "--batch, --epochs and --parallel must each be at least 1"),
            (gradctl, ["train", "--synthetic", "10", "--epochs", "0"], "--batch, --epochs and --parallel must each be at least 1"),
            (gradctl, ["train", "--synthetic", "0"], "--synthetic must be at least 1"),
            (gradctl, ["train", "--synthetic", "10", "--timeout", "0"], "--timeout must be above 0 seconds"),
            (gradctl, ["train", "--synthetic", "10", "--probe-interval", "0"], "--probe-interval must be above 0"),
            (gradctl, ["health", "--timeout=-1"], "--timeout must be above 0 seconds"),
            (gradctl, ["predict", "--data", "x.csv", "--batch", "0"], "--batch and --parallel must each be at least 1"),
            (gradserve, ["--threads", "0"], "--threads and --workers must each be at least 1"),
            (gradserve, ["--max-queued-requests=-1"], "--max-queued-requests must be at least 0"),
            (gradserve, ["--max-samples", "0"], "--max-body-bytes, --max-samples and --max-gradient-values must each be at least 1"),
            (gradserve, ["--idle-timeout", "0"], "--request-timeout and --idle-timeout must be above 0 seconds"),
            (gradserve, ["--lr", "0"], "lr: expected a finite number > 0, got 0.0"),
            (gradserve, ["--momentum", "1"], "momentum: expected a number in [0, 1), got 1.0"),
            (gradserve, ["--lr-schedule", "cosine", "--lr-final-factor", "1.5"], "lr-final-factor: expected a number in [0, 1], got 1.5"),
            (gradserve, ["--max-staleness=-1"], "max-staleness: expected 0 or more, got -1"),
            (gradctl, ["train", "--synthetic", "10", "--max-staleness", "65"], "--max-staleness must be in 0...64, got 65"),
            (gradctl, ["train", "--synthetic", "10", "--max-staleness", "3", "--steps-per-request", "0"], "--steps-per-request must be in 1...64, got 0"),
            (gradctl, ["train", "--synthetic", "10", "--busy-poll=-1"], "--busy-poll must be in 0...10000 microseconds, got -1"),
            (gradserve, ["--busy-poll", "10001"], "--busy-poll must be in 0...10000 microseconds, got 10001"),
            (gradserve, ["--inline-budget=-1"], "--inline-budget must be in 0...10000 milliseconds, got -1.0"),
            (gradserve, ["--step-wait", "0"], "--step-wait must be in 0.001...600 seconds, got 0.0"),
        ]
        for (binary, arguments, message) in cases {
            let result = try run(binary, arguments)
            #expect(result.status == 64, "\(arguments): \(result.status)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }

    @Test func connectionAndServerErrorsAreClear() throws {
        let down = try run(gradctl, ["health", "--server", "http://127.0.0.1:1", "--timeout", "2"])
        #expect(down.status != 0)
        #expect(down.stderr.contains("http://127.0.0.1:1/health"), "\(down.stderr)")

        let wrongURL = try run(gradctl, ["health", "--server", "127.0.0.1:8080"])
        #expect(wrongURL.status != 0)
        #expect(wrongURL.stderr.contains("invalid server URL 127.0.0.1:8080: expected http://host:port"), "\(wrongURL.stderr)")

        let server = try ServerProcess(["--layers", "3,3,3"])
        let wrongLength = try run(gradctl, ["forward", "--x", "1,2", "--server", server.url])
        #expect(wrongLength.status != 0)
        #expect(wrongLength.stderr.contains("HTTP 422 shape_mismatch: samples[0].x: expected [3], got [2]"), "\(wrongLength.stderr)")

        let forward = try run(gradctl, ["forward", "--x", "1,1,1", "--server", server.url])
        #expect(forward.status == 0)
        #expect(forward.stdout.hasPrefix("y = "))
        let json = try run(gradctl, ["model", "--json", "--server", server.url])
        #expect(json.stdout.hasPrefix(#"{"model":"mlp","layers":[3,3,3]"#))
    }
}
