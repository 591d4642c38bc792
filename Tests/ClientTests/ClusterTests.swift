import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The chaos test: three replicas with durable state on three hosts (network namespaces), gradctl
/// on a fourth, a run of 2,000 steps, and during it every failure the replicas and gradctl must
/// survive. At the end every replica is at the undisturbed run's version and bit for bit equal to it.
@Suite(.enabled(if: NetworkCluster.unavailableReason == nil, "needs network namespaces (root and iproute2)"))
struct ClusterTests {
    let gradctl = ServerProcess.binary("gradctl").path
    let serverArguments = ["--layers", "4,16,16", "--optimizer", "adam", "--lr", "0.01", "--fsync", "always"]
    let training = ["--synthetic", "8000", "--batch", "8", "--epochs", "2", "--shuffle-seed", "7", "--parallel", "3",
                    "--timeout", "0.5", "--probe-interval", "0.2", "--wait-for-servers", "30"]

    func folder(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID())").path
    }

    @Test(.timeLimit(.minutes(5)))
    func aRunOnThreeHostsSurvivesEveryFailureAndEndsLikeAnUndisturbedRun() throws {
        // The undisturbed run, on one server on loopback: the same binaries and CPU give the same bits.
        let reference = try ServerProcess(serverArguments + ["--state", folder("reference")])
        let undisturbed = try run(gradctl, ["train", "--server", reference.url] + training)
        #expect(undisturbed.status == 0, "\(undisturbed.stderr)")
        let expected = try curl(["-s", "\(reference.url)/params"]).body
        #expect(expected.hasPrefix(#"{"version":2000,"#))

        let cluster = try NetworkCluster(hosts: 3)
        defer { cluster.tearDown() }
        let folders = cluster.hosts.map { _ in folder("replica") }
        func start(_ index: Int) throws -> ServerProcess {
            let host = cluster.hosts[index]
            return try ServerProcess(serverArguments + ["--state", folders[index], "--port", "8080"], host: host.address, namespace: host.namespace)
        }
        var replicas = try (0..<3).map(start)
        let urls = replicas.map(\.url)
        func version(_ url: String) -> Int {
            guard let body = try? cluster.curlFromClient(["\(url)/health"]).body,
                  let range = body.range(of: #"(?<="version":)\d+"#, options: .regularExpression) else { return -1 }
            return Int(body[range]) ?? -1
        }
        let command = ["train"] + urls.flatMap { ["--server", $0] } + training + ["--run-dir", folder("run")]
        let first = cluster.processOnClient(gradctl, command)
        let output = Pipe(), errors = Pipe()
        first.standardOutput = output
        first.standardError = errors
        try first.run()
        func waitUntil(_ target: Int) { while first.isRunning, version(urls[0]) < target { Thread.sleep(forTimeInterval: 0.1) } }

        // kill -9 of the third replica, and its restart from its state folder.
        waitUntil(300)
        replicas[2].kill()
        waitUntil(400)
        replicas[2] = try start(2)
        // The second replica frozen past the request timeout and the client's retries, then resumed.
        waitUntil(700)
        Glibc.kill(replicas[1].process.processIdentifier, SIGSTOP)
        Thread.sleep(forTimeInterval: 4)
        Glibc.kill(replicas[1].process.processIdentifier, SIGCONT)
        // The first replica's parameters changed behind the run's back.
        waitUntil(1000)
        let checkpoint = try cluster.curlFromClient(["\(urls[0])/checkpoint"]).body
        let changed = checkpoint.replacingOccurrences(of: #"("W3":\{"shape":\[16\],"data":\[)[^,\]]+"#, with: "$1-5.0", options: .regularExpression)
        #expect(try cluster.curlFromClient(["-X", "PUT", "\(urls[0])/checkpoint", "-d", changed]).status == 200)
        // gradctl itself killed, then the same command again.
        waitUntil(1300)
        if !first.isRunning {
            let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).suffix(3000)
            Issue.record("the run ended before every failure was over: \(String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))\n\(said)")
        }
        Glibc.kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let firstOutput = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let resumed = try cluster.runOnClient(gradctl, command)
        let printed = firstOutput + resumed.stdout

        #expect(resumed.status == 0, "\(resumed.stderr)\n\(printed.suffix(3000))")
        #expect(resumed.stdout.contains("resuming at epoch"), "\(resumed.stdout)")
        #expect(resumed.stdout.contains("done: version 2000"), "\(resumed.stdout)")
        for url in urls[1...] {
            #expect(printed.contains("dropped \(url) from the run"), "\(printed)")
            #expect(printed.contains("\(url) is back and takes part again"), "\(printed)")
        }
        #expect(printed.contains("brought \(urls[0]) in line") || printed.contains("dropped \(urls[0]) from the run"), "\(printed)")
        for url in urls {
            #expect(try cluster.curlFromClient(["\(url)/params"]).body == expected, "\(url) ends like the undisturbed run")
        }
    }
}
