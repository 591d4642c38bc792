import Foundation
import SwiftProtobuf

/// Writes scalars as a TensorBoard event file (`events.out.tfevents.*`) in a folder, the way
/// TensorFlow's summary writer does: a first event naming the format version, then one event
/// per step with the step's scalars as `simple_value`s. Each event is written through at once,
/// so TensorBoard shows a run while it trains and nothing is lost when the run is killed.
public final class SummaryWriter: Sendable {
    public enum Failure: Error, CustomStringConvertible {
        case cannotCreate(path: String, reason: String)
        public var description: String {
            switch self {
            case .cannotCreate(let path, let reason): "cannot write a TensorBoard event file at \(path): \(reason)"
            }
        }
    }

    /// The file this writer appends to.
    public let path: String
    private let handle: FileHandle

    /// Creates `directory` if needed and a new event file in it. A new file per writer, so a
    /// resumed run adds a file next to the earlier ones; TensorBoard reads them as one run.
    public init(directory: String) throws(Failure) {
        let now = Date().timeIntervalSince1970
        let host = ProcessInfo.processInfo.hostName
        path = URL(fileURLWithPath: directory)
            .appendingPathComponent("events.out.tfevents.\(Int(now)).\(host).\(getpid()).gradctl").path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .cannotCreate(path: directory, reason: "\(error.localizedDescription)")
        }
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw .cannotCreate(path: path, reason: "the file cannot be created")
        }
        self.handle = handle
        var first = Tensorboard_Event()
        first.wallTime = now
        first.fileVersion = "brain.Event:2"
        write(first)
    }

    /// One event at `step` holding `scalars` (tag, value), in that order.
    public func add(_ scalars: [(tag: String, value: Float)], step: Int, wallTime: Double = Date().timeIntervalSince1970) {
        guard !scalars.isEmpty else { return }
        var event = Tensorboard_Event()
        event.wallTime = wallTime
        event.step = Int64(step)
        event.summary = Tensorboard_Summary.with { summary in
            summary.value = scalars.map { scalar in
                Tensorboard_Summary.Value.with {
                    $0.tag = scalar.tag
                    $0.simpleValue = scalar.value
                }
            }
        }
        write(event)
    }

    private func write(_ event: Tensorboard_Event) {
        // Serialising a message of these fields cannot fail: it has no required fields and no `Any`.
        let bytes: [UInt8] = try! event.serializedBytes()
        handle.write(Data(TFRecord.frame(bytes)))
    }
}
