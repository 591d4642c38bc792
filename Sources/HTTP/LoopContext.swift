#if canImport(Glibc)
import Glibc
#endif

/// What one event loop shares with its connections: the time, limits, and scratch space.
final class LoopContext {
    let limits: HTTPParser.Limits
    let timer: ConnectionTimer
    /// Milliseconds on the loop's clock, refreshed once per loop iteration.
    private(set) var now: Int64 = 0
    /// The monotonic clock, or the one a test controls.
    private let clock: () -> Int64
    /// The `Date` header value (RFC 9110 section 5.6.7), refreshed each second.
    private(set) var date = ""
    private var dateSecond = -1
    var isShuttingDown = false
    /// Requests with bodies at least this large are handled on a worker thread, unless expected
    /// to take less than `inlineBudgetNanoseconds`.
    let offloadBodyBytes: Int
    let inlineBudgetNanoseconds: Int64
    /// Hands a request and its connection's token to a worker thread; set by the loop. False
    /// when the workers' queue is full: the request was not taken.
    var offload: (HTTPRequest, UInt64) -> Bool = { _, _ in false }
    /// How a request on the connection with this token is answered later (`HTTPResumer`); set by the loop.
    var resumer: (UInt64) -> HTTPResumer? = { _ in nil }
    /// Where `recv` writes before bytes are appended to a connection's buffer.
    let receiveBuffer: UnsafeMutableRawBufferPointer

    init(configuration: HTTPServer.Configuration, clock: @escaping () -> Int64 = LoopContext.monotonicMilliseconds) {
        limits = configuration.limits
        timer = ConnectionTimer(requestTimeout: configuration.requestTimeout.milliseconds,
                                idleTimeout: configuration.idleTimeout.milliseconds)
        self.clock = clock
        offloadBodyBytes = configuration.offloadBodyBytes
        inlineBudgetNanoseconds = configuration.inlineBudget.nanoseconds
        receiveBuffer = .allocate(byteCount: 64 * 1024, alignment: 16)
        tick()
    }

    deinit { receiveBuffer.deallocate() }

    static func monotonicMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    func tick() {
        now = clock()
        var wall = time(nil)
        if Int(wall) != dateSecond {
            dateSecond = Int(wall)
            var parts = tm()
            gmtime_r(&wall, &parts)
            var text = [CChar](repeating: 0, count: 64)
            let count = strftime(&text, text.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
            date = String(decoding: text[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
