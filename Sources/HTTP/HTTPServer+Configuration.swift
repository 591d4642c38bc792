extension HTTPServer {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        /// 0 lets the kernel choose a free port; `HTTPServer.port` then tells which.
        public var port: UInt16 = 8080
        /// Event-loop threads, each with its own listener on the shared port; defaults to the core count.
        public var threads = HTTPServer.coreCount
        public var limits = HTTPParser.Limits()
        /// A request whose head and body have not fully arrived this long after its first byte
        /// is answered 408 and its connection closed; so is a response the client stops reading.
        public var requestTimeout: Duration = .seconds(30)
        /// A keep-alive connection with nothing in flight is closed after this long.
        public var idleTimeout: Duration = .seconds(120)
        /// Requests with bodies at least this large are handled on a worker thread, so that their
        /// work does not hold up the other connections of their loop; smaller ones inline.
        public var offloadBodyBytes = 16 * 1024
        /// ...unless the connection's last such request to the same path, scaled to this one's body size, took less
        /// than this: then it is handled inline too, sparing the two thread wake-ups of the handoff
        /// (a training client's steps are alike). Zero sends every large request to a worker.
        public var inlineBudget: Duration = .milliseconds(2)
        /// Worker threads for those requests: at most this many run at once.
        public var workers = HTTPServer.coreCount
        /// Large requests that may wait for a busy worker; one more is answered 503 with
        /// `Retry-After`. Each waiting request holds its body, so this bounds their memory too.
        public var maxQueuedRequests = 64
        /// After an event, a loop polls without sleeping for this long before it blocks again (0: never).
        /// On a virtual machine a sleeping thread costs a wake-up of about 0.1 ms per message; a client
        /// that answers within the window (the next step of a training loop) is read without one.
        /// One loop polls at a time (`BusyPollSlot`).
        public var busyPoll: Duration = .microseconds(200)
        /// On shutdown, requests in flight get this long to finish.
        public var shutdownGrace: Duration = .seconds(10)

        public init() {}
    }
}
