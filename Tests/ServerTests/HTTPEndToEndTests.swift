import Foundation
import TestSupport
import Testing

/// HTTP behaviour of the real binary over raw sockets: what curl will not send.
@Suite struct HTTPEndToEndTests {
    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let server = try ServerProcess()
        let client = try RawClient(port: server.port)
        let forward = #"{"samples": [{"x": [1, 2, 3]}]}"#
        client.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n"
            + "POST /forward HTTP/1.1\r\nHost: t\r\nContent-Length: \(forward.utf8.count)\r\n\r\n\(forward)"
            + "GET /missing HTTP/1.1\r\nHost: t\r\n\r\n"
            + "GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        let statuses = (0..<4).compactMap { _ in client.readResponse()?.status }
        #expect(statuses == [200, 200, 404, 200])
    }

    @Test func keepAliveByDefaultAndCloseWhenAsked() throws {
        let server = try ServerProcess()
        let client = try RawClient(port: server.port)
        for _ in 0..<3 {
            client.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = client.readResponse()
            #expect(response?.status == 200)
            #expect(response?.header("Connection") == nil)
            #expect(response?.header("Content-Type") == "application/json")
            #expect(response?.header("Content-Length") == String(response?.body.count ?? -1))
        }
        client.send("GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        #expect(client.readResponse()?.header("Connection") == "close")
        #expect(client.isClosedByPeer())
    }

    /// An event loop polls without sleeping for `--busy-poll` microseconds after each event: the
    /// answers are the same with or without it, a client slower than the window is still answered,
    /// and once the traffic stops the polling stops too (an idle server uses no CPU).
    @Test(arguments: ["0", "10000"])
    func busyPollingAnswersFastAndSlowClientsAndStopsWhenIdle(window: String) throws {
        let server = try ServerProcess(["--busy-poll", window, "--threads", "1"])
        let client = try RawClient(port: server.port)
        let forward = #"{"samples": [{"x": [1, 2, 3]}]}"#
        let request = "POST /forward HTTP/1.1\r\nHost: t\r\nContent-Length: \(forward.utf8.count)\r\n\r\n\(forward)"
        var bodies: Set<String> = []
        // Back to back, then slower than the 10 ms window (the loop stops polling after four).
        for pause in [0, 0, 0, 0, 20, 20, 20, 20, 20, 20, 0, 0] {
            if pause > 0 { usleep(UInt32(pause * 1000)) }
            client.send(request)
            let response = client.readResponse()
            #expect(response?.status == 200)
            bodies.insert(response.map { String(decoding: $0.body, as: UTF8.self) } ?? "none")
        }
        #expect(bodies.count == 1, "\(bodies)")
        // Idle for a second with the connection open: a loop that kept polling would use most of it.
        let before = server.cpuSeconds
        sleep(1)
        let idle = server.cpuSeconds - before
        #expect(idle < 0.2, "the server used \(idle) s of CPU in an idle second")
    }

    @Test func http10ClosesUnlessKeepAliveIsAsked() throws {
        let server = try ServerProcess()
        let plain = try RawClient(port: server.port)
        plain.send("GET /health HTTP/1.0\r\n\r\n")
        let response = plain.readResponse()
        #expect(response?.status == 200)
        #expect(response?.text.hasPrefix(#"{"status":"ok","version":0,"digest":"#) == true)
        #expect(plain.isClosedByPeer())

        let kept = try RawClient(port: server.port)
        for _ in 0..<2 {
            kept.send("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(kept.readResponse()?.status == 200)
        }
    }

    @Test func headAnswersWithoutBody() throws {
        let server = try ServerProcess()
        let client = try RawClient(port: server.port)
        client.send("HEAD /health HTTP/1.1\r\nHost: t\r\n\r\nGET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        let head = client.readResponse(isHead: true)
        #expect(head?.status == 200)
        #expect(head?.body.isEmpty == true)
        // HEAD announces the length of the body GET sends (RFC 9110 section 9.3.2).
        let get = client.readResponse()
        #expect(get?.text.hasPrefix(#"{"status":"ok","version":0,"digest":"#) == true)
        #expect(head?.header("Content-Length") == String(get?.body.count ?? -1))
        #expect(get?.body.count == 55)
    }

    @Test func malformedHeadGets400AndTheConnectionCloses() throws {
        let server = try ServerProcess()
        let client = try RawClient(port: server.port)
        client.send("GET / HTTP/1.1\r\nBad Header\r\n\r\n")
        let response = client.readResponse()
        #expect(response?.status == 400)
        #expect(response?.text.contains("malformed header field") == true)
        #expect(client.isClosedByPeer())
    }

    @Test func oversizedHeadGets431() throws {
        let server = try ServerProcess()
        let client = try RawClient(port: server.port)
        client.send("GET /health HTTP/1.1\r\nHost: t\r\nX-Big: " + String(repeating: "a", count: 20_000) + "\r\n\r\n")
        #expect(client.readResponse()?.status == 431)
    }

    @Test func oversizedBodyGets413BeforeItIsSent() throws {
        let server = try ServerProcess(["--max-body-bytes", "1000"])
        let client = try RawClient(port: server.port)
        client.send("POST /forward HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n")
        let response = client.readResponse()
        #expect(response?.status == 413)
        #expect(response?.header("Connection") == "close")
        // Sending the body anyway does not reset the answer away; the server then closes.
        client.send(String(repeating: "x", count: 1001))
        #expect(client.isClosedByPeer())
    }

    @Test func expectContinueGets100ThenTheAnswer() throws {
        let server = try ServerProcess()
        let client = try RawClient(port: server.port)
        let body = #"{"samples": [{"x": [1, 2, 3]}]}"#
        client.send("POST /forward HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: \(body.utf8.count)\r\n\r\n")
        #expect(client.readResponse()?.status == 100)
        client.send(body)
        #expect(client.readResponse()?.status == 200)
    }

    @Test func idleConnectionsAndAClientThatNeverReadsDoNotBlockOthers() throws {
        let server = try ServerProcess(["--layers", "64,256,256", "--threads", "1"])
        let idle = try (0..<300).map { _ in try RawClient(port: server.port) }
        // Asks for a ~1.3 MB response 50 times and never reads any of them.
        let hog = try RawClient(port: server.port)
        hog.send(String(repeating: "GET /params HTTP/1.1\r\nHost: t\r\n\r\n", count: 50))
        let other = try RawClient(port: server.port)
        for _ in 0..<5 {
            other.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(other.readResponse()?.status == 200)
        }
        withExtendedLifetime(idle) {}  // the idle connections stay open until here
    }

    /// A request with a large body is worked on by a worker thread, so the other connections of
    /// its event loop (here the only loop) are answered meanwhile.
    @Test func aHeavyRequestDoesNotHoldUpTheOtherConnectionsOfItsLoop() throws {
        let server = try ServerProcess(["--threads", "1", "--layers", "256,256,256"])
        let x = (0..<256).map { String(format: "0.%09d", $0 * 3_899) }.joined(separator: ",")
        let heavyBody = #"{"samples": ["# + Array(repeating: #"{"x": [\#(x)], "t": 1}"#, count: 16).joined(separator: ",") + "]}"
        #expect(heavyBody.utf8.count >= 16 * 1024)
        let heavy = try RawClient(port: server.port)
        heavy.setTimeout(seconds: 120)
        heavy.send("POST /gradients HTTP/1.1\r\nHost: t\r\nContent-Length: \(heavyBody.utf8.count)\r\n\r\n\(heavyBody)")
        Thread.sleep(forTimeInterval: 0.02)
        let light = try RawClient(port: server.port)
        light.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(light.readResponse()?.status == 200)
        #expect(!heavy.hasDataAvailable(), "16 per-sample gradients of 131,840 values are still being written")
        let answer = heavy.readResponse()
        #expect(answer?.status == 200)
        #expect((answer?.body.count ?? 0) > 16 * 131_840)
    }

    /// One worker and no queue: a second large request while the first is being worked on is
    /// answered 503 with Retry-After at once (and its connection stays usable); once the worker
    /// is free, large requests are served again.
    @Test func aFullWorkerPoolAnswers503WithRetryAfter() throws {
        let server = try ServerProcess(["--threads", "1", "--workers", "1", "--max-queued-requests", "0", "--layers", "256,256,256"])
        let x = (0..<256).map { String(format: "0.%09d", $0 * 3_899) }.joined(separator: ",")
        let heavyBody = #"{"samples": ["# + Array(repeating: #"{"x": [\#(x)], "t": 1}"#, count: 16).joined(separator: ",") + "]}"
        let heavyRequest = "POST /gradients HTTP/1.1\r\nHost: t\r\nContent-Length: \(heavyBody.utf8.count)\r\n\r\n\(heavyBody)"
        let first = try RawClient(port: server.port)
        first.setTimeout(seconds: 120)
        first.send(heavyRequest)
        Thread.sleep(forTimeInterval: 0.05)
        let second = try RawClient(port: server.port)
        second.send(heavyRequest)
        let busy = second.readResponse()
        #expect(busy?.status == 503)
        #expect(busy?.header("Retry-After") == "1")
        #expect(busy?.text.contains(#""code":"overloaded""#) == true)
        #expect(!first.hasDataAvailable(), "the first is still being worked on")
        second.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(second.readResponse()?.status == 200)
        #expect(first.readResponse()?.status == 200)
        second.setTimeout(seconds: 120)
        // The worker may still be finishing the first job when its answer is out: a 503 then, and
        // the request goes again shortly after.
        var again = 503
        for _ in 0..<100 where again == 503 {
            second.send(heavyRequest)
            again = second.readResponse()?.status ?? 0
            if again == 503 { Thread.sleep(forTimeInterval: 0.01) }
        }
        #expect(again == 200)
    }

    /// A connection whose last large request to a path was quick has its next one there answered
    /// on the loop (`--inline-budget`): here while the only worker is busy and nothing may queue,
    /// where a worker would have answered 503. Another path, or a connection with no such history,
    /// still goes to the workers.
    /// (The budget is a minute, so that "quick" holds on any build and machine.)
    @Test func aLargeRequestLikeAQuickOneBeforeItIsAnsweredOnTheLoop() throws {
        let server = try ServerProcess(["--threads", "1", "--workers", "1", "--max-queued-requests", "0", "--layers", "256,256,256",
                                        "--inline-budget", "10000"])
        let x = (0..<256).map { String(format: "0.%09d", $0 * 3_899) }.joined(separator: ",")
        let heavyBody = #"{"samples": ["# + Array(repeating: #"{"x": [\#(x)], "t": 1}"#, count: 16).joined(separator: ",") + "]}"
        // One sample and 16 KiB of whitespace: a large body, quick to answer.
        let quickBody = #"{"samples": [{"x": [\#(x)]}]"# + String(repeating: " ", count: 16 * 1024) + "}"
        func post(_ path: String, _ body: String) -> String {
            "POST \(path) HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        }
        let quick = try RawClient(port: server.port)
        quick.send(post("/forward", quickBody))
        #expect(quick.readResponse()?.status == 200, "answered by the worker, which was free")
        let heavy = try RawClient(port: server.port)
        heavy.setTimeout(seconds: 120)
        // The worker may still be finishing the quick request's job when its answer is out: until
        // it takes the heavy request, the pool answers 503 at once, and the request is sent again.
        for _ in 0..<200 {
            heavy.send(post("/gradients", heavyBody))
            Thread.sleep(forTimeInterval: 0.05)
            guard heavy.hasDataAvailable() else { break }
            #expect(heavy.readResponse()?.status == 503)
        }
        quick.send(post("/forward", quickBody))
        let again = quick.readResponse()
        #expect(again?.status == 200, "answered on the loop: \(again?.text ?? "no answer")")
        #expect(!heavy.hasDataAvailable(), "the heavy request still holds the only worker")
        quick.send(post("/gradients", quickBody.replacingOccurrences(of: "]}]", with: "], \"t\": 1}]")))
        #expect(quick.readResponse()?.status == 503, "another path has no history on this connection: sent to the busy worker pool")
        let stranger = try RawClient(port: server.port)
        stranger.send(post("/forward", quickBody))
        #expect(stranger.readResponse()?.status == 503, "no history on this connection: sent to the busy worker pool")
        #expect(heavy.readResponse()?.status == 200)
    }

    /// Pipelined requests whose answers pass the output high-water mark (1 MiB) wait while the
    /// client reads, then go on: all ten ~0.9 MB answers arrive, in order.
    @Test func pipelinedRequestsWithLargeAnswersAllGetAnswered() throws {
        let server = try ServerProcess(["--layers", "64,256,256", "--threads", "1"])
        let client = try RawClient(port: server.port)
        client.send(String(repeating: "GET /params HTTP/1.1\r\nHost: t\r\n\r\n", count: 9) + "GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        for i in 0..<9 {
            let answer = client.readResponse()
            #expect(answer?.status == 200 && (answer?.body.count ?? 0) > 500_000, "answer \(i)")
        }
        #expect(client.readResponse()?.text.contains(#""status":"ok""#) == true, "the last request's answer comes last")
    }

    /// A large body is read into a buffer of its own as it arrives. Sent in pieces (the head
    /// alone, or with the body's first bytes), with the next request in its last piece, it must
    /// be read whole, also past the 4 MB a head reserves, and the request after it answered.
    @Test(arguments: [false, true])
    func aLargeBodyArrivingInPiecesIsReadWholeAndTheNextRequestAnswered(headAlone: Bool) throws {
        let server = try ServerProcess(["--layers", "3,3,3"])
        let samples = (0..<1000).map { #"{"x": [\#($0 % 7), 0.5, -\#($0 % 3)]}"# }.joined(separator: ",")
        let small = #"{"samples": ["# + samples + "]}"
        #expect(small.utf8.count >= 16 * 1024)
        let whole = try RawClient(port: server.port)
        whole.send("POST /forward HTTP/1.1\r\nHost: t\r\nContent-Length: \(small.utf8.count)\r\n\r\n\(small)")
        let expected = try #require(whole.readResponse())
        #expect(expected.status == 200 && expected.text.hasPrefix(#"{"version":0,"outputs":["#))
        // JSON may lead with whitespace: 5 MB of it makes the body outgrow its first reservation.
        for body in [small, String(repeating: " ", count: 5 << 20) + small] {
            let bytes = Array(body.utf8), client = try RawClient(port: server.port)
            let first = headAlone ? 0 : 100
            client.send(Array("POST /forward HTTP/1.1\r\nHost: t\r\nContent-Length: \(bytes.count)\r\n\r\n".utf8) + bytes[..<first])
            usleep(30_000)
            client.send(Array(bytes[first..<(bytes.count / 2)]))
            usleep(30_000)
            client.send(Array(bytes[(bytes.count / 2)...]) + Array("GET /health HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
            let answer = client.readResponse()
            #expect(answer?.status == 200)
            #expect(answer.map { $0.body == expected.body } == true, "the same outputs from a body of \(bytes.count) bytes")
            #expect(client.readResponse()?.text.hasPrefix(#"{"status":"ok""#) == true, "the request after it")
        }
    }

    @Test func pipelinedRequestsKeepTheirOrderWhenOneGoesToAWorker() throws {
        let server = try ServerProcess(["--layers", "3,3,3"])
        let samples = Array(repeating: #"{"x": [0.25, 0.5, 0.75]}"#, count: 800).joined(separator: ",")
        let big = #"{"samples": ["# + samples + "]}"
        #expect(big.utf8.count >= 16 * 1024)
        let client = try RawClient(port: server.port)
        client.send("POST /forward HTTP/1.1\r\nHost: t\r\nContent-Length: \(big.utf8.count)\r\n\r\n\(big)"
            + "GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        let first = client.readResponse()
        #expect(first?.status == 200)
        #expect(first?.text.hasPrefix(#"{"version":0,"outputs":["#) == true)
        #expect(client.readResponse()?.text.hasPrefix(#"{"status":"ok","version":0,"digest":"#) == true)
    }

    @Test func sigtermFinishesTheRequestInFlightThenExitsZero() throws {
        let server = try ServerProcess()
        let client = try RawClient(port: server.port)
        let body = #"{"samples": [{"x": [1, 2, 3], "t": 1}]}"#
        client.send("POST /gradients HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body.prefix(10))
        Thread.sleep(forTimeInterval: 0.3)
        kill(server.process.processIdentifier, SIGTERM)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(server.process.isRunning, "still finishing the request in flight")
        client.send(String(body.dropFirst(10)))
        let response = client.readResponse()
        #expect(response?.status == 200)
        #expect(response?.header("Connection") == "close")
        server.process.waitUntilExit()
        #expect(server.process.terminationStatus == 0)
        #expect((try? RawClient(port: server.port)) == nil, "no longer accepting")
    }
}
