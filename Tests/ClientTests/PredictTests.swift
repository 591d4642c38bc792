import Foundation
import Model
import TestSupport
import Testing
import Wire

/// `gradctl predict`: every sample's output, in input order, whichever server computed it.
@Suite struct PredictTests {
    let gradctl = ServerProcess.binary("gradctl").path

    @Test func predictionsOverTwoServersEqualOneForwardPassInInputOrder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("predict-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var generator = SeededGenerator(seed: 3)
        let inputs = (0..<1000).map { _ in (0..<4).map { _ in Float.random(in: -1..<1, using: &generator) } }
        try inputs.map { $0.map { "\($0)" }.joined(separator: ",") }.joined(separator: "\n").write(toFile: folder + "/inputs.csv", atomically: true, encoding: .utf8)
        // Two servers with the same seed hold the same parameters.
        let servers = try (0..<2).map { _ in try ServerProcess(["--layers", "4,16,8", "--seed", "7"]) }

        var body = JSONWriter()
        ForwardRequest(samples: inputs.map { Sample(x: $0, t: 0) }).encode(to: &body)
        let forward = try curl(["-s", "-X", "POST", "\(servers[0].url)/forward", "-d", String(decoding: body.bytes, as: UTF8.self)]).body
        let expected = try JSONReader.read(Array(forward.utf8)) { try ForwardResponse(reading: &$0) }.outputs

        let csv = try run(gradctl, ["predict", "--data", folder + "/inputs.csv", "--batch", "64", "--out", folder + "/out.csv"]
                          + servers.flatMap { ["--server", $0.url] })
        #expect(csv.status == 0, "\(csv.stderr)")
        #expect(csv.stdout == "wrote the outputs of 1000 samples to \(folder)/out.csv\n")
        let lines = try String(contentsOfFile: folder + "/out.csv", encoding: .utf8).split(separator: "\n")
        #expect(lines.first == "output")
        #expect(lines.dropFirst().map { Float(String($0))! }.map(\.bitPattern) == expected.map(\.bitPattern))

        let jsonl = try run(gradctl, ["predict", "--data", folder + "/inputs.csv", "--batch", "100", "--format", "jsonl", "--server", servers[1].url])
        #expect(jsonl.stdout.split(separator: "\n").map { line in
            try! JSONReader.read(Array(line.utf8)) { reader -> Float in
                var value: Float = .nan
                try reader.readObject { reader, _ in value = try reader.readFloat() }
                return value
            }.bitPattern
        } == expected.map(\.bitPattern))
    }
}
