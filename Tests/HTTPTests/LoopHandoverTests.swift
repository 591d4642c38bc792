import Foundation
import Locking
import Logging
import Testing
import TestSupport
@testable import HTTP

/// A connection whose deferred answer another event loop's thread made moves to that loop: the
/// steps of a pipelined trainer land one after another on one thread, and its connections gather
/// there, so that answering them needs no wake-up of another thread.
@Suite struct LoopHandoverTests {
    /// Tells which thread answered; `/park` waits until a `/release` on any connection answers it.
    final class Handler: HTTPHandler {
        let parked = Locked<[HTTPResumer]>([])

        func handle(_ request: HTTPRequest) -> HTTPResponse {
            switch request.head.path {
            case "/park":
                parked.withLock { $0.append(request.resumer!) }
                return .deferred
            case "/release":
                for resumer in parked.withLock({ parked in defer { parked = [] }; return parked }) {
                    resumer.answer(HTTPResponse(body: Array("released".utf8)))
                }
            default:
                break
            }
            return HTTPResponse(body: Array(String(UInt(bitPattern: Int(bitPattern: pthread_self()))).utf8))
        }

        func failureResponse(status: HTTPStatus, message: String) -> HTTPResponse {
            HTTPResponse(status: status, body: Array(message.utf8))
        }
    }

    func answeringThread(_ client: RawClient) -> String? {
        client.send("GET /thread HTTP/1.1\r\nHost: t\r\n\r\n")
        return client.readResponse()?.text
    }

    @Test func aConnectionMovesToTheLoopWhoseThreadAnsweredItsDeferredRequest() throws {
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
        // Two connections on different loops (the kernel spreads them by address and port).
        let parker = try RawClient(port: Int(server.port))
        let parkerThread = try #require(answeringThread(parker))
        var releaser: (client: RawClient, thread: String)?
        for _ in 0..<200 where releaser == nil {
            let client = try RawClient(port: Int(server.port))
            if let thread = answeringThread(client), thread != parkerThread { releaser = (client, thread) }
        }
        let (other, otherThread) = try #require(releaser, "no connection landed on the second loop")

        parker.send("POST /park HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
        for _ in 0..<1000 where handler.parked.withLock(\.isEmpty) { Thread.sleep(forTimeInterval: 0.001) }
        other.send("POST /release HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
        #expect(other.readResponse()?.text == otherThread)
        #expect(parker.readResponse()?.text == "released")
        #expect(answeringThread(parker) == otherThread, "the parked connection now belongs to the loop that answered it")
        #expect(answeringThread(parker) == otherThread)
        #expect(answeringThread(other) == otherThread)
    }
}
