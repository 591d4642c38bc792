import Locking
import Foundation
import Model
import Synchronization
import TestSupport
import Testing
import Wire

/// `gradserve --state DIR`: killed at any moment, it resumes without losing an acknowledged step.
@Suite struct DurabilityTests {
    let layers = [3, 4, 2]
    var arguments: [String] { ["--layers", "3,4,2", "--seed", "5", "--optimizer", "adam", "--lr", "0.01"] }

    func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("state-\(UUID())").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The gradient of step k: fixed by k, so the test can replay every step.
    static func gradient(_ k: Int, layout: ParameterLayout) -> TensorSet {
        var generator = SeededGenerator(seed: UInt64(k))
        return TensorSet(layout: layout, storage: (0..<layout.count).map { _ in Float.random(in: -1..<1, using: &generator) })
    }

    static func applyBody(_ gradient: TensorSet, version: Int) -> String {
        var writer = JSONWriter()
        TensorsRequest(tensors: gradient.namedTensors, version: version)
            .encode(to: &writer, field: "gradients")
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    @Test(.timeLimit(.minutes(3)))
    func sigkillAtRandomMomentsLosesNoAcknowledgedStep() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let mlp = try MLP(layers: layers)
        let optimizer = try Optimizer(OptimizerConfiguration(kind: .adam, learningRate: 0.01))
        // The replay: parameters and optimizer state after each acknowledged step, recomputed here.
        var replayed = (version: 0, parameters: mlp.makeParameters(.glorot, seed: 5), state: optimizer.makeState(for: mlp.layout))
        var acknowledged = 0
        var generator = SeededGenerator(seed: 2024)
        var kills = 0
        var stepsLanded = 0

        for round in 0...24 {
            let server = try ServerProcess(arguments + ["--state", directory, "--fsync", "always"])
            let checkpoint = try JSONReader.read(Array(try curl(["\(server.url)/checkpoint?tensor_format=b64"]).body.utf8)) {
                try Checkpoint(reading: &$0, layout: mlp.layout)
            }
            // At least every acknowledged step, and at most the one in flight when the server died.
            #expect(checkpoint.version >= acknowledged, "round \(round)")
            #expect(checkpoint.version <= acknowledged + 1, "round \(round)")
            while replayed.version < checkpoint.version {
                replayed.version += 1
                try optimizer.apply(GradientUpdate(Self.gradient(replayed.version, layout: mlp.layout)),
                                    to: &replayed.parameters, state: &replayed.state)
            }
            #expect(checkpoint.parameters == replayed.parameters, "round \(round): parameters of version \(checkpoint.version)")
            #expect(checkpoint.optimizerState == replayed.state, "round \(round): Adam's moments and step")
            stepsLanded = checkpoint.version
            acknowledged = checkpoint.version
            guard round < 24 else { break }

            // Applies as fast as they go, until the server is killed under them.
            let lastAcknowledged = Atomic<Int>(acknowledged)
            let start = checkpoint.version
            let port = server.port
            let done = DispatchSemaphore(value: 0)
            Thread {
                defer { done.signal() }
                guard let client = try? RawClient(port: port) else { return }
                var k = start + 1
                while true {
                    let body = DurabilityTests.applyBody(DurabilityTests.gradient(k, layout: mlp.layout), version: k - 1)
                    guard client.send("POST /apply HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"),
                          let response = client.readResponse(), response.status == 200 else { return }
                    lastAcknowledged.store(k, ordering: .releasing)
                    k += 1
                }
            }.start()
            Thread.sleep(forTimeInterval: Double.random(in: 0.02..<0.2, using: &generator))
            server.kill()
            kills += 1
            done.wait()
            acknowledged = lastAcknowledged.load(ordering: .acquiring)
        }
        #expect(kills >= 20)
        #expect(stepsLanded > 40, "the kills landed in the middle of real training")
    }

    @Test func intervalModeSavesOnShutdown() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try ServerProcess(arguments + ["--state", directory])
        let layout = try MLP(layers: layers).layout
        for k in 1...3 {
            #expect(try curl(["-X", "POST", "\(server.url)/apply", "-d", Self.applyBody(Self.gradient(k, layout: layout), version: k - 1)]).status == 200)
        }
        let before = try curl(["\(server.url)/checkpoint"]).body
        #expect(server.stop() == 0)
        let resumed = try ServerProcess(arguments + ["--state", directory])
        #expect(try curl(["\(resumed.url)/checkpoint"]).body == before)
        #expect(try curl(["\(resumed.url)/health"]).body.hasPrefix(#"{"status":"ok","version":3,"digest":"#))
    }

    @Test func damagedStateFilesStopTheStartWithAClearError() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try ServerProcess(arguments + ["--state", directory, "--fsync", "always"])
        _ = try curl(["-X", "POST", "\(server.url)/apply", "-d", Self.applyBody(Self.gradient(1, layout: try MLP(layers: layers).layout), version: 0)])
        server.stop()
        let file = directory + "/state.bin"
        let good = try Data(contentsOf: URL(fileURLWithPath: file))

        func startError() -> String {
            do {
                _ = try ServerProcess(arguments + ["--state", directory])
                return "started"
            } catch ServerProcessError.didNotStart(_, let errors) {
                return errors
            } catch {
                return "\(error)"
            }
        }

        var flipped = good
        flipped[good.count - 12] ^= 0x10  // in the floats, past the header
        try flipped.write(to: URL(fileURLWithPath: file))
        #expect(startError().contains("\(file): corrupt: checksum"))

        try good.prefix(good.count - 7).write(to: URL(fileURLWithPath: file))
        #expect(startError().contains("\(file): truncated"))

        try Data("hello".utf8).write(to: URL(fileURLWithPath: file))
        #expect(startError().contains("not a gradserve state file"))

        try good.write(to: URL(fileURLWithPath: file))
        let other = try? ServerProcess(["--layers", "3,3,3", "--state", directory])
        #expect(other == nil, "a state of another model is refused")
        let resumed = try ServerProcess(arguments + ["--state", directory])
        #expect(try curl(["\(resumed.url)/health"]).body.hasPrefix(#"{"status":"ok","version":1,"digest":"#))
        #expect(startError().contains("another gradserve is using this folder"))
    }
}
