/// The deadlines that guard a connection, as a pure function of its state and the time: what
/// the connection must do now. The loop asks once a second with its clock's time; tests ask with
/// any time they like, so timeout behaviour is tested without waiting.
struct ConnectionTimer: Sendable {
    /// Milliseconds a request may take to arrive, counted from its first byte, and a response to be read.
    let requestTimeout: Int64
    /// Milliseconds an idle keep-alive connection stays open.
    let idleTimeout: Int64

    enum Action: Equatable {
        case none
        /// Answer 408 to the request in progress and close after it (RFC 9110 section 15.5.9).
        case answerTimeout
        case close
    }

    /// What the connection needs, when it is in `phase` at `now`.
    /// - `lastActivity`: when bytes last arrived; `lastWriteProgress`: when output last moved.
    func action(phase: Connection.Phase, now: Int64, lastActivity: Int64, lastWriteProgress: Int64,
                hasPendingOutput: Bool, closeAfterWrite: Bool, shuttingDown: Bool) -> Action {
        // A client that stopped reading its responses holds memory and a descriptor: cut it off.
        if hasPendingOutput, now - lastWriteProgress >= requestTimeout { return .close }
        switch phase {
        case .lingering(let until):
            return now >= until ? .close : .none
        case .head(let started), .body(_, let started):
            return !closeAfterWrite && now - started >= requestTimeout ? .answerTimeout : .none
        case .idle:
            return !hasPendingOutput && (now - lastActivity >= idleTimeout || shuttingDown) ? .close : .none
        case .handling:
            // The server's own work is not the client's delay.
            return .none
        }
    }
}
