/// A response to write: status, extra header fields and a body. `Content-Length`,
/// `Content-Type`, `Date` and `Connection` are added when it is serialized.
public struct HTTPResponse: Sendable {
    public var status: HTTPStatus
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    public var contentType: String
    /// Not an answer: the handler answers later, through the request's `HTTPResumer`.
    public private(set) var isDeferred = false
    /// The request is one of a series that must be handled one after another, in order, whoever
    /// sends them (a pipelined trainer's steps, on as many connections). The connection then moves
    /// to the server's first event loop once idle, so that the series meets on one thread, which
    /// takes its requests in turn without waking another thread to answer one.
    public var isSequenced = false

    public init(status: HTTPStatus = .ok, headers: [(name: String, value: String)] = [], body: [UInt8],
                contentType: String = "application/json") {
        self.status = status
        self.headers = headers
        self.body = body
        self.contentType = contentType
    }

    /// What a handler returns when it will answer through the request's resumer.
    public static var deferred: HTTPResponse {
        var response = HTTPResponse(status: .ok, body: [])
        response.isDeferred = true
        return response
    }

    /// Appends the response as HTTP/1.1 bytes; without `includeBody` (HEAD) the body is left out
    /// but `Content-Length` still gives its size (RFC 9110 section 9.3.2).
    func serialize(into buffer: inout [UInt8], keepAlive: Bool, date: String, includeBody: Bool = true) {
        buffer.append(contentsOf: "HTTP/1.1 \(status.code) \(status.reason)\r\n".utf8)
        buffer.append(contentsOf: "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\nDate: \(date)\r\n".utf8)
        if !keepAlive { buffer.append(contentsOf: "Connection: close\r\n".utf8) }
        for (name, value) in headers { buffer.append(contentsOf: "\(name): \(value)\r\n".utf8) }
        buffer.append(contentsOf: "\r\n".utf8)
        if includeBody { buffer.append(contentsOf: body) }
    }
}

/// Handles one complete request. Called on event-loop threads and worker threads, so it must
/// be safe to call from several threads at once.
public protocol HTTPHandler: Sendable {
    func handle(_ request: HTTPRequest) -> HTTPResponse
    /// The answer to a request refused before it reached `handle` (malformed, too large, timed out).
    func failureResponse(status: HTTPStatus, message: String) -> HTTPResponse
}
