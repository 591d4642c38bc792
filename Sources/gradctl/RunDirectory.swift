import ArgumentParser
import Client
import Foundation
import Model
import Wire

/// `gradctl train --run-dir DIR`: what a run needs to go on after gradctl is killed.
///
///     DIR/run.json    the options that decide the result, and the run's `Trainer.Position`
///     DIR/best.json   with --keep-best, the best epoch's state (a checkpoint in the compact form)
///
/// Each file is written to a temporary name and renamed over the old one, so a kill at any moment
/// leaves the old record or the new one, never a mix. (The files are not fsynced: they survive
/// gradctl's death, not the machine's.)
final class RunDirectory: Sendable {
    struct Record: Codable {
        var configuration: [String: String]
        var position: Trainer.Position
    }

    let path: String
    let configuration: [String: String]

    init(path: String, configuration: [String: String]) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw ValidationError("--run-dir \(path): cannot create the folder: \(error.localizedDescription)")
        }
        self.path = path
        self.configuration = configuration
    }

    private var runFile: String { path + "/run.json" }
    private var bestFile: String { path + "/best.json" }

    /// Where the recorded run stopped, or nil for a new run. A run of other options is refused.
    func load() throws -> Trainer.Position? {
        guard let data = FileManager.default.contents(atPath: runFile) else { return nil }
        let record: Record
        do { record = try JSONDecoder().decode(Record.self, from: data) } catch {
            throw ValidationError("\(runFile) cannot be read (\(error)); move it away to start a new run")
        }
        let differences = Set(record.configuration.keys).union(configuration.keys).sorted().compactMap { key -> String? in
            let recorded = record.configuration[key] ?? "(none)", given = configuration[key] ?? "(none)"
            return recorded == given ? nil : "\(key) \(recorded) there, \(given) here"
        }
        guard differences.isEmpty else {
            throw ValidationError("--run-dir \(path) holds a run with other options (\(differences.joined(separator: "; "))): "
                                  + "run it with the same options, or give another --run-dir")
        }
        return record.position
    }

    func save(_ position: Trainer.Position) {
        write(try? JSONEncoder().encode(Record(configuration: configuration, position: position)), to: runFile)
    }

    func saveBest(_ checkpoint: Checkpoint) {
        var writer = JSONWriter()
        checkpoint.encode(to: &writer, format: .b64)
        write(Data(writer.bytes), to: bestFile)
    }

    func loadBest(layout: ParameterLayout) throws -> Checkpoint? {
        guard let data = FileManager.default.contents(atPath: bestFile) else { return nil }
        return try JSONReader.read([UInt8](data)) { try Checkpoint(reading: &$0, layout: layout) }
    }

    private func write(_ data: Data?, to file: String) {
        guard let data else { return }
        let temporary = file + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data), rename(temporary, file) == 0 else {
            FileHandle.standardError.write(Data("warning: could not write \(file)\n".utf8))
            return
        }
    }
}
