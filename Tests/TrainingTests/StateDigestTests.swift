import Foundation
import Model
import Testing
@testable import Training

@Suite struct StateDigestTests {
    /// The published test vectors of XXH64 (seed 0), and a long input that crosses the 32-byte stripes.
    @Test(arguments: [("", "ef46db3751d8e999"), ("a", "d24ec4f1a98c6e5b"), ("abc", "44bc2cf5ad770999")])
    func xxh64GivesThePublishedValues(text: String, hex: String) {
        let value = Array(text.utf8).withUnsafeBytes { XXH64.hash($0) }
        #expect(String(value, radix: 16) == hex)
    }

    /// The digest as openapi.yaml defines it, computed independently with Python's `xxhash`
    /// package (in the test venv) on the same bytes.
    @Test func theDigestIsTheDocumentedChainOfXXH64() throws {
        let python = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".venv/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "run make test, which creates .venv")
        let layout = ParameterLayout([("w", [3, 5]), ("b", [7])])
        var generator = SeededGenerator(seed: 3)
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -2..<2, using: &generator) } }
        let parameters = TensorSet(layout: layout, storage: values(layout.count))
        let cases = [OptimizerState(step: 0, first: [], second: []),
                     OptimizerState(step: 17, first: values(layout.count), second: []),
                     OptimizerState(step: 123_456, first: values(layout.count), second: values(layout.count))]
        for (version, state) in zip([0, 41, 9_000_000_000], cases) {
            let hexes = [parameters.storage, state.first, state.second].map { floats in
                floats.withUnsafeBytes { Data($0).map { String(format: "%02x", $0) }.joined() }
            }
            let script = """
                import struct, xxhash
                d = xxhash.xxh64(struct.pack('<QQ', \(version), \(state.step)), seed=0).intdigest()
                for part in \(hexes):
                    d = xxhash.xxh64(bytes.fromhex(part), seed=d).intdigest()
                print('%016x' % d)
                """
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = ["-c", script]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            process.waitUntilExit()
            let expected = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(StateDigest.make(version: version, parameters: parameters, optimizerState: state) == expected)
        }
    }

    @Test func anyChangeToTheStateChangesTheDigest() {
        let layout = ParameterLayout([("w", [4])])
        let parameters = TensorSet(layout: layout, storage: [1, 2, 3, 4])
        let state = OptimizerState(step: 2, first: [0.5, 0.5, 0.5, 0.5], second: [])
        let digest = StateDigest.make(version: 3, parameters: parameters, optimizerState: state)
        #expect(digest.count == 16)
        var nudged = parameters
        nudged.storage[2] = nudged.storage[2].nextUp
        var moved = state
        moved.first[0] = -0.5
        var stepped = state
        stepped.step = 3
        let others = [StateDigest.make(version: 4, parameters: parameters, optimizerState: state),
                      StateDigest.make(version: 3, parameters: nudged, optimizerState: state),
                      StateDigest.make(version: 3, parameters: parameters, optimizerState: moved),
                      StateDigest.make(version: 3, parameters: parameters, optimizerState: stepped)]
        #expect(Set(others + [digest]).count == 5)
    }
}
