#if canImport(Glibc)
import Glibc
#endif

/// A failed system call, with errno and its text.
public struct SocketError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let errno: Int32

    /// The error of the call that just failed, read from `errno`.
    static func makeFailed(_ call: String) -> SocketError {
        SocketError(call: call, errno: Glibc.errno)
    }

    public var description: String {
        "\(call) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}
