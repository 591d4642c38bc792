import Foundation
import TestSupport
import Testing

/// `gradctl checkpoint save|restore` and `gradserve --init-from`: the whole state through a file.
@Suite struct CheckpointFileCommandTests {
    let gradctl = ServerProcess.binary("gradctl").path
    let arguments = ["--layers", "3,5,4", "--optimizer", "adam", "--lr", "0.01"]

    @Test func aSavedStateStartsAServerAndRestoresOnAnotherBitForBit() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("state-\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let trained = try ServerProcess(arguments)
        #expect(try run(gradctl, ["train", "--server", trained.url, "--synthetic", "256", "--batch", "16"]).status == 0)
        let saved = try run(gradctl, ["checkpoint", "save", file, "--server", trained.url])
        #expect(saved.status == 0, "\(saved.stderr)")
        #expect(saved.stdout.hasPrefix("saved version 16 of \(trained.url) to \(file)"), "\(saved.stdout)")
        let expected = try curl(["-s", "\(trained.url)/checkpoint"]).body

        let started = try ServerProcess(arguments + ["--init-from", file])
        #expect(try curl(["-s", "\(started.url)/checkpoint"]).body == expected, "parameters, moments and version")
        let fresh = try ServerProcess(arguments + ["--seed", "5"])
        let restored = try run(gradctl, ["checkpoint", "restore", file, "--server", fresh.url])
        #expect(restored.stdout == "restored \(file) on \(fresh.url): version 16\n", "\(restored.stderr)")
        #expect(try curl(["-s", "\(fresh.url)/checkpoint"]).body == expected)
        #expect(try curl(["-s", "\(fresh.url)/health"]).body == (try curl(["-s", "\(trained.url)/health"]).body), "same digest")

        // Another model: refused before anything is sent, and a server refuses to start from it.
        let other = try ServerProcess(["--layers", "3,5,5", "--optimizer", "adam"])
        let before = try curl(["-s", "\(other.url)/checkpoint"]).body
        let refused = try run(gradctl, ["checkpoint", "restore", file, "--server", other.url])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("the checkpoint holds a mlp 3,5,4 with adam, the server trains a mlp 3,5,5 with adam; nothing was sent"), "\(refused.stderr)")
        #expect(try curl(["-s", "\(other.url)/checkpoint"]).body == before)
        #expect(throws: ServerProcessError.self) { try ServerProcess(["--layers", "3,5,4", "--optimizer", "sgd", "--init-from", file]) }
    }

    /// swift-argument-parser writes the completion scripts; each names the subcommands.
    @Test(arguments: ["bash", "zsh", "fish"])
    func completionScriptsNameTheSubcommands(shell: String) throws {
        let script = try run(gradctl, ["--generate-completion-script", shell])
        #expect(script.status == 0)
        for subcommand in ["train", "checkpoint", "forward"] { #expect(script.stdout.contains(subcommand), "\(shell): \(subcommand)") }
        let serve = try run(ServerProcess.binary("gradserve").path, ["--generate-completion-script", shell])
        #expect(serve.stdout.contains("max-staleness"), "\(shell)")
    }
}
