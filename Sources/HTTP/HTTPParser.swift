#if canImport(Glibc)
import Glibc
#endif

/// Parses request heads from bytes (RFC 9112). A pure function of its input: the connection
/// feeds it whatever has arrived, and tests feed it byte strings.
public enum HTTPParser {
    public struct Limits: Sendable {
        /// Request line plus header fields, including the blank line (431 beyond).
        public var maxHeadBytes = 16 * 1024
        public var maxHeaderCount = 100
        /// Largest accepted body (413 beyond, answered before reading it).
        public var maxBodyBytes = 64 * 1024 * 1024

        public init() {}
    }

    /// Why a head was refused: the status to answer and a message for the client.
    public struct Failure: Error, Equatable, Sendable {
        public let status: HTTPStatus
        public let message: String
    }

    public enum Result: Equatable {
        /// More bytes are needed.
        case incomplete
        /// A head of `length` bytes (counting any leading blank lines) was parsed.
        case head(HTTPRequestHead, length: Int)
        case failure(Failure)
    }

    /// Methods this server knows; anything else is answered 501 (RFC 9110 section 9.1).
    static let knownMethods: Set<String> = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
        // The safe method with a body (draft-ietf-httpbis-safe-method-w-body); known, so a route answers 405.
        "QUERY",
    ]

    public static func parseHead(_ bytes: UnsafeRawBufferPointer, limits: Limits) -> Result {
        let bytes = bytes.bindMemory(to: UInt8.self)
        // Section 2.2: a server SHOULD ignore at least one empty line received before the request line.
        var start = 0
        while let length = lineBreakLength(bytes, at: start) { start += length }
        guard let (contentEnd, headEnd) = findEmptyLine(bytes, from: start, limit: limits.maxHeadBytes) else {
            if bytes.count - start >= limits.maxHeadBytes {
                return .failure(Failure(status: .headerFieldsTooLarge, message: "request head is larger than \(limits.maxHeadBytes) bytes"))
            }
            return .incomplete
        }
        do {
            let head = try parse(UnsafeBufferPointer(rebasing: bytes[start..<contentEnd]), limits: limits)
            return .head(head, length: headEnd)
        } catch {
            return .failure(error)
        }
    }

    /// Section 2.2: lines end in CRLF, and a recipient MAY recognize a bare LF as a line terminator
    /// and ignore any preceding CR. This parser does, as nginx does: a client that ends lines with
    /// LF alone is answered rather than left waiting for a CRLF that never comes. A bare CR is
    /// not a line break; it stays inside its line, where the request line and field rules refuse it.
    /// The length of the line break at `i` (LF or CRLF), or nil if there is none.
    private static func lineBreakLength(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
        guard i < bytes.count else { return nil }
        if bytes[i] == 0x0A { return 1 }
        if bytes[i] == 0x0D, i + 1 < bytes.count, bytes[i + 1] == 0x0A { return 2 }
        return nil
    }

    /// The empty line that ends the head, searching at most `limit` bytes: where the head's last
    /// line break starts (`contentEnd`) and the index just past the empty line (`headEnd`).
    private static func findEmptyLine(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, limit: Int)
        -> (contentEnd: Int, headEnd: Int)?
    {
        let end = min(bytes.count, start + limit)
        var i = start
        while i < end {
            guard let found = memchr(bytes.baseAddress! + i, 0x0A, end - i) else { return nil }
            let lf = bytes.baseAddress!.distance(to: found.assumingMemoryBound(to: UInt8.self))
            if let length = lineBreakLength(UnsafeBufferPointer(rebasing: bytes[..<end]), at: lf + 1) {
                return (lf, lf + 1 + length)
            }
            i = lf + 1
        }
        return nil
    }

    /// Parses the lines of a head without its final line break and empty line.
    private static func parse(_ head: UnsafeBufferPointer<UInt8>, limits: Limits) throws(Failure) -> HTTPRequestHead {
        var lines = split(head)
        let requestLine = lines.removeFirst()
        let (method, target, version) = try parseRequestLine(requestLine)

        var headers = HTTPHeaders()
        guard lines.count <= limits.maxHeaderCount else {
            throw Failure(status: .headerFieldsTooLarge, message: "more than \(limits.maxHeaderCount) header fields")
        }
        for line in lines {
            let (name, value) = try parseField(line)
            headers.append(name: name, value: value)
        }
        return try interpret(method: method, target: target, version: version, headers: headers, limits: limits)
    }

    /// The lines of a head: split at each LF, without the LF and a CR just before it.
    private static func split(_ head: UnsafeBufferPointer<UInt8>) -> [UnsafeBufferPointer<UInt8>] {
        var lines: [UnsafeBufferPointer<UInt8>] = []
        var lineStart = 0
        func addLine(upTo end: Int) {
            let trimmed = end > lineStart && head[end - 1] == 0x0D ? end - 1 : end
            lines.append(UnsafeBufferPointer(rebasing: head[lineStart..<trimmed]))
        }
        for i in 0..<head.count where head[i] == 0x0A {
            addLine(upTo: i)
            lineStart = i + 1
        }
        addLine(upTo: head.count)
        return lines
    }

    /// Section 3: request-line = method SP request-target SP HTTP-version
    private static func parseRequestLine(_ line: UnsafeBufferPointer<UInt8>) throws(Failure) -> (String, String, HTTPVersion) {
        let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, let method = token(parts[0]) else {
            if parts.count == 2, parts[0].allSatisfy(isTokenByte) {
                throw Failure(status: .badRequest, message: "request line has no HTTP version (HTTP/0.9 is not supported)")
            }
            throw Failure(status: .badRequest, message: "malformed request line: expected METHOD SP target SP HTTP/1.1")
        }
        guard let target = visibleASCII(parts[1]), !target.isEmpty else {
            throw Failure(status: .badRequest, message: "malformed request target")
        }
        let versionText = String(decoding: parts[2], as: UTF8.self)
        guard let version = HTTPVersion(rawValue: versionText) else {
            // Section 2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT
            let bytes = Array(parts[2])
            if bytes.count == 8, bytes.starts(with: Array("HTTP/".utf8)), isDigit(bytes[5]), bytes[6] == UInt8(ascii: "."), isDigit(bytes[7]) {
                throw Failure(status: .httpVersionNotSupported, message: "\(versionText) is not supported; use HTTP/1.1")
            }
            throw Failure(status: .badRequest, message: "malformed HTTP version")
        }
        return (method, try normalizedTarget(target, method: method), version)
    }

    /// Section 3.2: origin-form ("/path?query"), absolute-form ("http://host/path"), or "*" for OPTIONS.
    private static func normalizedTarget(_ target: String, method: String) throws(Failure) -> String {
        if target.hasPrefix("/") { return target }
        if target == "*", method == "OPTIONS" { return target }
        for scheme in ["http://", "https://"] where target.lowercased().hasPrefix(scheme) {
            let rest = target.dropFirst(scheme.count)
            guard let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) else { return "/" }
            let path = rest[slash...]
            return path.hasPrefix("?") ? "/" + path : String(path)
        }
        throw Failure(status: .badRequest, message: "malformed request target: expected a path starting with /")
    }

    /// Section 5: field-line = field-name ":" OWS field-value OWS
    private static func parseField(_ line: UnsafeBufferPointer<UInt8>) throws(Failure) -> (String, String) {
        guard let first = line.first, first != 0x20, first != 0x09 else {
            throw Failure(status: .badRequest, message: "obsolete line folding or empty header line")
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")),
              let name = token(UnsafeBufferPointer(rebasing: line[..<colon])) else {
            // Section 5.1: no whitespace is allowed between the field name and the colon.
            throw Failure(status: .badRequest, message: "malformed header field: expected name: value")
        }
        var value = line[(colon + 1)...]
        while let byte = value.first, byte == 0x20 || byte == 0x09 { value = value.dropFirst() }
        while let byte = value.last, byte == 0x20 || byte == 0x09 { value = value.dropLast() }
        // Section 5.5: field values are visible characters, spaces and tabs; NUL, CR and LF are not allowed.
        guard value.allSatisfy({ $0 == 0x09 || $0 >= 0x20 && $0 != 0x7F }) else {
            throw Failure(status: .badRequest, message: "header \(name) contains a control character")
        }
        guard let text = String(validating: value, as: UTF8.self) else {
            throw Failure(status: .badRequest, message: "header \(name) is not valid UTF-8")
        }
        return (name, text)
    }

    /// Applies the rules that depend on particular fields.
    private static func interpret(
        method: String, target: String, version: HTTPVersion, headers: HTTPHeaders, limits: Limits
    ) throws(Failure) -> HTTPRequestHead {
        let hosts = headers.values("Host")
        // Section 3.2: a server MUST respond 400 to an HTTP/1.1 request without Host, or with more than one.
        guard hosts.count == 1 || (version == .http10 && hosts.isEmpty) else {
            throw Failure(status: .badRequest, message: hosts.isEmpty ? "missing Host header" : "more than one Host header")
        }
        let transferEncodings = headers.values("Transfer-Encoding")
        let lengths = headers.values("Content-Length")
        // Section 6.1: Transfer-Encoding with Content-Length is a smuggling attempt; refuse it outright.
        if !transferEncodings.isEmpty {
            guard lengths.isEmpty else {
                throw Failure(status: .badRequest, message: "Transfer-Encoding and Content-Length together are not allowed")
            }
            throw Failure(status: .lengthRequired, message: "request bodies must be sent with Content-Length, not Transfer-Encoding")
        }
        var contentLength = 0
        if let first = lengths.first {
            // Section 6.3: differing or invalid Content-Length values are an unrecoverable error.
            guard lengths.allSatisfy({ $0 == first }), !first.isEmpty, first.utf8.allSatisfy(isDigit) else {
                throw Failure(status: .badRequest, message: "invalid Content-Length: expected one non-negative integer")
            }
            guard first.utf8.count <= 18, let length = Int(first), length <= limits.maxBodyBytes else {
                throw Failure(status: .contentTooLarge, message: "body of \(first) bytes exceeds the limit of \(limits.maxBodyBytes) bytes")
            }
            contentLength = length
        }
        let connection = headers.values("Connection").flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: [" ", "\t"]).lowercased() }
        // Section 9.3: HTTP/1.1 is persistent unless "close"; HTTP/1.0 only with "keep-alive".
        let keepAlive = version == .http11 ? !connection.contains("close") : connection.contains("keep-alive")
        let expectsContinue = version == .http11 && headers["Expect"]?.lowercased() == "100-continue"
        return HTTPRequestHead(
            method: method, target: target, version: version, headers: headers,
            contentLength: contentLength, keepAlive: keepAlive, expectsContinue: expectsContinue)
    }

    // MARK: Characters

    /// RFC 9110 section 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    private static func token(_ bytes: some Collection<UInt8>) -> String? {
        guard !bytes.isEmpty, bytes.allSatisfy(isTokenByte) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func visibleASCII(_ bytes: some Collection<UInt8>) -> String? {
        guard bytes.allSatisfy({ (0x21...0x7E).contains($0) }) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}
