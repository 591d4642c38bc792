#if canImport(Glibc)
import Glibc
#endif

/// The HTTP versions this server speaks.
public enum HTTPVersion: String, Sendable {
    case http10 = "HTTP/1.0"
    case http11 = "HTTP/1.1"
}

/// Header fields in the order received, looked up case-insensitively (RFC 9110 section 5.1).
public struct HTTPHeaders: Sendable, Equatable {
    public private(set) var fields: [(name: String, value: String)] = []

    public init(_ fields: [(name: String, value: String)] = []) {
        self.fields = fields
    }

    public mutating func append(name: String, value: String) {
        fields.append((name, value))
    }

    /// Every value of the field `name`.
    public func values(_ name: String) -> [String] {
        fields.filter { $0.name.caseInsensitiveEquals(name) }.map(\.value)
    }

    public subscript(name: String) -> String? {
        fields.first { $0.name.caseInsensitiveEquals(name) }?.value
    }

    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }
}

/// A parsed request head (RFC 9112 sections 2 to 6).
public struct HTTPRequestHead: Sendable, Equatable {
    public var method: String
    /// The request target as sent: "/path?query", or an absolute URI.
    public var target: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    /// From `Content-Length`; zero when absent.
    public var contentLength: Int
    /// Whether the connection stays open after this request (section 9.3).
    public var keepAlive: Bool
    /// Whether the client waits for `100 Continue` before sending the body.
    public var expectsContinue: Bool

    public init(method: String, target: String, version: HTTPVersion, headers: HTTPHeaders, contentLength: Int, keepAlive: Bool,
                expectsContinue: Bool) {
        (self.method, self.target, self.version, self.headers) = (method, target, version, headers)
        (self.contentLength, self.keepAlive, self.expectsContinue) = (contentLength, keepAlive, expectsContinue)
    }

    /// The path of the target without its query.
    public var path: Substring {
        target.prefix { $0 != "?" }
    }

    /// The query string after '?', if any.
    public var query: Substring? {
        guard let mark = target.firstIndex(of: "?") else { return nil }
        return target[target.index(after: mark)...]
    }

    /// The value of query parameter `name`.
    public func queryValue(_ name: String) -> Substring? {
        query?.split(separator: "&").first { $0.prefix { $0 != "=" } == name }.map { $0.drop { $0 != "=" }.dropFirst() }
    }
}

/// A complete request: head and body.
public struct HTTPRequest: Sendable {
    public var head: HTTPRequestHead
    public var body: [UInt8]
    /// How to answer this request later (see `HTTPResumer`); nil where the caller cannot wait.
    public var resumer: HTTPResumer?

    public init(head: HTTPRequestHead, body: [UInt8], resumer: HTTPResumer? = nil) {
        self.head = head
        self.body = body
        self.resumer = resumer
    }
}

/// Answers a request later. A handler that keeps its request's resumer and returns
/// `HTTPResponse.deferred` calls `answer` exactly once, from any thread; the request's event loop
/// sends it. Later requests on the same connection wait for it, so answers keep their order.
public struct HTTPResumer: Sendable {
    private let token: UInt64
    private let sink: @Sendable (UInt64, HTTPResponse) -> Void
    private let abandon: @Sendable (UInt64, @escaping @Sendable () -> Void) -> Void

    /// `sink` receives the answer with `token`, which tells it which request the answer is for;
    /// `abandon` keeps what to do if the connection closes first.
    public init(token: UInt64, sink: @escaping @Sendable (UInt64, HTTPResponse) -> Void,
                abandon: @escaping @Sendable (UInt64, @escaping @Sendable () -> Void) -> Void = { _, _ in }) {
        self.token = token
        self.sink = sink
        self.abandon = abandon
    }

    public func answer(_ response: HTTPResponse) { sink(token, response) }

    /// Runs `body` on the connection's loop if the connection closes before the answer is sent:
    /// the client has gone, so work still waiting for it can be dropped.
    public func onAbandon(_ body: @escaping @Sendable () -> Void) { abandon(token, body) }
}

extension String {
    func caseInsensitiveEquals(_ other: String) -> Bool {
        utf8.count == other.utf8.count && zip(utf8, other.utf8).allSatisfy { $0.asciiLowercased == $1.asciiLowercased }
    }
}

extension UInt8 {
    var asciiLowercased: UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self) ? self | 0x20 : self
    }
}

/// Work a thread runs once the answer it is making has been handed to its connection: when one
/// request makes another ready (a parked `/step` whose turn came), the second goes on right there,
/// after the first's answer, instead of waking another thread or delaying that answer. Event
/// loops and worker threads collect such work while they answer; any other thread runs it at once.
public enum AfterAnswer {
    private final class Queue {
        var jobs: [() -> Void] = []
        var collecting = false
    }

    /// Each thread's queue, made the first time it answers and released when it ends.
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { queue in queue.map { Unmanaged<AnyObject>.fromOpaque($0).release() } }
        return key
    }()

    private static var current: Queue? {
        pthread_getspecific(key).map { Unmanaged<Queue>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Runs `job` once the current thread's answer is out, or now when this thread makes none.
    public static func run(_ job: @escaping () -> Void) {
        guard let queue = current, queue.collecting else { return job() }
        queue.jobs.append(job)
    }

    /// Answers with `body` on this thread, then runs the work that gathered meanwhile (and what that gathers).
    static func answering(_ body: () -> Void) {
        let queue = current ?? {
            let queue = Queue()
            pthread_setspecific(key, Unmanaged.passRetained(queue).toOpaque())
            return queue
        }()
        guard !queue.collecting else { return body() }
        queue.collecting = true
        body()
        while !queue.jobs.isEmpty {
            let jobs = queue.jobs
            queue.jobs.removeAll(keepingCapacity: true)
            for job in jobs { job() }
        }
        queue.collecting = false
    }
}
