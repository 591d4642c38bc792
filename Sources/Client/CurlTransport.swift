import Locking
import CCurl
import Foundation
import Synchronization

/// One HTTP exchange as the client sends it.
public struct HTTPCall: Sendable {
    public var method: String
    public var url: String
    public var body: [UInt8]?
    public var headers: [String]
    public var timeout: Duration

    public init(method: String, url: String, body: [UInt8]? = nil, headers: [String] = [], timeout: Duration) {
        self.method = method
        self.url = url
        self.body = body
        self.headers = headers
        self.timeout = timeout
    }
}

/// A status and body as received.
public struct HTTPResult: Sendable {
    public var status: Int
    public var body: [UInt8]
}

/// Why an exchange failed before any HTTP answer arrived.
public struct TransportError: Error, Sendable, CustomStringConvertible {
    public let url: String
    public let code: Int
    public let message: String

    /// Failures where the request cannot have reached the server's handler, or the answer
    /// was lost on the way back: worth retrying for a safe request.
    public var isConnectionFailure: Bool {
        [CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT, CURLE_SEND_ERROR,
         CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE].map { Int($0.rawValue) }.contains(code)
    }

    public var description: String { "\(url): \(message) (curl error \(code))" }
}

/// HTTP over libcurl's multi interface: one thread drives every transfer, so many requests
/// wait on the network at once while connections are kept alive and reused across calls.
///
/// That thread is also a task executor (`executor`): code that runs under
/// `withTaskExecutorPreference(transport.executor)` runs on it, between transfers, so a request
/// and its answer cost no hop between threads (each hop wakes a thread, which on a small machine
/// costs more than a loopback round trip).
public final class CurlTransport: Sendable {
    private let engine: Engine

    /// The thread that drives the transfers, as a task executor.
    public var executor: any TaskExecutor { engine }

    /// `maxConnections` bounds the requests in flight; more are queued by libcurl. While a transfer
    /// is in flight the engine looks for its answer without sleeping for up to `busyPoll` (zero:
    /// it sleeps at once): on a virtual machine waking a sleeping thread costs about 0.1 ms, far
    /// more than a small request takes on loopback.
    public init(maxConnections: Int = 16, busyPoll: Duration = .microseconds(200)) {
        Self.globalInit
        engine = Engine(maxConnections: maxConnections, busyPoll: busyPoll)
        let engine = engine
        let thread = Thread { engine.run() }
        thread.name = "gradserve-curl"
        thread.start()
    }

    deinit { engine.stop() }

    /// libcurl's global state must be set up once, before any other thread uses it.
    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    public func perform(_ call: HTTPCall) async throws -> HTTPResult {
        try await withCheckedThrowingContinuation { continuation in
            engine.submit(Transfer(call: call, continuation: continuation))
        }
    }
}

/// One transfer's buffers, kept alive until libcurl is done with them.
private final class Transfer: @unchecked Sendable {
    let call: HTTPCall
    let continuation: CheckedContinuation<HTTPResult, any Error>
    var response: [UInt8] = []
    /// The easy handle, once the engine has set it up: its answer's length sizes `response`.
    var handle: UnsafeMutableRawPointer?
    /// Headers of its own, when the engine's cache of header lists is full.
    var headerList: UnsafeMutablePointer<curl_slist>?
    var body: UnsafeMutableRawBufferPointer?
    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))

    init(call: HTTPCall, continuation: CheckedContinuation<HTTPResult, any Error>) {
        self.call = call
        self.continuation = continuation
        errorBuffer[0] = 0
    }

    deinit {
        curl_slist_free_all(headerList)
        body?.deallocate()
        errorBuffer.deallocate()
    }

    /// Appends received bytes; called by libcurl on the engine thread.
    static let write: gs_curl_write_callback = { data, size, count, userdata in
        let transfer = Unmanaged<Transfer>.fromOpaque(userdata!).takeUnretainedValue()
        if transfer.response.capacity == 0, let handle = transfer.handle {
            // Sized once from Content-Length (-1 when there is none), not grown a piece at a time;
            // at most 256 MiB before the bytes arrive, whatever a server announces.
            var length: curl_off_t = -1
            if gs_easy_getinfo_off(handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) == CURLE_OK, length > 0 {
                transfer.response.reserveCapacity(Int(min(length, 256 << 20)))
            }
        }
        transfer.response.append(contentsOf: UnsafeRawBufferPointer(start: data, count: size * count))
        return size * count
    }
}

/// The multi handle and the thread that drives it, which also runs the jobs of tasks that prefer
/// it as their executor. Other threads only touch `queue`, `jobs`, `queued` and `stopped`.
private final class Engine: @unchecked Sendable, TaskExecutor {
    private let multi: UnsafeMutableRawPointer
    private let queue = Locked([] as [Transfer])
    private let jobs = Locked([] as [UnownedJob])
    /// Counts what was put in `queue` and `jobs` since the engine last took them: while it polls
    /// for answers, the engine reads this instead of taking both locks on every turn.
    private let queued = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    /// The engine thread's id, once it runs: work queued from that thread needs no wakeup.
    private let thread = Atomic<UInt>(0)
    private var active: [UnsafeMutableRawPointer: Transfer] = [:]
    private var idleHandles: [UnsafeMutableRawPointer] = []
    /// Header lists by their lines: a client sends the same few on every request.
    private var headerLists: [[String]: UnsafeMutablePointer<curl_slist>] = [:]
    private var poll: BusyPoll

    init(maxConnections: Int, busyPoll: Duration) {
        poll = BusyPoll(window: busyPoll)
        multi = curl_multi_init()
        gs_multi_setopt_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max(1, maxConnections))
        gs_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, max(1, maxConnections))
    }

    func submit(_ transfer: Transfer) {
        queue.withLock { $0.append(transfer) }
        queued.add(1, ordering: .releasing)
        wakeUnlessOnEngine()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        jobs.withLock { $0.append(job) }
        queued.add(1, ordering: .releasing)
        wakeUnlessOnEngine()
    }

    private var onEngine: Bool { thread.load(ordering: .relaxed) == UInt(bitPattern: Int(bitPattern: pthread_self())) }

    /// The engine thread checks both queues before it waits again; only another thread must wake it.
    private func wakeUnlessOnEngine() {
        if !onEngine { curl_multi_wakeup(multi) }
    }

    func stop() {
        stopped.store(true, ordering: .releasing)
        curl_multi_wakeup(multi)
    }

    func run() {
        thread.store(UInt(bitPattern: Int(bitPattern: pthread_self())), ordering: .relaxed)
        while !stopped.load(ordering: .acquiring) {
            // What was queued before the count was taken is in the queues now; what comes later counts again.
            if queued.exchange(0, ordering: .acquiringAndReleasing) > 0 {
                for job in jobs.takeAll() {
                    job.runSynchronously(on: asUnownedTaskExecutor())
                }
                for transfer in queue.takeAll() {
                    start(transfer)
                    poll.beginWait(at: BusyPoll.now())
                }
            }
            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            if finishCompleted() > 0 {
                // The wait for the next answer starts now.
                let now = BusyPoll.now()
                poll.endWait(at: now)
                poll.beginWait(at: now)
            }
            // Jobs made runnable by the answers just delivered run before the next wait.
            guard queued.load(ordering: .acquiring) == 0 else { continue }
            var ready: Int32 = 0
            let polling = !active.isEmpty && poll.shouldPoll(at: BusyPoll.now())
            curl_multi_poll(multi, nil, 0, polling ? 0 : 1000, &ready)
        }
        for (handle, transfer) in active {
            curl_multi_remove_handle(multi, handle)
            curl_easy_cleanup(handle)
            transfer.continuation.resume(throwing: TransportError(url: transfer.call.url, code: -1, message: "client shut down"))
        }
        // Tasks still waiting on this executor finish: their transfers, in flight or asked for now, fail.
        while case let pending = jobs.takeAll(), !pending.isEmpty || !queue.withLock({ $0.isEmpty }) {
            for transfer in queue.takeAll() {
                transfer.continuation.resume(throwing: TransportError(url: transfer.call.url, code: -1, message: "client shut down"))
            }
            for job in pending { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
        idleHandles.forEach { curl_easy_cleanup($0) }
        headerLists.values.forEach { curl_slist_free_all($0) }
        curl_multi_cleanup(multi)
    }

    /// The list of `lines` for libcurl, made once per distinct set (a client sends one or two);
    /// past 64 sets, each transfer gets a list of its own, freed with it.
    private func headerList(_ lines: [String], for transfer: Transfer) -> UnsafeMutablePointer<curl_slist>? {
        if let list = headerLists[lines] { return list }
        var list: UnsafeMutablePointer<curl_slist>?
        for line in lines { list = curl_slist_append(list, line) }
        if headerLists.count < 64 { headerLists[lines] = list } else { transfer.headerList = list }
        return list
    }

    private func start(_ transfer: Transfer) {
        let handle = idleHandles.popLast() ?? curl_easy_init()!
        curl_easy_reset(handle)
        let call = transfer.call
        gs_easy_setopt_string(handle, CURLOPT_URL, call.url)
        // No signals from libcurl's resolver timeouts in a multi-threaded process.
        gs_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        gs_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(call.timeout.components.seconds * 1000 + call.timeout.components.attoseconds / 1_000_000_000_000_000))
        gs_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, 5000)
        gs_easy_setopt_long(handle, CURLOPT_TCP_NODELAY, 1)
        gs_easy_setopt_pointer(handle, CURLOPT_ERRORBUFFER, transfer.errorBuffer)
        gs_easy_setopt_write_callback(handle, CURLOPT_WRITEFUNCTION, Transfer.write)
        gs_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(transfer).toOpaque())
        // An empty Expect stops libcurl from waiting for "100 Continue" before large bodies.
        var headers = ["Expect:"] + call.headers
        if call.body != nil { headers.append("Content-Type: application/json") }
        gs_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList(headers, for: transfer))
        if let body = call.body {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(body.count, 1), alignment: 1)
            body.withUnsafeBytes { buffer.copyMemory(from: $0) }
            transfer.body = buffer
            gs_easy_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            gs_easy_setopt_pointer(handle, CURLOPT_POSTFIELDS, buffer.baseAddress)
            if call.method != "POST" { gs_easy_setopt_string(handle, CURLOPT_CUSTOMREQUEST, call.method) }
        } else if call.method == "GET" {
            gs_easy_setopt_long(handle, CURLOPT_HTTPGET, 1)
        } else {
            gs_easy_setopt_string(handle, CURLOPT_CUSTOMREQUEST, call.method)
        }
        transfer.handle = handle
        active[handle] = transfer
        curl_multi_add_handle(multi, handle)
    }

    /// Hands finished transfers their results; returns how many there were.
    @discardableResult
    private func finishCompleted() -> Int {
        var finished = 0
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let handle = message.pointee.easy_handle,
                  let transfer = active.removeValue(forKey: handle) else { continue }
            let code = message.pointee.data.result
            var status = 0
            gs_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
            curl_multi_remove_handle(multi, handle)
            idleHandles.append(handle)
            finished += 1
            if code == CURLE_OK {
                transfer.continuation.resume(returning: HTTPResult(status: status, body: transfer.response))
            } else {
                let detail = String(cString: transfer.errorBuffer)
                let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
                transfer.continuation.resume(throwing: TransportError(url: transfer.call.url, code: Int(code.rawValue), message: message))
            }
        }
        return finished
    }
}
