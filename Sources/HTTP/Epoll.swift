#if canImport(Glibc)
import Glibc
#endif
import CLinux

/// One epoll instance and an eventfd to wake it from other threads. Only `wake()` may be
/// called from another thread than the loop's.
final class Epoll: @unchecked Sendable {
    let fd: Int32
    private let wakeFD: Int32
    private var events: [epoll_event]

    /// The token reported when `wake()` was called.
    static let wakeToken: UInt64 = .max

    init(capacity: Int = 1024) throws {
        fd = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard fd >= 0 else { throw SocketError.makeFailed("epoll_create1") }
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC))
        guard wakeFD >= 0 else { throw SocketError.makeFailed("eventfd") }
        events = Array(repeating: epoll_event(), count: capacity)
        try add(wakeFD, token: Self.wakeToken, readable: true, writable: false)
    }

    deinit {
        close(wakeFD)
        close(fd)
    }

    func add(_ socket: Int32, token: UInt64, readable: Bool, writable: Bool) throws {
        var event = epoll_event(events: Self.mask(readable, writable), data: epoll_data_t(u64: token))
        guard epoll_ctl(fd, EPOLL_CTL_ADD, socket, &event) == 0 else { throw SocketError.makeFailed("epoll_ctl(ADD)") }
    }

    func modify(_ socket: Int32, token: UInt64, readable: Bool, writable: Bool) {
        var event = epoll_event(events: Self.mask(readable, writable), data: epoll_data_t(u64: token))
        epoll_ctl(fd, EPOLL_CTL_MOD, socket, &event)
    }

    func remove(_ socket: Int32) {
        epoll_ctl(fd, EPOLL_CTL_DEL, socket, nil)
    }

    /// Wakes a thread blocked in `wait`.
    func wake() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    /// Waits up to `timeout` milliseconds (0: only looks) and calls `handle(token, readable, writable, hangup)`
    /// per event; returns how many there were.
    @discardableResult
    func wait(timeout: Int32, _ handle: (UInt64, _ readable: Bool, _ writable: Bool, _ hangup: Bool) -> Void) -> Int {
        let count = events.withUnsafeMutableBufferPointer { epoll_wait(fd, $0.baseAddress, Int32($0.count), timeout) }
        guard count > 0 else { return 0 }
        for i in 0..<Int(count) {
            let event = events[i]
            if event.data.u64 == Self.wakeToken {
                var value: UInt64 = 0
                _ = read(wakeFD, &value, 8)
            }
            handle(event.data.u64,
                   event.events & EPOLLIN.rawValue != 0,
                   event.events & EPOLLOUT.rawValue != 0,
                   event.events & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0)
        }
        return Int(count)
    }

    private static func mask(_ readable: Bool, _ writable: Bool) -> UInt32 {
        (readable ? EPOLLIN.rawValue : 0) | (writable ? EPOLLOUT.rawValue : 0)
    }
}
