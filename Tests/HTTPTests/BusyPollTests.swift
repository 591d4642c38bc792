import Locking
import Testing

/// The policy that decides when an event loop or the client's engine looks for I/O without
/// sleeping. Times are given in nanoseconds, so the tests do not depend on the clock.
@Suite struct BusyPollTests {
    let window: Int64 = 200_000  // 200 µs

    @Test func aZeroWindowNeverPolls() {
        var poll = BusyPoll(window: .zero)
        poll.beginWait(at: 0)
        #expect(!poll.shouldPoll(at: 0))
        #expect(!poll.shouldPoll(at: 1))
    }

    @Test func pollsOnlyWithinTheWindowAfterWorkEnds() {
        var poll = BusyPoll(window: .microseconds(200))
        #expect(poll.window == window)
        poll.beginWait(at: 1_000_000)
        #expect(poll.shouldPoll(at: 1_000_000))
        #expect(poll.shouldPoll(at: 1_000_000 + window - 1))
        #expect(!poll.shouldPoll(at: 1_000_000 + window))
        // The next wait starts a new window.
        poll.endWait(at: 1_050_000)
        poll.beginWait(at: 5_000_000)
        #expect(poll.shouldPoll(at: 5_000_000 + window / 2))
    }

    @Test func longWaitsStopThePollingUntilAProbeFindsShortOnes() {
        var poll = BusyPoll(window: .microseconds(200))
        var now: Int64 = 0
        /// One wait of `length` ns; returns whether the thread polled at its start.
        func wait(_ length: Int64) -> Bool {
            poll.beginWait(at: now)
            let polled = poll.shouldPoll(at: now)
            now += length
            poll.endWait(at: now)
            now += 1_000
            return polled
        }
        // The first four long waits still poll (a slow step now and then should not end it)...
        #expect((0..<4).map { _ in wait(window + 1) } == [true, true, true, true])
        // ...after four in a row the thread sleeps at once, except on one wait in 32.
        let afterFour = (4..<64).map { _ in wait(10 * window) }
        #expect(afterFour.enumerated().filter(\.element).map { $0.offset + 4 } == [32])
        // A probe that finds a short wait brings polling back.
        while !wait(window / 4) {}
        #expect(wait(window / 4))
        #expect(wait(window / 4))
    }
}
