import Testing
@testable import HTTP

@Suite struct HTTPParserTests {
    func parse(_ text: String, limits: HTTPParser.Limits = HTTPParser.Limits()) -> HTTPParser.Result {
        Array(text.utf8).withUnsafeBytes { HTTPParser.parseHead($0, limits: limits) }
    }

    func head(_ text: String) throws -> HTTPRequestHead {
        guard case .head(let head, _) = parse(text) else {
            Issue.record("expected a head from \(text.debugDescription), got \(parse(text))")
            throw ParseFailed()
        }
        return head
    }

    struct ParseFailed: Error {}

    func status(_ text: String, limits: HTTPParser.Limits = HTTPParser.Limits()) -> Int? {
        if case .failure(let failure) = parse(text, limits: limits) { return failure.status.code }
        return nil
    }

    @Test func getRequestIsParsedWithCaseInsensitiveHeaders() throws {
        let request = try head("GET /params?tensor_format=b64 HTTP/1.1\r\nhOsT: x\r\nX-Thing:  a b \r\n\r\n")
        #expect(request.method == "GET")
        #expect(request.path == "/params")
        #expect(request.queryValue("tensor_format") == "b64")
        #expect(request.headers["host"] == "x")
        #expect(request.headers["x-thing"] == "a b")
        #expect(request.keepAlive)
        #expect(request.contentLength == 0)
    }

    @Test func lengthOfHeadIncludesLeadingBlankLinesAndStopsBeforeTheBody() {
        let text = "\r\nPOST /apply HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
        guard case .head(let head, let length) = parse(text) else { Issue.record("no head"); return }
        #expect(length == text.utf8.count - 2)
        #expect(head.contentLength == 2)
    }

    /// RFC 9112 section 2.2 lets a recipient accept a bare LF as a line terminator; this parser
    /// does (as nginx does), alone or mixed with CRLF, so such a client is answered at once.
    @Test(arguments: ["GET /health HTTP/1.1\nHost: x\n\n", "GET /health HTTP/1.1\r\nHost: x\n\r\n",
                      "\nGET /health HTTP/1.1\nHost: x\r\n\n", "GET /health HTTP/1.1\nHost: x\r\n\r\n"])
    func bareLFEndsLinesLikeCRLF(text: String) throws {
        guard case .head(let head, let length) = parse(text + "{}") else { Issue.record("no head"); return }
        #expect(length == text.utf8.count)
        #expect(head.target == "/health")
        #expect(head.headers["Host"] == "x")
        #expect(head.headers.values("Host").count == 1)
    }

    @Test func incompleteHeadAsksForMore() {
        #expect(parse("GET / HTTP/1.1\nHost: x\n") == .incomplete)
        #expect(parse("GET / HTTP/1.1\nHost: x\n\r") == .incomplete)
        #expect(parse("GET / HTTP/1.1\r\nHost: x\r\n") == .incomplete)
        #expect(parse("") == .incomplete)
    }

    @Test func connectionSemanticsFollowTheVersion() throws {
        #expect(try !head("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Close\r\n\r\n").keepAlive)
        #expect(try !head("GET / HTTP/1.0\r\n\r\n").keepAlive)
        #expect(try head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keepAlive)
        #expect(try head("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n").expectsContinue)
    }

    @Test func absoluteFormTargetsAreReducedToTheirPath() throws {
        #expect(try head("GET http://example.com:8080/health?x=1 HTTP/1.1\r\nHost: x\r\n\r\n").target == "/health?x=1")
        #expect(try head("GET http://example.com HTTP/1.1\r\nHost: x\r\n\r\n").target == "/")
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\r\n\r\n", 400),                                   // no Host
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),             // two Hosts
        ("GET /\r\n\r\n", 400),                                            // HTTP/0.9
        ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),                         // HTTP/2 preface
        ("GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505),
        ("GET / HTTP/11\r\nHost: x\r\n\r\n", 400),
        ("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400),                       // two spaces
        ("GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400),
        ("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),                        // not a token
        ("GET nope HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),                       // space before colon
        ("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),             // obs-fold
        ("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\u{0}y\r\n\r\n", 400),                  // NUL
        ("GET / HTTP/1.1\r\nHost: x\ry: z\r\n\r\n", 400),                  // bare CR inside a line
        ("GET / HTTP/1.1\rHost: x\r\n\r\n", 400),                         // a bare CR is not a line break
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 67108865\r\n\r\n", 413),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 411),
    ])
    func malformedHeadsGetTheRightStatus(text: String, expected: Int) {
        #expect(status(text) == expected, "\(text.debugDescription)")
    }

    @Test func sameContentLengthTwiceIsAccepted() throws {
        #expect(try head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n").contentLength == 3)
    }

    @Test func oversizedHeadsAnd431() {
        let long = "GET / HTTP/1.1\r\nHost: x\r\nX: " + String(repeating: "a", count: 17_000)
        #expect(status(long) == 431)
        var limits = HTTPParser.Limits()
        limits.maxHeaderCount = 3
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n", limits: limits) == 431)
    }

    @Test func everyPrefixOfAValidHeadIsIncomplete() {
        let text = "POST /gradients HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n"
        let bytes = Array(text.utf8)
        for end in 0..<bytes.count {
            let result = bytes[..<end].withUnsafeBytes { HTTPParser.parseHead($0, limits: HTTPParser.Limits()) }
            #expect(result == .incomplete, "prefix of \(end) bytes")
        }
    }
}
