import Foundation
import TestSupport
import Testing

/// A battery of malformed and hostile requests over raw sockets. Each gets its exact status;
/// after each the server still answers and the parameters and version are unchanged.
@Suite struct HostileInputTests {
    static func request(_ method: String = "POST", _ path: String = "/gradients", headers: [String] = [], body: String) -> [UInt8] {
        Array("\(method) \(path) HTTP/1.1\r\nHost: t\r\n\(headers.map { $0 + "\r\n" }.joined())Content-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
    }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    static let nested = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
    static let nestedObjects = String(repeating: #"{"a":"#, count: 100_000) + "1" + String(repeating: "}", count: 100_000)
    static let emptySamples = #"{"samples": ["# + Array(repeating: "{}", count: 1_000_000).joined(separator: ",") + "]}"
    static let tooManySamples = #"{"samples": ["# + Array(repeating: #"{"x":[]}"#, count: 100_001).joined(separator: ",") + "]}"
    static let goodApply = #"{"gradients": {"W3": {"shape": [3], "data": [1, 2, 3]}}}"#

    /// (what, raw request, expected status)
    static let cases: [(String, [UInt8], Int)] = [
        // Request lines
        ("garbage line", bytes("GARBAGE\r\n\r\n"), 400),
        ("method only", bytes("GET\r\n\r\n"), 400),
        ("HTTP/0.9", bytes("GET /health\r\n\r\n"), 400),
        ("extra field in request line", bytes("GET /health HTTP/1.1 extra\r\nHost: t\r\n\r\n"), 400),
        ("leading space", bytes(" GET /health HTTP/1.1\r\nHost: t\r\n\r\n"), 400),
        ("HTTP/2.0 request line", bytes("GET /health HTTP/2.0\r\nHost: t\r\n\r\n"), 505),
        ("HTTP/2 preface", bytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 505),
        ("HTTP/1.10", bytes("GET /health HTTP/1.10\r\nHost: t\r\n\r\n"), 400),
        ("HTTP/1.1 without Host", bytes("GET /health HTTP/1.1\r\n\r\n"), 400),
        ("two Host headers", bytes("GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400),
        ("lower-case method", bytes("get /health HTTP/1.1\r\nHost: t\r\n\r\n"), 501),
        ("unknown method", bytes("BREW /health HTTP/1.1\r\nHost: t\r\n\r\n"), 501),
        ("wrong method", bytes("DELETE /health HTTP/1.1\r\nHost: t\r\n\r\n"), 405),
        ("relative target", bytes("GET health HTTP/1.1\r\nHost: t\r\n\r\n"), 400),
        ("NUL in target", bytes("GET /he\u{0}alth HTTP/1.1\r\nHost: t\r\n\r\n"), 400),
        ("non-ASCII target", bytes("GET /h") + [0xFF] + bytes("alth HTTP/1.1\r\nHost: t\r\n\r\n"), 400),
        ("unknown path", bytes("GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n"), 404),
        ("path traversal", bytes("GET /../../etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n"), 404),
        ("asterisk form", bytes("OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n"), 404),
        ("authority form", bytes("CONNECT example.com:443 HTTP/1.1\r\nHost: t\r\n\r\n"), 400),
        ("8 KB target", bytes("GET /" + String(repeating: "a", count: 8000) + " HTTP/1.1\r\nHost: t\r\n\r\n"), 404),
        // Header fields
        ("header without colon", bytes("GET /health HTTP/1.1\r\nHost: t\r\nNoColon\r\n\r\n"), 400),
        ("space before colon", bytes("GET /health HTTP/1.1\r\nHost : t\r\n\r\n"), 400),
        ("obsolete folding", bytes("GET /health HTTP/1.1\r\nHost: t\r\nX: a\r\n  b\r\n\r\n"), 400),
        ("NUL in a value", bytes("GET /health HTTP/1.1\r\nHost: t\r\nX: a\u{0}b\r\n\r\n"), 400),
        ("non-UTF-8 value", bytes("GET /health HTTP/1.1\r\nHost: t\r\nX: ") + [0xC3, 0x28] + bytes("\r\n\r\n"), 400),
        ("bad header name", bytes("GET /health HTTP/1.1\r\nHost: t\r\nX(Y): 1\r\n\r\n"), 400),
        // RFC 9112 section 2.2: bare LF is accepted as a line terminator (as nginx does), never left waiting
        ("bare LF line endings", bytes("GET /health HTTP/1.1\nHost: t\n\n"), 200),
        ("bare LF with a body", bytes("POST /forward HTTP/1.1\nHost: t\nContent-Length: 36\n\n" + #"{"samples": [{"x": [1, 2, 3]}]}     "#), 200),
        ("bare CR line endings", bytes("GET /health HTTP/1.1\rHost: t\r\r\n\r\n"), 400),
        ("bare CR in a value", bytes("GET /health HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n"), 400),
        ("header flood", bytes("GET /health HTTP/1.1\r\nHost: t\r\n" + (0..<101).map { "X-\($0): 1\r\n" }.joined() + "\r\n"), 431),
        ("1 MB header line", bytes("GET /health HTTP/1.1\r\nHost: t\r\nX: " + String(repeating: "a", count: 1 << 20) + "\r\n\r\n"), 431),
        ("17 KB of headers", bytes("GET /health HTTP/1.1\r\nHost: t\r\n" + (0..<85).map { "X-\($0): " + String(repeating: "b", count: 200) + "\r\n" }.joined() + "\r\n"), 431),
        // Content-Length
        ("no Content-Length", bytes("POST /apply HTTP/1.1\r\nHost: t\r\n\r\n"), 400),
        ("two different lengths", bytes("POST /apply HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: 57\r\n\r\n"), 400),
        ("negative length", bytes("POST /apply HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n"), 400),
        ("huge length", bytes("POST /apply HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999999\r\n\r\n"), 413),
        ("length over the limit", bytes("POST /apply HTTP/1.1\r\nHost: t\r\nContent-Length: 67108865\r\n\r\n"), 413),
        ("non-numeric length", bytes("POST /apply HTTP/1.1\r\nHost: t\r\nContent-Length: ten\r\n\r\n"), 400),
        ("signed length", bytes("POST /apply HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello"), 400),
        ("hex length", bytes("POST /apply HTTP/1.1\r\nHost: t\r\nContent-Length: 0x10\r\n\r\n"), 400),
        ("length with a space inside", bytes("POST /apply HTTP/1.1\r\nHost: t\r\nContent-Length: 1 0\r\n\r\n"), 400),
        ("oversized body with Expect", bytes("POST /apply HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 67108865\r\n\r\n"), 413),
        // Transfer-Encoding: refused, so that no body can be read two ways
        ("chunked body", bytes("POST /apply HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{}}\r\n0\r\n\r\n"), 411),
        ("chunked with length", bytes("POST /apply HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400),
        ("gzip coding", bytes("POST /apply HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n"), 411),
        ("obfuscated coding", bytes("POST /apply HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\nContent-Length: 2\r\n\r\n{}"), 400),
        ("body longer than declared", bytes("POST /apply HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}" + goodApply), 400),
        // JSON
        ("empty body", request(body: ""), 400),
        ("unterminated object", request(body: "{"), 400),
        ("array body", request(body: "[]"), 400),
        ("null body", request(body: "null"), 400),
        ("100,000 nested arrays", request(body: #"{"samples": "# + nested + "}"), 400),
        ("100,000 nested objects", request(body: nestedObjects), 400),
        ("number 1e400", request(body: #"{"samples": [{"x": [1e400, 0, 0], "t": 1}]}"#), 400),
        ("numbers as strings", request(body: #"{"samples": [{"x": ["1", "2", "3"], "t": 1}]}"#), 400),
        ("duplicate keys", request(body: #"{"samples": [{"x": [1, 2, 3], "t": 1}], "samples": []}"#), 400),
        ("non-UTF-8 string", request(body: "{\"samples\": [], \"note\": \"\u{FF}\"}").map { $0 == 0xC3 ? 0xFF : $0 }, 400),
        ("NUL in JSON", request(body: "{\"samples\": [\u{0}]}"), 400),
        ("NaN literal", request(body: #"{"samples": [{"x": [NaN, 0, 0], "t": 1}]}"#), 400),
        ("Infinity literal", request(body: #"{"samples": [{"x": [Infinity, 0, 0], "t": 1}]}"#), 400),
        ("trailing garbage", request(body: #"{"samples": []} {}"#), 400),
        ("10^6 empty samples", request(body: emptySamples), 400),
        ("100,001 samples", request(body: tooManySamples), 400),
        ("empty samples", request(body: #"{"samples": []}"#), 422),
        ("wrong input length", request(body: #"{"samples": [{"x": [1, 2], "t": 1}]}"#), 422),
        ("graph sent to the dense model", request(body: #"{"samples": [{"nodes": [[1]], "edges": [], "t": 1}]}"#), 422),
        ("target as string", request(body: #"{"samples": [{"x": [1, 2, 3], "t": "1"}]}"#), 400),
        // Tensors and versions
        ("wrong tensor shape", request("POST", "/apply", body: #"{"gradients": {"W1": {"shape": [3, 2], "data": [1, 2, 3, 4, 5, 6]}}}"#), 422),
        ("negative shape", request("POST", "/apply", body: #"{"gradients": {"W3": {"shape": [-3], "data": []}}}"#), 400),
        ("enormous shape", request("POST", "/apply", body: #"{"gradients": {"W3": {"shape": [100000, 100000, 100000], "data": [1]}}}"#), 422),
        ("shape and data disagree", request("POST", "/apply", body: #"{"gradients": {"W3": {"shape": [3], "data": [1, 2]}}}"#), 422),
        ("unknown parameter", request("POST", "/apply", body: #"{"gradients": {"W7": {"shape": [3], "data": [1, 2, 3]}}}"#), 422),
        ("NaN in base64", request("POST", "/apply", body: #"{"gradients": {"W3": {"shape": [3], "dtype": "float32", "b64": "AADAfwAAAAAAAAAA"}}}"#), 422),
        ("invalid base64", request("POST", "/apply", body: #"{"gradients": {"W3": {"shape": [3], "dtype": "float32", "b64": "!!!!"}}}"#), 400),
        ("unsupported datatype", request("POST", "/apply", body: #"{"gradients": {"W3": {"shape": [3], "data": [1, 2, 3], "datatype": "FP16"}}}"#), 400),
        ("negative version", request("POST", "/apply", body: #"{"gradients": {"W3": {"shape": [3], "data": [1, 2, 3]}}, "version": -1}"#), 400),
        ("version as string", request("POST", "/apply", body: #"{"gradients": {"W3": {"shape": [3], "data": [1, 2, 3]}}, "version": "0"}"#), 400),
        ("fractional version", request("POST", "/apply", body: #"{"gradients": {"W3": {"shape": [3], "data": [1, 2, 3]}}, "version": 0.5}"#), 400),
        ("future version", request("POST", "/apply", body: #"{"gradients": {"W3": {"shape": [3], "data": [1, 2, 3]}}, "version": 99}"#), 409),
        ("step that overflows", request("POST", "/apply", body: #"{"gradients": {"W3": {"shape": [3], "data": [3e38, 3e38, 3e38]}}}"#), 422),
        ("partial PUT /params", request("PUT", "/params", body: #"{"parameters": {"W3": {"shape": [3], "data": [1, 2, 3]}}}"#), 422),
        ("duplicate key in a checkpoint", request("PUT", "/checkpoint", body: #"{"version": 5, "version": 7, "parameters": {}, "optimizer_state": {"name": "sgd", "step": 0}}"#), 400),
        ("duplicate tensor in an apply", request("POST", "/apply", body: #"{"gradients": {"W3": {"shape": [3], "data": [1, 2, 3]}, "W3": {"shape": [3], "data": [0, 0, 0]}}}"#), 400),
        ("checkpoint of another optimizer", request("PUT", "/checkpoint", body: #"{"version": 1, "parameters": {}, "optimizer_state": {"name": "adam", "step": 0}}"#), 422),
        ("steps not an array", request("POST", "/steps", body: #"{"steps": {"gradients": {}}}"#), 400),
        ("steps of 100,000 empty objects", request("POST", "/steps", body: #"{"steps": ["# + Array(repeating: "{}", count: 100_000).joined(separator: ",") + "]}"), 400),
        ("steps whose later one overflows the version", request("POST", "/steps", body: #"{"steps": ["#
            + [Int.max, 0].map { #"{"gradients": {"W3": {"shape": [3], "data": [1, 2, 3]}}, "version": 0, "if_version": \#($0), "parts": []}"# }
            .joined(separator: ",") + "]}"), 422),
    ]

    @Test(.timeLimit(.minutes(2)))
    func everyHostileRequestGetsItsStatusAndChangesNothing() throws {
        // A large learning rate, so that a step of 3e38 overflows and must be refused.
        let server = try ServerProcess(["--layers", "3,3,3", "--lr", "10", "--request-timeout", "2"])
        let baseline = try curl(["\(server.url)/params"]).body
        #expect(Set(Self.cases.map(\.0)).count == Self.cases.count, "distinct cases")
        #expect(Self.cases.count >= 60)
        for (name, bytes, status) in Self.cases {
            let client = try RawClient(port: server.port)
            client.send(bytes)
            let response = client.readResponse()
            #expect(response?.status == status, "\(name): \(response?.text.prefix(200) ?? "no answer")")
            #expect(try curl(["\(server.url)/health"]).body.hasPrefix(#"{"status":"ok","version":0,"digest":"#), "\(name)")
        }
        #expect(try curl(["\(server.url)/params"]).body == baseline)
    }

    /// The limit only stops a hang; it is generous because the clock runs while the test waits
    /// for a thread in a full run (see WorkerPoolTests).
    @Test(.timeLimit(.minutes(5)))
    func slowlorisAndIdleConnectionsDoNotStopOthers() throws {
        let server = try ServerProcess(["--request-timeout", "3"])
        let idle = try (0..<1000).map { _ in try RawClient(port: server.port) }
        let slow = try RawClient(port: server.port)
        let head = Array("GET /health HTTP/1.1\r\nHost: t\r\nX-Slow: ".utf8)
        var served = 0
        // One byte per second (compressed into 0.25 s steps) while another client keeps being served.
        for byte in head.prefix(16) {
            slow.send([byte])
            let other = try RawClient(port: server.port)
            other.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            if other.readResponse()?.status == 200 { served += 1 }
            Thread.sleep(forTimeInterval: 0.25)
        }
        #expect(served == 16)
        // The slow head is cut off once its request has taken longer than the timeout.
        slow.setTimeout(seconds: 5)
        #expect(slow.readResponse()?.status == 408)
        withExtendedLifetime(idle) {}  // the idle connections stay open until here
        #expect(try curl(["\(server.url)/health"]).status == 200)
    }
}
