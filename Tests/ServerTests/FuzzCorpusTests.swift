import Foundation
import FuzzTargets
import Testing

/// Every input in Tests/FuzzCorpus (seeds, and any crash a fuzzer found, kept after its fix)
/// goes through the same checks the fuzzers run.
@Suite struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("FuzzCorpus")

    static func inputs(_ target: String) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: corpus.appendingPathComponent(target), includingPropertiesForKeys: nil)
            .sorted { $0.path < $1.path }
    }

    @Test func httpInputsReplay() throws {
        let files = try Self.inputs("http")
        #expect(files.count >= 3)
        for file in files { try Data(contentsOf: file).withUnsafeBytes(FuzzTargets.httpHead) }
    }

    @Test func jsonInputsReplay() throws {
        let files = try Self.inputs("json")
        #expect(files.count >= 4)
        for file in files { try Data(contentsOf: file).withUnsafeBytes(FuzzTargets.jsonRequest) }
    }
}
