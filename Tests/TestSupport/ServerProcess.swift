import Foundation

/// A real `gradserve` process on a free loopback port (or on a test host's address, inside its
/// network namespace), stopped when the test ends.
public final class ServerProcess: @unchecked Sendable {
    public let process = Process()
    public let host: String
    public let port: Int
    public var url: String { "http://\(host):\(port)" }
    private let stderrPipe = Pipe()

    /// The folder of the binaries that `swift build` made next to the test bundle.
    public static var productsDirectory: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .resolvingSymlinksInPath()
    }

    public static func binary(_ name: String) -> URL {
        var directory = productsDirectory
        // The test bundle may sit inside a .xctest folder.
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path), directory.path != "/" {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent(name)
    }

    /// Starts `gradserve --port 0 <arguments>` and waits for its "listening on" line. With a
    /// `namespace`, the server runs inside it (`ip netns exec`, which execs, so the process is the server).
    public init(_ arguments: [String] = [], environment: [String: String]? = nil, host: String = "127.0.0.1", namespace: String? = nil) throws {
        self.host = host
        let command = [Self.binary("gradserve").path, "--host", host, "--port", "0", "--log-level", "warning"] + arguments
        if let namespace {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            process.arguments = ["netns", "exec", namespace] + command
        } else {
            process.executableURL = URL(fileURLWithPath: command[0])
            process.arguments = Array(command.dropFirst())
        }
        if let environment { process.environment = environment }
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = stderrPipe
        try process.run()
        let line = Self.readLine(stdout.fileHandleForReading)
        guard let port = line.split(separator: ":").last.flatMap({ Int($0) }), line.hasPrefix("listening on ") else {
            process.terminate()
            process.waitUntilExit()
            let errors = String(decoding: stderrPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw ServerProcessError.didNotStart(output: line, errors: errors)
        }
        self.port = port
    }

    /// CPU time the server has used so far, user and system, from /proc/PID/stat (in clock ticks).
    public var cpuSeconds: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")") else { return .nan }
        // After "pid (comm)": state is field 3, utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return .nan }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Sends SIGTERM and waits; returns the exit status.
    @discardableResult
    public func stop() -> Int32 {
        if process.isRunning {
            process.terminate()
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// SIGKILL: a crash, as far as the server can tell.
    public func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    private static func readLine(_ handle: FileHandle) -> String {
        var bytes: [UInt8] = []
        while true {
            let data = handle.readData(ofLength: 1)
            guard let byte = data.first, byte != UInt8(ascii: "\n") else { break }
            bytes.append(byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

public enum ServerProcessError: Error {
    case didNotStart(output: String, errors: String)
}

/// Runs a command line tool and returns its exit status and output.
public func run(_ executable: String, _ arguments: [String], stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    if let stdin {
        let input = Pipe()
        process.standardInput = input
        try process.run()
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
    } else {
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }
    // Read both pipes to the end before waiting, so a chatty child never blocks on a full pipe.
    let group = DispatchGroup()
    nonisolated(unsafe) var errorData = Data()
    DispatchQueue.global().async(group: group) { errorData = err.fileHandleForReading.readDataToEndOfFile() }
    let outputData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outputData, as: UTF8.self), String(decoding: errorData, as: UTF8.self))
}

/// `curl` as a user would run it: returns the HTTP status and the body.
public func curl(_ arguments: [String]) throws -> (status: Int, body: String) {
    let result = try run("/usr/bin/curl", ["-s", "-S", "-w", "\n%{http_code}"] + arguments)
    guard result.status == 0 else { throw CurlError.failed(result.stderr) }
    let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
    return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
}

public enum CurlError: Error {
    case failed(String)
}
