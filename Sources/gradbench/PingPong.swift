import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a wake-up costs here: two threads bounce a 64-byte message over a loopback TCP
/// connection, first each sleeping in `recv` until the message comes, then each polling with
/// `MSG_DONTWAIT`. The difference is what `--busy-poll` saves per message.
struct PingPong: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pingpong")
    @Option(help: "Round trips per mode.") var roundTrips = 20_000

    func run() throws {
        let sleeping = try roundTrip(polling: false)
        let polling = try roundTrip(polling: true)
        emit([("bench", "pingpong"), ("round_trips", roundTrips), ("sleeping_us", sleeping * 1e6), ("polling_us", polling * 1e6)])
    }

    /// Seconds per round trip.
    private func roundTrip(polling: Bool) throws -> Double {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && listen(listener, 1) == 0 && getsockname(listener, $0, &length) == 0 }
        }
        guard bound else { throw ValidationError("cannot listen on 127.0.0.1") }
        defer { close(listener) }
        let count = roundTrips
        let echo = Thread {
            let peer = accept(listener, nil, nil)
            Self.noDelay(peer)
            var message = [UInt8](repeating: 0, count: 64)
            for _ in 0..<count {
                Self.receive(peer, &message, polling: polling)
                _ = send(peer, message, 64, 0)
            }
            close(peer)
        }
        echo.start()
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(client) }
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) == 0 }
        }
        guard connected else { throw ValidationError("cannot connect to 127.0.0.1") }
        Self.noDelay(client)
        var message = [UInt8](repeating: 0, count: 64)
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<count {
            _ = send(client, message, 64, 0)
            Self.receive(client, &message, polling: polling)
        }
        return (clock.now - start) / .seconds(1) / Double(count)
    }

    private static func noDelay(_ socket: Int32) {
        var one: Int32 = 1
        setsockopt(socket, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Reads exactly `message.count` bytes.
    private static func receive(_ socket: Int32, _ message: inout [UInt8], polling: Bool) {
        var got = 0
        while got < message.count {
            let read = message.withUnsafeMutableBytes { recv(socket, $0.baseAddress! + got, $0.count - got, polling ? Int32(MSG_DONTWAIT) : 0) }
            if read > 0 { got += read } else if read == 0 || errno != EAGAIN { return }
        }
    }
}
