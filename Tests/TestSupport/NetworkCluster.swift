import Foundation

/// A small cluster of test hosts on one machine: each host a network namespace with its own
/// address in 198.18.0.0/24 (the benchmarking range), all linked by a bridge that lives in a
/// namespace of its own, so nothing is built in the root namespace's network. `tearDown()` (also
/// run on deinit) deletes every namespace, which takes its links with it.
public final class NetworkCluster: @unchecked Sendable {
    /// Why a cluster cannot be built here (not root, no `ip netns`), or nil when it can.
    public static let unavailableReason: String? = {
        guard getuid() == 0 else { return "network namespaces need root" }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") else { return "no /usr/sbin/ip (iproute2)" }
        return nil
    }()

    public struct Host: Sendable {
        public let namespace: String
        public let address: String
    }

    public let hosts: [Host]
    /// The host the client (gradctl, curl) runs on.
    public let client: Host
    private let switchNamespace: String
    private var namespaces: [String] = []

    /// `count` server hosts at 198.18.0.11, .12, ... and a client host at 198.18.0.2.
    public init(hosts count: Int) throws {
        // Short and unique: interface and namespace names are limited, and runs may overlap.
        let prefix = "gs" + String(UInt32.random(in: 0..<UInt32.max), radix: 36)
        switchNamespace = prefix + "-sw"
        hosts = (1...count).map { Host(namespace: "\(prefix)-h\($0)", address: "198.18.0.\(10 + $0)") }
        client = Host(namespace: "\(prefix)-c", address: "198.18.0.2")
        do {
            try add(switchNamespace)
            try ip(["-n", switchNamespace, "link", "add", "br0", "type", "bridge"])
            try ip(["-n", switchNamespace, "link", "set", "br0", "up"])
            for (index, host) in ([client] + hosts).enumerated() {
                try add(host.namespace)
                let port = "p\(index)"
                try ip(["-n", host.namespace, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", switchNamespace])
                try ip(["-n", switchNamespace, "link", "set", port, "master", "br0", "up"])
                try ip(["-n", host.namespace, "addr", "add", host.address + "/24", "dev", "eth0"])
                try ip(["-n", host.namespace, "link", "set", "eth0", "up"])
                try ip(["-n", host.namespace, "link", "set", "lo", "up"])
            }
        } catch {
            tearDown()
            throw error
        }
    }

    deinit { tearDown() }

    /// Deletes every namespace this cluster made (their links go with them).
    public func tearDown() {
        for namespace in namespaces.reversed() { _ = try? ip(["netns", "delete", namespace]) }
        namespaces.removeAll()
    }

    /// `command` run on the client host, as `run` does.
    public func runOnClient(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try run("/usr/sbin/ip", ["netns", "exec", client.namespace, executable] + arguments)
    }

    /// `curl` from the client host, as `curl` does.
    public func curlFromClient(_ arguments: [String]) throws -> (status: Int, body: String) {
        let result = try runOnClient("/usr/bin/curl", ["-s", "-w", "\n%{http_code}"] + arguments)
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    /// A process that will run `executable` on the client host, not yet started.
    public func processOnClient(_ executable: String, _ arguments: [String]) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", client.namespace, executable] + arguments
        return process
    }

    private func add(_ namespace: String) throws {
        try ip(["netns", "add", namespace])
        namespaces.append(namespace)
    }

    private func ip(_ arguments: [String]) throws {
        let result = try run("/usr/sbin/ip", arguments)
        guard result.status == 0 else { throw NetworkClusterError.command("ip \(arguments.joined(separator: " ")): \(result.stderr)") }
    }
}

public enum NetworkClusterError: Error {
    case command(String)
}
