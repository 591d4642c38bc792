#if canImport(Glibc)
import Glibc
#endif
import CLinux

/// Thin wrappers over the POSIX socket calls the server makes. Every call that can fail
/// throws a `SocketError` naming it; nothing here knows about HTTP.
enum Socket {
    /// A non-blocking TCP listener on `host:port` (IPv4 or IPv6 literal, or "localhost").
    /// With `reusePort`, several listeners share one port and the kernel spreads connections over them.
    static func makeListener(host: String, port: UInt16, backlog: Int32 = 4096, reusePort: Bool) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &result)
        guard status == 0, let info = result else {
            throw SocketError(call: "getaddrinfo(\(host)): \(String(cString: gai_strerror(status)))", errno: 0)
        }
        defer { freeaddrinfo(result) }

        let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError.makeFailed("socket") }
        do {
            try setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            if reusePort { try setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1) }
            guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else { throw SocketError.makeFailed("bind(\(host):\(port))") }
            guard listen(fd, backlog) == 0 else { throw SocketError.makeFailed("listen") }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) throws {
        var value = value
        guard setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw SocketError.makeFailed("setsockopt(\(name))")
        }
    }

    /// The port a bound socket listens on (the kernel's choice after binding port 0).
    static func localPort(_ fd: Int32) throws -> UInt16 {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard status == 0 else { throw SocketError.makeFailed("getsockname") }
        let family = storage.ss_family
        return withUnsafePointer(to: &storage) { pointer in
            if family == sa_family_t(AF_INET6) {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
    }

    /// Accepts one pending connection as a non-blocking socket, or nil when none is pending.
    static func accept(_ listener: Int32) throws -> Int32? {
        let fd = clinux_accept4(listener, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
        if fd >= 0 {
            try? setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
            return fd
        }
        switch errno {
        case EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED, EPROTO: return nil
        default: throw SocketError.makeFailed("accept4")
        }
    }

    enum IOResult {
        case bytes(Int)
        case wouldBlock
        case closed
    }

    static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        while true {
            let count = recv(fd, buffer.baseAddress, buffer.count, 0)
            if count > 0 { return .bytes(count) }
            if count == 0 { return .closed }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .closed
            }
        }
    }

    /// Sends `first` and then `second` in one call (gathered, neither copied); as `send` when
    /// `second` is empty.
    static func send(_ fd: Int32, _ first: UnsafeRawBufferPointer, then second: UnsafeRawBufferPointer) -> IOResult {
        guard !second.isEmpty else { return send(fd, first) }
        var parts = (iovec(iov_base: UnsafeMutableRawPointer(mutating: first.baseAddress), iov_len: first.count),
                     iovec(iov_base: UnsafeMutableRawPointer(mutating: second.baseAddress), iov_len: second.count))
        return withUnsafeMutableBytes(of: &parts) { parts in
            // An empty first part (the head already out) is skipped.
            let skip = first.isEmpty ? 1 : 0
            var message = msghdr()
            message.msg_iov = parts.baseAddress!.assumingMemoryBound(to: iovec.self) + skip
            message.msg_iovlen = 2 - skip
            return sending { sendmsg(fd, &message, Int32(MSG_NOSIGNAL)) }
        }
    }

    /// Sends without ever raising SIGPIPE on a peer that went away.
    static func send(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> IOResult {
        sending { Glibc.send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Runs a send call until it is not interrupted: bytes sent, or why none were.
    private static func sending(_ call: () -> Int) -> IOResult {
        while true {
            let count = call()
            if count >= 0 { return .bytes(count) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .closed
            }
        }
    }
}
