#if canImport(Glibc)
import Glibc
#endif
import Locking

/// One client connection: bytes in, requests parsed in order (pipelining included),
/// responses out, and the deadlines that guard each phase. Owned by one event loop.
final class Connection {
    enum Phase {
        /// Nothing received of the next request.
        case idle
        /// Part of a head has arrived; the request started at `started`.
        case head(started: Int64)
        /// The head is parsed; waiting for `head.contentLength` body bytes.
        case body(HTTPRequestHead, started: Int64)
        /// The request is with a worker thread, or its answer was deferred; later requests wait,
        /// so answers keep their order.
        case handling(HTTPRequestHead)
        /// The last response is out and our side is shut; reading and dropping what the client
        /// still sends, so that the close does not reset the response away (a "lingering close").
        case lingering(until: Int64)
    }

    let fd: Int32
    let token: UInt64
    private(set) var phase = Phase.idle
    private var input: [UInt8] = []
    private var inputStart = 0
    /// A large request body being received (`length` bytes in all): filled straight from the
    /// socket, then handed to the request as it is, not copied out of `input`.
    private var largeBody: (bytes: [UInt8], length: Int)?
    /// Bytes to send: heads and small bodies, copied in; `outputStart` of them are out.
    private var output: [UInt8] = []
    private var outputStart = 0
    /// A large body that follows all of `output`, sent from the buffer its handler wrote instead
    /// of a copy; `bodySent` of its bytes are out.
    private var outputBody: [UInt8] = []
    private var bodySent = 0
    /// The last answer was `HTTPResponse.isSequenced`.
    private(set) var isSequenced = false
    /// Requests may wait in `input` because the output reached its high-water mark.
    private var heldBack = false
    /// Once set, no further request is read; the connection closes when the output is written.
    private(set) var closeAfterWrite = false
    private(set) var inputClosed = false
    private(set) var isClosed = false
    private var lastActivity: Int64
    private var lastWriteProgress: Int64
    /// The target path, body size and handling time of this connection's last request with a
    /// large body (see `LoopContext.inlineBudgetNanoseconds`), when known.
    private var lastLarge: (path: Substring, bytes: Int, nanoseconds: Int64)?

    /// Stop reading requests while this much output waits for a slow reader. (Also how much work
    /// one pipelining connection gets done per turn of its loop, about one large answer.)
    private static let outputHighWater = 1024 * 1024
    private static let keptCapacity = 128 * 1024
    /// Bodies this large are received into, and sent from, their own buffers (`largeBody`,
    /// `outputBody`), not copied through `input` and `output`.
    private static let separateBodyBytes = 16 * 1024
    /// The most a large body's buffer reserves before its bytes arrive.
    private static let bodyReservation = 4 * 1024 * 1024
    private static let lingerMilliseconds: Int64 = 2000

    init(fd: Int32, token: UInt64, now: Int64) {
        self.fd = fd
        self.token = token
        lastActivity = now
        lastWriteProgress = now
    }

    /// What the loop's epoll watches for on this connection (read, write), so that an unchanged
    /// interest costs no `epoll_ctl`. A new connection is watched for reading.
    var registeredInterest = (read: true, write: false)

    var hasPendingOutput: Bool { pendingOutput > 0 }
    private var pendingOutput: Int { output.count - outputStart + outputBody.count - bodySent }
    var wantsRead: Bool {
        if case .lingering = phase { return !inputClosed }
        return !inputClosed && !closeAfterWrite && pendingOutput < Self.outputHighWater
    }
    var wantsWrite: Bool { hasPendingOutput || heldBack }
    /// True when the connection holds nothing in flight: closing it loses nothing.
    var isIdle: Bool {
        if case .idle = phase { return !hasPendingOutput && inputStart == input.count }
        return false
    }

    // MARK: Reading

    /// Reads what the socket has and answers every complete request in it.
    func readAndProcess(handler: some HTTPHandler, context: LoopContext) {
        var received = 0
        // Bounded, so that one fast sender cannot starve the other connections of this loop.
        reading: while received < 4 * context.receiveBuffer.count {
            if isReceivingBody {
                // The rest of a large body, and nothing past it: that stays for `input`.
                switch receiveBody(upTo: 4 * context.receiveBuffer.count - received) {
                case .bytes(let count):
                    received += count
                    continue reading
                case .wouldBlock:
                    break reading
                case .closed:
                    inputClosed = true
                    break reading
                }
            }
            switch Socket.receive(fd, into: context.receiveBuffer) {
            case .bytes(let count):
                received += count
                input.append(contentsOf: context.receiveBuffer.prefix(count))
                if count < context.receiveBuffer.count { break reading }
            case .wouldBlock:
                break reading
            case .closed:
                inputClosed = true
                break reading
            }
        }
        if received > 0 { lastActivity = context.now }
        if isLingering {
            inputStart = input.count
            compactInput()
            if inputClosed { close() }
            return
        }
        process(handler: handler, context: context)
        if inputClosed, !hasPendingOutput, !isHandling {
            // The client finished sending; whatever it left unfinished can never complete.
            close()
        }
    }

    private var isReceivingBody: Bool { largeBody.map { $0.bytes.count < $0.length } ?? false }

    /// Receives into the spare room of `largeBody`, at most `limit` bytes and not past its
    /// length. The room grows twofold when full: a head alone reserves no more than
    /// `bodyReservation`, whatever length it claims.
    private func receiveBody(upTo limit: Int) -> Socket.IOResult {
        let length = largeBody!.length
        if largeBody!.bytes.count == largeBody!.bytes.capacity { largeBody!.bytes.reserveCapacity(min(length, 2 * largeBody!.bytes.capacity)) }
        var result = Socket.IOResult.wouldBlock
        let room = min(min(largeBody!.bytes.capacity, length) - largeBody!.bytes.count, limit)
        largeBody!.bytes.append(addingCapacity: room) { output in
            output.withUnsafeMutableBufferPointer { buffer, initialized in
                result = Socket.receive(fd, into: UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[initialized...]))
                if case .bytes(let count) = result { initialized += count }
            }
        }
        return result
    }

    /// Goes on with requests held back when the output reached its high-water mark (a pipelining
    /// client's later requests), once the output is below it again.
    func processHeldBack(handler: some HTTPHandler, context: LoopContext) {
        guard heldBack, !isClosed, pendingOutput < Self.outputHighWater else { return }
        process(handler: handler, context: context)
    }

    /// Parses and answers buffered requests in order while output space allows. Stopped by the
    /// output's high-water mark, it goes on at the loop's next turn (`wantsWrite`), after the other
    /// connections had theirs.
    func process(handler: some HTTPHandler, context: LoopContext) {
        heldBack = false
        while !closeAfterWrite {
            guard pendingOutput < Self.outputHighWater else {
                heldBack = true
                break
            }
            guard step(handler, context) else { break }
        }
        compactInput()
        flush(context: context)
    }

    /// Advances the request in progress by what is buffered; false when it needs more bytes.
    private func step(_ handler: some HTTPHandler, _ context: LoopContext) -> Bool {
        switch phase {
        case .idle, .head:
            guard inputStart < input.count else {
                phase = .idle
                return false
            }
            let result = input.withUnsafeBytes {
                HTTPParser.parseHead(UnsafeRawBufferPointer(rebasing: $0[inputStart...]), limits: context.limits)
            }
            switch result {
            case .incomplete:
                if case .idle = phase { phase = .head(started: context.now) }
                return false
            case .failure(let failure):
                respond(handler.failureResponse(status: failure.status, message: failure.message), keepAlive: false, context: context)
                return false
            case .head(let head, let length):
                inputStart += length
                guard HTTPParser.knownMethods.contains(head.method) else {
                    respond(handler.failureResponse(status: .notImplemented, message: "method \(head.method) is not implemented"),
                            keepAlive: false, context: context)
                    return false
                }
                if head.expectsContinue, input.count - inputStart < head.contentLength {
                    // RFC 9110 section 10.1.1: tell the client to go on and send the body.
                    appendOutput("HTTP/1.1 100 Continue\r\n\r\n".utf8)
                }
                phase = .body(head, started: phaseStart ?? context.now)
                if head.contentLength >= Self.separateBodyBytes, input.count - inputStart < head.contentLength {
                    // What has arrived of a large body moves to its own buffer; the rest is read into it.
                    var body: [UInt8] = []
                    body.reserveCapacity(min(head.contentLength, max(input.count - inputStart, Self.bodyReservation)))
                    body.append(contentsOf: input[inputStart...])
                    inputStart = input.count
                    largeBody = (body, head.contentLength)
                }
                return true
            }
        case .body(let head, _):
            let body: [UInt8]
            if let large = largeBody {
                guard large.bytes.count == large.length else { return false }
                body = large.bytes
                largeBody = nil
            } else {
                guard input.count - inputStart >= head.contentLength else { return false }
                body = Array(input[inputStart..<(inputStart + head.contentLength)])
                inputStart += head.contentLength
            }
            let request = HTTPRequest(head: head, body: body, resumer: context.resumer(token))
            let large = head.contentLength >= context.offloadBodyBytes
            if large, !isQuick(head, context: context) {
                // A large body means real work: leave the loop free for the other connections.
                phase = .handling(head)
                lastLarge = nil  // measured by the worker, told with the answer (`complete`)
                if context.offload(request, token) { return false }
                phase = .idle
                var busy = handler.failureResponse(status: .serviceUnavailable, message: "the server is busy with other large requests; retry shortly")
                busy.headers.append(("Retry-After", "1"))
                finish(head, with: busy, context: context)
                return true
            }
            phase = .idle
            let started = large ? BusyPoll.now() : 0
            let response = handler.handle(request)
            if large { lastLarge = (head.path, head.contentLength, BusyPoll.now() - started) }
            if response.isDeferred {
                phase = .handling(head)
                return false
            }
            finish(head, with: response, context: context)
            return true
        case .handling, .lingering:
            return false
        }
    }

    /// Whether a request with a large body is expected to take less than the loop's inline budget,
    /// from the rate of this connection's last large request to the same path: a trainer's next
    /// step is like its last. Answered on the loop, it costs no handoff to a worker and back (two
    /// thread wake-ups, a large share of a short request on a small machine).
    private func isQuick(_ head: HTTPRequestHead, context: LoopContext) -> Bool {
        guard let lastLarge, lastLarge.bytes > 0, lastLarge.path == head.path else { return false }
        let predicted = Double(lastLarge.nanoseconds) * Double(head.contentLength) / Double(lastLarge.bytes)
        return predicted < Double(context.inlineBudgetNanoseconds)
    }

    /// Queues the answer to `head`.
    private func finish(_ head: HTTPRequestHead, with response: HTTPResponse, context: LoopContext) {
        isSequenced = response.isSequenced
        respond(response, keepAlive: head.keepAlive && !context.isShuttingDown, context: context,
                includeBody: head.method != "HEAD")
    }

    /// The answer a worker thread computed (in `handlingTime` nanoseconds), or a deferred answer,
    /// for the request in `.handling`; then the next requests.
    func complete(with response: HTTPResponse, handlingTime: Int64?, handler: some HTTPHandler, context: LoopContext) {
        guard case .handling(let head) = phase, !isClosed else { return }
        phase = .idle
        if let handlingTime, head.contentLength >= context.offloadBodyBytes { lastLarge = (head.path, head.contentLength, handlingTime) }
        finish(head, with: response, context: context)
        process(handler: handler, context: context)
        if inputClosed, !hasPendingOutput { close() }
    }

    private var phaseStart: Int64? {
        if case .head(let started) = phase { return started }
        return nil
    }

    private func compactInput() {
        if inputStart == input.count {
            input.removeAll(keepingCapacity: input.capacity <= Self.keptCapacity)
            inputStart = 0
        } else if inputStart > input.count / 2 {
            input.removeFirst(inputStart)
            inputStart = 0
        }
    }

    // MARK: Writing

    private func respond(_ response: HTTPResponse, keepAlive: Bool, context: LoopContext, includeBody: Bool = true) {
        if !hasPendingOutput { lastWriteProgress = context.now }
        mergeBody()
        let separate = includeBody && response.body.count >= Self.separateBodyBytes
        response.serialize(into: &output, keepAlive: keepAlive, date: context.date, includeBody: includeBody && !separate)
        if separate { outputBody = response.body }
        if !keepAlive { closeAfterWrite = true }
    }

    private func appendOutput(_ bytes: some Sequence<UInt8>) {
        mergeBody()
        output.append(contentsOf: bytes)
    }

    /// Output after a separate body must come after it: what is left of the body is copied in
    /// first. (Rare: reading stops while a large answer waits, until it is nearly out.)
    private func mergeBody() {
        guard !outputBody.isEmpty else { return }
        output.append(contentsOf: outputBody[bodySent...])
        outputBody = []
        bodySent = 0
    }

    /// Writes as much pending output as the socket takes.
    func flush(context: LoopContext) {
        while hasPendingOutput {
            let result = output.withUnsafeBytes { head in
                outputBody.withUnsafeBytes { body in
                    Socket.send(fd, UnsafeRawBufferPointer(rebasing: head[outputStart...]), then: UnsafeRawBufferPointer(rebasing: body[bodySent...]))
                }
            }
            switch result {
            case .bytes(let count):
                let fromOutput = min(count, output.count - outputStart)
                outputStart += fromOutput
                bodySent += count - fromOutput
                lastWriteProgress = context.now
                continue
            case .wouldBlock:
                return
            case .closed:
                close()
                return
            }
        }
        output.removeAll(keepingCapacity: output.capacity <= Self.keptCapacity)
        outputStart = 0
        outputBody = []
        bodySent = 0
        if closeAfterWrite, !isClosed, !isLingering {
            if inputClosed || inputStart == input.count && isQuiet {
                close()
            } else {
                shutdown(fd, Int32(SHUT_WR))
                phase = .lingering(until: context.now + Self.lingerMilliseconds)
            }
        }
    }

    var isHandling: Bool {
        if case .handling = phase { return true }
        return false
    }

    private var isLingering: Bool {
        if case .lingering = phase { return true }
        return false
    }

    /// Whether the client is likely done sending: nothing partial is buffered.
    private var isQuiet: Bool {
        if case .idle = phase { return true }
        return false
    }

    // MARK: Deadlines

    /// Does what the deadlines ask (`ConnectionTimer`): answers 408 to a request that stalled,
    /// closes a connection that idled, lingered or stopped reading for too long.
    func checkDeadlines(handler: some HTTPHandler, context: LoopContext) {
        guard !isClosed else { return }
        let action = context.timer.action(
            phase: phase, now: context.now, lastActivity: lastActivity, lastWriteProgress: lastWriteProgress,
            hasPendingOutput: hasPendingOutput, closeAfterWrite: closeAfterWrite, shuttingDown: context.isShuttingDown)
        switch action {
        case .none:
            break
        case .answerTimeout:
            respond(handler.failureResponse(status: .requestTimeout, message: "request not completed within \(context.timer.requestTimeout / 1000) s"),
                    keepAlive: false, context: context)
            inputStart = input.count
            largeBody = nil
            flush(context: context)
        case .close:
            close()
        }
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        Glibc.close(fd)
        input = []
        largeBody = nil
        output = []
        outputBody = []
    }
}
