#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A folder holding one server's training state as `state.bin`, replaced atomically:
/// the new state is written to `state.bin.tmp`, fsynced, renamed over `state.bin`, and the
/// folder fsynced, so a crash at any moment leaves either the old state or the new one.
/// A lock file keeps two servers from sharing the folder.
public final class StateDirectory: Sendable {
    public enum Sync: String, Sendable, CaseIterable {
        /// A write is acknowledged only once it is on disk.
        case always
        /// Written every second and on shutdown; a crash loses at most the last second.
        case interval
    }

    public let path: String
    public let sync: Sync
    private let lockFD: Int32

    public var stateFile: String { path + "/state.bin" }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Opens (creating if needed) and locks the folder.
    public init(path: String, sync: Sync) throws(Failure) {
        self.path = path
        self.sync = sync
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw Failure(description: "\(path): cannot create the folder: \(error.localizedDescription)")
        }
        lockFD = open(path + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lockFD >= 0 else { throw Failure(description: "\(path): cannot open its lock file: \(Self.errorText())") }
        guard flock(lockFD, LOCK_EX | LOCK_NB) == 0 else {
            close(lockFD)
            throw Failure(description: "\(path): another gradserve is using this folder")
        }
    }

    deinit { close(lockFD) }

    /// The saved state, nil for a fresh folder; a state that cannot be used is an error, never replaced.
    public func load(expecting identity: StateFile.Identity) throws(Failure) -> StateFile? {
        guard FileManager.default.fileExists(atPath: stateFile) else { return nil }
        guard let data = FileManager.default.contents(atPath: stateFile) else {
            throw Failure(description: "\(stateFile): cannot be read")
        }
        do {
            return try StateFile(decoding: [UInt8](data), expected: identity)
        } catch {
            throw Failure(description: "\(stateFile): \(error.description). Refusing to start: move the file away to start from the seed, or use another folder.")
        }
    }

    /// Writes `state` atomically and durably.
    public func save(_ state: StateFile) throws(Failure) {
        let temporary = stateFile + ".tmp"
        let bytes = state.encoded()
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(description: "\(temporary): cannot open: \(Self.errorText())") }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                let text = Self.errorText()
                close(fd)
                throw Failure(description: "\(temporary): write failed: \(text)")
            }
            written += count
        }
        guard fsync(fd) == 0 else {
            let text = Self.errorText()
            close(fd)
            throw Failure(description: "\(temporary): fsync failed: \(text)")
        }
        close(fd)
        guard rename(temporary, stateFile) == 0 else { throw Failure(description: "\(stateFile): rename failed: \(Self.errorText())") }
        let directory = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0, fsync(directory) == 0 else {
            if directory >= 0 { close(directory) }
            throw Failure(description: "\(path): fsync of the folder failed: \(Self.errorText())")
        }
        close(directory)
    }

    private static func errorText() -> String { String(cString: strerror(errno)) }
}
