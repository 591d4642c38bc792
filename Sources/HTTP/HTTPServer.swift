#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Locking
import Logging

/// An HTTP/1.1 server on POSIX sockets: one event loop per thread, each with its own
/// listener on a shared port (SO_REUSEPORT), so that accepted connections spread over
/// the cores with no lock between loops. Small requests are handled on the loop that read them,
/// requests with large bodies on a bounded pool of worker threads (`offloadBodyBytes`, `workers`).
public final class HTTPServer: Sendable {
    public let configuration: Configuration
    /// The port actually bound (the kernel's choice when the configuration asked for 0).
    public let port: UInt16
    private let loops: [EventLoop]
    private let workers: WorkerPool
    private let finished = DispatchGroup()

    public static var coreCount: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// Binds the listeners; call `start()` to serve.
    public init(configuration: Configuration, handler: any HTTPHandler, logger: Logger) throws {
        self.configuration = configuration
        Self.raiseDescriptorLimit(logger: logger)
        var listeners: [Int32] = []
        let workers = WorkerPool(threads: configuration.workers, queueLimit: configuration.maxQueuedRequests)
        self.workers = workers
        do {
            let first = try Socket.makeListener(host: configuration.host, port: configuration.port, reusePort: true)
            listeners.append(first)
            let port = try Socket.localPort(first)
            for _ in 1..<max(1, configuration.threads) {
                listeners.append(try Socket.makeListener(host: configuration.host, port: port, reusePort: true))
            }
            self.port = port
            let pollSlot = BusyPollSlot()
            loops = try listeners.map {
                try EventLoop(listener: $0, handler: handler, workers: workers, pollSlot: pollSlot, configuration: configuration, logger: logger)
            }
            for loop in loops.dropFirst() { loop.first = loops[0] }
        } catch {
            listeners.forEach { close($0) }
            workers.stop()
            throw error
        }
    }

    /// Starts one thread per event loop and returns.
    public func start() {
        for (index, loop) in loops.enumerated() {
            finished.enter()
            let thread = Thread { [finished] in
                loop.run()
                finished.leave()
            }
            thread.name = "gradserve-loop-\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Stops accepting, lets requests in flight finish (up to the shutdown grace), and closes every connection.
    public func stop() {
        loops.forEach { $0.stop() }
    }

    /// Blocks until every loop has finished after `stop()`.
    public func wait() {
        finished.wait()
        workers.stop()
    }

    /// Many keep-alive clients need many descriptors: lift the soft limit to the hard one.
    private static func raiseDescriptorLimit(logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) != 0 {
            logger.warning("could not raise the open-file limit", metadata: ["error": "\(SocketError.makeFailed("setrlimit"))"])
        }
    }
}
