import ArgumentParser
import Client
import Foundation
import Wire

/// `gradctl checkpoint save|restore FILE`: a server's whole state to and from a file.
struct CheckpointCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Save a server's whole training state to a file, or put it back.",
        discussion: """
            The file holds the model as GET /model describes it and the checkpoint (parameters, optimizer state, version) \\
            in the compact tensor form. `restore` checks the file against the server's model before sending anything; \\
            `gradserve --init-from FILE` starts a server from it.
            """,
        subcommands: [Save.self, Restore.self])

    struct Save: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write the server's parameters, optimizer state and version to FILE.")
        @OptionGroup var options: ServerOptions
        @Argument(help: ArgumentHelp("The file to write (replaced atomically).", valueName: "file")) var file: String

        func run() async throws {
            let client = try options.makeClient()
            let model = try await client.model()
            let checkpoint = try await client.checkpoint(layout: model.layout, format: .b64)
            let bytes = CheckpointFile(model: model, checkpoint: checkpoint).encoded()
            let temporary = file + ".tmp"
            guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)), rename(temporary, file) == 0 else {
                throw ValidationError("cannot write \(file)")
            }
            print("saved version \(checkpoint.version) of \(options.server) to \(file) (\(bytes.count) bytes)")
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Put the state in FILE on the server (same model and optimizer only).")
        @OptionGroup var options: ServerOptions
        @Argument(help: ArgumentHelp("A file written by `gradctl checkpoint save`.", valueName: "file")) var file: String

        func run() async throws {
            let saved = try CheckpointCommand.read(file)
            let client = try options.makeClient()
            if let problem = saved.mismatch(with: try await client.model()) {
                throw ValidationError("\(file): \(problem); nothing was sent")
            }
            let version = try await client.restore(saved.checkpoint)
            print("restored \(file) on \(options.server): version \(version)")
        }
    }

    static func read(_ file: String) throws -> CheckpointFile {
        guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
        do { return try CheckpointFile(decoding: [UInt8](data)) } catch { throw ValidationError("\(file): \(error)") }
    }
}
