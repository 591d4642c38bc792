import Foundation
import Locking
import Logging
import Testing
import TestSupport
@testable import HTTP

/// A connection whose answer is sequenced (`HTTPResponse.isSequenced`, a pipelined trainer's steps)
/// moves to the server's first event loop: the series' connections gather on one thread, which
/// takes their requests in turn without waking another thread. Other connections stay where the
/// kernel put them.
@Suite struct LoopHandoverTests {
    /// Tells which thread answered. `/sequenced` answers with a sequenced response; `/park` waits
    /// until a `/release` on any connection answers it, sequenced.
    final class Handler: HTTPHandler {
        let parked = Locked<[HTTPResumer]>([])

        func handle(_ request: HTTPRequest) -> HTTPResponse {
            var response = HTTPResponse(body: Array(String(UInt(bitPattern: Int(bitPattern: pthread_self()))).utf8))
            switch request.head.path {
            case "/sequenced":
                response.isSequenced = true
            case "/park":
                parked.withLock { $0.append(request.resumer!) }
                return .deferred
            case "/release":
                for resumer in parked.withLock({ parked in defer { parked = [] }; return parked }) {
                    var released = HTTPResponse(body: Array("released".utf8))
                    released.isSequenced = true
                    resumer.answer(released)
                }
            default:
                break
            }
            return response
        }

        func failureResponse(status: HTTPStatus, message: String) -> HTTPResponse {
            HTTPResponse(status: status, body: Array(message.utf8))
        }
    }

    func answeringThread(_ client: RawClient, path: String = "/thread") -> String? {
        client.send("GET \(path) HTTP/1.1\r\nHost: t\r\n\r\n")
        return client.readResponse()?.text
    }

    /// A server of two loops, and a connection on each (the kernel spreads them by address and port).
    func withTwoLoops(_ body: (Handler, (RawClient, String), (RawClient, String)) throws -> Void) throws {
        var configuration = HTTPServer.Configuration()
        configuration.port = 0
        configuration.threads = 2
        let handler = Handler()
        let server = try HTTPServer(configuration: configuration, handler: handler, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        server.start()
        defer {
            server.stop()
            server.wait()
        }
        let first = try RawClient(port: Int(server.port))
        let firstThread = try #require(answeringThread(first))
        var second: (RawClient, String)?
        for _ in 0..<200 where second == nil {
            let client = try RawClient(port: Int(server.port))
            if let thread = answeringThread(client), thread != firstThread { second = (client, thread) }
        }
        try body(handler, (first, firstThread), try #require(second, "no connection landed on the second loop"))
    }

    @Test func sequencedConnectionsGatherOnOneLoopAndOthersStay() throws {
        try withTwoLoops { _, a, b in
            // Plain requests move nothing.
            for _ in 0..<3 {
                #expect(answeringThread(a.0) == a.1)
                #expect(answeringThread(b.0) == b.1)
            }
            // A sequenced answer comes from the connection's own loop; the move is for what follows.
            #expect(answeringThread(a.0, path: "/sequenced") == a.1)
            #expect(answeringThread(b.0, path: "/sequenced") == b.1)
            let gathered = try #require(answeringThread(a.0))
            #expect(answeringThread(b.0) == gathered, "both sequenced connections are on one loop")
            #expect([a.1, b.1].contains(gathered))
            // They stay there, sequenced or not.
            for path in ["/sequenced", "/thread", "/sequenced"] {
                #expect(answeringThread(a.0, path: path) == gathered)
                #expect(answeringThread(b.0, path: path) == gathered)
            }
        }
    }

    @Test func aDeferredSequencedAnswerMovesItsConnectionToo() throws {
        try withTwoLoops { handler, a, b in
            // Which loop is the first: where a sequenced connection goes.
            #expect(answeringThread(a.0, path: "/sequenced") == a.1)
            let firstLoop = try #require(answeringThread(a.0))
            let (parker, parkerThread) = firstLoop == a.1 ? b : a
            let releaser = firstLoop == a.1 ? a.0 : b.0
            #expect(parkerThread != firstLoop)

            parker.send("POST /park HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
            for _ in 0..<1000 where handler.parked.withLock(\.isEmpty) { Thread.sleep(forTimeInterval: 0.001) }
            releaser.send("POST /release HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
            #expect(releaser.readResponse()?.text == firstLoop)
            #expect(parker.readResponse()?.text == "released")
            #expect(answeringThread(parker) == firstLoop, "the parked connection now belongs to the first loop")
            #expect(answeringThread(parker) == firstLoop)
        }
    }
}
