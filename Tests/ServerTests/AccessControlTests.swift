import Foundation
import TestSupport
import Testing

@Suite struct AccessControlTests {
    /// The token rules themselves are tested in process (Tests/APITests/AccessTests.swift); this
    /// checks that both binaries read the same token file.
    @Test func gradserveAndGradctlReadTheSameTokenFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID())").path
        try "read-and-write\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let server = try ServerProcess(["--token-file", file, "--read-token"])
        #expect(try curl(["\(server.url)/params"]).status == 401)
        #expect(try curl(["\(server.url)/params", "-H", "Authorization: Bearer read-and-write"]).status == 200)

        // gradctl reads the same file.
        let gradctl = ServerProcess.binary("gradctl").path
        let trained = try run(gradctl, ["train", "--server", server.url, "--token-file", file, "--synthetic", "64", "--batch", "32"])
        #expect(trained.status == 0, "\(trained.stderr)")
        let refused = try run(gradctl, ["params", "--server", server.url])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("HTTP 401 unauthorized"), "\(refused.stderr)")
    }

    @Test func serverRefusesToStartWithAnUnusableToken() throws {
        #expect(throws: ServerProcessError.self) { try ServerProcess(["--read-token"]) }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("empty-\(UUID())").path
        try "\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        #expect(throws: ServerProcessError.self) { try ServerProcess(["--token-file", file]) }
    }
}
