#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import HTTP

/// The deadlines, first as the pure state machine, then on a real `Connection` over a socketpair
/// whose loop clock the test moves by hand: every timeout is checked without waiting.
@Suite struct ConnectionTimeoutTests {
    let timer = ConnectionTimer(requestTimeout: 30_000, idleTimeout: 120_000)

    func action(_ phase: Connection.Phase, at now: Int64, lastActivity: Int64 = 0, lastWriteProgress: Int64 = 0,
                pendingOutput: Bool = false, closeAfterWrite: Bool = false, shuttingDown: Bool = false) -> ConnectionTimer.Action {
        timer.action(phase: phase, now: now, lastActivity: lastActivity, lastWriteProgress: lastWriteProgress,
                     hasPendingOutput: pendingOutput, closeAfterWrite: closeAfterWrite, shuttingDown: shuttingDown)
    }

    @Test func theStateMachineFollowsEachDeadline() throws {
        let head = try HTTPParserTests().head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
        // A request counts from its first byte, whether its head or its body is late.
        #expect(action(.head(started: 1_000), at: 30_999) == .none)
        #expect(action(.head(started: 1_000), at: 31_000) == .answerTimeout)
        #expect(action(.body(head, started: 1_000), at: 31_000) == .answerTimeout)
        #expect(action(.body(head, started: 1_000), at: 31_000, closeAfterWrite: true) == .none, "already answered")
        // Idle keep-alive connections close after the idle timeout, or at once when shutting down.
        #expect(action(.idle, at: 119_999) == .none)
        #expect(action(.idle, at: 120_000) == .close)
        #expect(action(.idle, at: 10, shuttingDown: true) == .close)
        #expect(action(.idle, at: 10, pendingOutput: true, shuttingDown: true) == .none, "the answer goes out first")
        // The server's own work never times the client out.
        #expect(action(.handling(head), at: 10_000_000) == .none)
        // A client that stops reading is cut off once its output has not moved for the request timeout.
        #expect(action(.handling(head), at: 40_000, lastWriteProgress: 10_000, pendingOutput: true) == .close)
        #expect(action(.lingering(until: 5_000), at: 4_999) == .none)
        #expect(action(.lingering(until: 5_000), at: 5_000) == .close)
    }

    /// A connection on one end of a socketpair, the test's client on the other, and a clock the test sets.
    final class Harness {
        var time: Int64 = 1_000_000
        let context: LoopContext
        let connection: Connection
        let client: Int32
        let handler = EchoHandler()

        init() throws {
            var fds: [Int32] = [0, 0]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { throw SocketError.makeFailed("socketpair") }
            _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
            var configuration = HTTPServer.Configuration()
            configuration.requestTimeout = .seconds(30)
            configuration.idleTimeout = .seconds(120)
            var clock: () -> Int64 = { 0 }
            context = LoopContext(configuration: configuration, clock: { clock() })
            connection = Connection(fd: fds[0], token: 1, now: time)
            client = fds[1]
            clock = { [unowned self] in time }
            context.tick()
        }

        deinit {
            connection.close()
            Glibc.close(client)
        }

        func send(_ text: String) {
            _ = Array(text.utf8).withUnsafeBytes { Glibc.send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            connection.readAndProcess(handler: handler, context: context)
        }

        /// Moves the clock and lets the connection check its deadlines, as the loop's sweep does.
        func advance(seconds: Double) {
            time += Int64(seconds * 1000)
            context.tick()
            connection.checkDeadlines(handler: handler, context: context)
        }

        /// What the server has written so far (without blocking).
        func received() -> String {
            var bytes = [UInt8](repeating: 0, count: 65_536)
            let count = recv(client, &bytes, bytes.count, Int32(MSG_DONTWAIT))
            return count > 0 ? String(decoding: bytes[..<count], as: UTF8.self) : ""
        }
    }

    struct EchoHandler: HTTPHandler {
        func handle(_ request: HTTPRequest) -> HTTPResponse { HTTPResponse(body: Array("ok \(request.head.path)".utf8)) }
        func failureResponse(status: HTTPStatus, message: String) -> HTTPResponse { HTTPResponse(status: status, body: Array(message.utf8)) }
    }

    @Test(arguments: ["GET /health HTTP/1.1\r\nHost: x\r\n", "POST /apply HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{\"a\""])
    func aStalledRequestIsAnswered408AfterTheRequestTimeout(partial: String) throws {
        let harness = try Harness()
        harness.send(partial)
        harness.advance(seconds: 29.9)
        #expect(harness.received() == "")
        #expect(!harness.connection.isClosed)
        harness.advance(seconds: 0.1)
        let answer = harness.received()
        #expect(answer.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(answer.contains("Connection: close\r\n"))
        #expect(answer.hasSuffix("request not completed within 30 s"))
    }

    @Test func aKeepAliveConnectionStaysOpenUntilTheIdleTimeout() throws {
        let harness = try Harness()
        harness.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(harness.received().hasSuffix("ok /health"))
        harness.advance(seconds: 119)
        #expect(!harness.connection.isClosed)
        // Activity resets the idle time.
        harness.send("GET /model HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(harness.received().hasSuffix("ok /model"))
        harness.advance(seconds: 119)
        #expect(!harness.connection.isClosed)
        harness.advance(seconds: 1)
        #expect(harness.connection.isClosed)
    }

    @Test func aRequestThatArrivesInPiecesWithinTheTimeoutIsServed() throws {
        let harness = try Harness()
        for piece in ["GET /he", "alth HTTP/1.1\r\n", "Host: x\r\n", "\r\n"] {
            harness.send(piece)
            harness.advance(seconds: 7)
        }
        #expect(harness.received().hasSuffix("ok /health"))
        #expect(!harness.connection.isClosed)
    }
}
