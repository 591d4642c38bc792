#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Locking
import Logging
import Synchronization

/// One thread's share of the server: its own listener on the shared port, its own epoll,
/// and the connections it accepted. Nothing here is touched by another thread except `stop()`.
final class EventLoop: @unchecked Sendable {
    private let listener: Int32
    private let epoll: Epoll
    private let handler: any HTTPHandler
    private let context: LoopContext
    private let logger: Logger
    private let shutdownGrace: Int64
    private let busyPoll: Duration
    /// Shared by the server's loops: one of them at a time may poll.
    private let pollSlot: BusyPollSlot
    /// The server's first loop, where sequenced connections go (`HTTPResponse.isSequenced`); nil
    /// on that loop itself. Set before the loops run.
    var first: EventLoop?
    /// Connections by file descriptor.
    private var connections: [Int32: Connection] = [:]
    private var nextGeneration: UInt64 = 0
    private var acceptPausedUntil: Int64?
    private var nextSweep: Int64 = 0
    private let stopRequested = Atomic<Bool>(false)
    /// Answers that worker threads computed, and deferred answers (`HTTPResumer`), by connection
    /// token, waiting for this loop.
    private let finished = Locked<[Answer]>([])
    /// With how long a worker took to make it (nil for a deferred answer).
    private typealias Answer = (token: UInt64, response: HTTPResponse, handlingTime: Int64?)
    /// Connections another loop handed over (`adopt`), waiting for this loop.
    private let adopted = Locked<[Connection]>([])
    /// For deferred requests, by connection token: what to do if the connection closes before the answer.
    private let abandoned = Locked<[UInt64: @Sendable () -> Void]>([:])

    private static let listenerToken: UInt64 = .max - 1

    init(listener: Int32, handler: any HTTPHandler, workers: WorkerPool, pollSlot: BusyPollSlot,
         configuration: HTTPServer.Configuration, logger: Logger) throws {
        self.listener = listener
        self.handler = handler
        self.logger = logger
        epoll = try Epoll()
        context = LoopContext(configuration: configuration)
        shutdownGrace = configuration.shutdownGrace.milliseconds
        busyPoll = configuration.busyPoll
        self.pollSlot = pollSlot
        try epoll.add(listener, token: Self.listenerToken, readable: true, writable: false)
        let (handler, epoll, finished) = (handler, epoll, finished)
        context.offload = { request, token in
            workers.submit {
                AfterAnswer.answering {
                    let started = BusyPoll.now()
                    let response = handler.handle(request)
                    guard !response.isDeferred else { return }
                    let elapsed = BusyPoll.now() - started
                    finished.withLock { $0.append((token, response, elapsed)) }
                    epoll.wake()
                }
            }
        }
        let abandoned = abandoned
        let answer: @Sendable (UInt64, HTTPResponse) -> Void = { token, response in
            abandoned.withLock { _ = $0.removeValue(forKey: token) }
            finished.withLock { $0.append((token, response, nil)) }
            epoll.wake()
        }
        let abandon: @Sendable (UInt64, @escaping @Sendable () -> Void) -> Void = { token, body in abandoned.withLock { $0[token] = body } }
        context.resumer = { HTTPResumer(token: $0, sink: answer, abandon: abandon) }
    }

    /// Takes over `connection` from another loop, which no longer touches it; safe from any thread.
    private func adopt(_ connection: Connection) {
        adopted.withLock { $0.append(connection) }
        epoll.wake()
    }

    /// Asks the loop to stop accepting and to finish; safe from any thread.
    func stop() {
        stopRequested.store(true, ordering: .releasing)
        epoll.wake()
    }

    /// Runs until stopped and every connection has finished or the grace period ran out.
    func run() {
        var stopDeadline: Int64?
        // A client that got an answer often sends its next request within microseconds: the loop
        // looks for it without sleeping for a while, and saves a wake-up (`Configuration.busyPoll`).
        var poll = BusyPoll(window: busyPoll)
        var holdsSlot = false
        defer { if holdsSlot { pollSlot.release() } }
        while true {
            let polling = shouldPoll(poll, holdingSlot: &holdsSlot)
            let timeout: Int32 = polling ? 0 : connections.isEmpty && stopDeadline == nil ? 1000 : 250
            var first = true
            let count = epoll.wait(timeout: timeout) { token, readable, writable, hangup in
                if first { poll.endWait(at: BusyPoll.now()); first = false }
                AfterAnswer.answering { event(token: token, readable: readable, writable: writable, hangup: hangup) }
            }
            if count > 0 {
                poll.beginWait(at: BusyPoll.now())
            } else if polling {
                continue  // Nothing came: look again. The clock and deadlines wait for the sleep.
            }
            context.tick()
            if stopDeadline == nil, stopRequested.load(ordering: .acquiring) {
                stopDeadline = context.now + shutdownGrace
                beginShutdown()
            }
            if context.now >= nextSweep || stopDeadline != nil {
                sweep()
                nextSweep = context.now + 1000
            }
            if let stopDeadline, connections.isEmpty || context.now >= stopDeadline { break }
        }
        for connection in connections.values { connection.close() }
        connections.removeAll()
        for connection in adopted.takeAll() { connection.close() }
        close(listener)
    }

    /// Whether to look for events without sleeping now: when `poll` says so and this loop holds
    /// the server's polling slot (taken here if free). A loop about to sleep frees the slot.
    private func shouldPoll(_ poll: BusyPoll, holdingSlot holds: inout Bool) -> Bool {
        if poll.shouldPoll(at: BusyPoll.now()) {
            if !holds { holds = pollSlot.take() }
            return holds
        }
        if holds {
            pollSlot.release()
            holds = false
        }
        return false
    }

    private func event(token: UInt64, readable: Bool, writable: Bool, hangup: Bool) {
        switch token {
        case Epoll.wakeToken:
            context.tick()
            for connection in adopted.takeAll() { take(connection) }
            for answer in finished.takeAll() {
                let fd = Int32(truncatingIfNeeded: answer.token & 0xFFFF_FFFF)
                guard let connection = connections[fd], connection.token == answer.token else { continue }
                connection.complete(with: answer.response, handlingTime: answer.handlingTime, handler: handler, context: context)
                update(connection)
                moveIfSequenced(connection)
            }
        case Self.listenerToken:
            acceptPending()
        default:
            let fd = Int32(truncatingIfNeeded: token & 0xFFFF_FFFF)
            guard let connection = connections[fd], connection.token == token else { return }
            context.tick()
            if writable {
                connection.flush(context: context)
                // Requests held back by the output's high-water mark go on once it is below it.
                connection.processHeldBack(handler: handler, context: context)
            }
            if (readable || hangup) && !connection.isClosed {
                connection.readAndProcess(handler: handler, context: context)
            }
            // Hang-up or error: the peer can take no answer, and the event would repeat until closed.
            if hangup { connection.close() }
            // A client that stopped sending while its answer was deferred has gone (or will read
            // nothing more): the connection closes, and `update` tells the handler (`onAbandon`).
            if connection.inputClosed, connection.isHandling, abandoned.withLock({ $0[connection.token] != nil }) { connection.close() }
            update(connection)
            moveIfSequenced(connection)
        }
    }

    /// Hands a sequenced connection (`HTTPResponse.isSequenced`) to the first loop once it is idle,
    /// so nothing in flight moves with it. (Following whichever loop answered a parked request
    /// instead, a pipelined trainer's connections, spread over the loops by the kernel, moved both
    /// ways and met on one loop only by chance.)
    private func moveIfSequenced(_ connection: Connection) {
        guard let first, connection.isSequenced, connection.isIdle, !connection.isClosed, !context.isShuttingDown else { return }
        epoll.remove(connection.fd)
        connections[connection.fd] = nil
        first.adopt(connection)
    }

    /// A connection handed over by another loop: watched from now on, unless this loop is stopping.
    private func take(_ connection: Connection) {
        guard !context.isShuttingDown else { return connection.close() }
        do {
            try epoll.add(connection.fd, token: connection.token, readable: connection.wantsRead, writable: connection.wantsWrite)
            connection.registeredInterest = (connection.wantsRead, connection.wantsWrite)
            connections[connection.fd] = connection
        } catch {
            connection.close()
        }
    }

    private func acceptPending() {
        guard acceptPausedUntil == nil, !context.isShuttingDown else { return }
        for _ in 0..<256 {
            let fd: Int32
            do {
                guard let accepted = try Socket.accept(listener) else { return }
                fd = accepted
            } catch {
                // Out of descriptors or memory: stop accepting for a moment instead of spinning.
                logger.warning("accept failed, pausing for 100 ms", metadata: ["error": "\(error)"])
                acceptPausedUntil = context.now + 100
                epoll.modify(listener, token: Self.listenerToken, readable: false, writable: false)
                return
            }
            nextGeneration += 1
            let token = nextGeneration << 32 | UInt64(UInt32(bitPattern: fd))
            let connection = Connection(fd: fd, token: token, now: context.now)
            do {
                try epoll.add(fd, token: token, readable: true, writable: false)
                connections[fd] = connection
            } catch {
                connection.close()
            }
        }
    }

    /// Brings the epoll interest of a connection in line with what it wants, or forgets it once closed.
    private func update(_ connection: Connection) {
        if connection.isClosed {
            connections[connection.fd] = nil
            abandoned.withLock { $0.removeValue(forKey: connection.token) }?()
            return
        }
        let interest = (read: connection.wantsRead, write: connection.wantsWrite)
        guard interest != connection.registeredInterest else { return }
        epoll.modify(connection.fd, token: connection.token, readable: interest.read, writable: interest.write)
        connection.registeredInterest = interest
    }

    private func sweep() {
        if let until = acceptPausedUntil, context.now >= until, !context.isShuttingDown {
            acceptPausedUntil = nil
            epoll.modify(listener, token: Self.listenerToken, readable: true, writable: false)
        }
        for connection in Array(connections.values) {
            connection.checkDeadlines(handler: handler, context: context)
            update(connection)
        }
    }

    private func beginShutdown() {
        context.isShuttingDown = true
        epoll.remove(listener)
        for connection in Array(connections.values) where connection.isIdle {
            connection.close()
            update(connection)
        }
    }
}
