import ArgumentParser
import Client
import Foundation
import Model
import Wire

/// Seconds per `/gradients` request against a running server, through the client's libcurl
/// transport with a kept-alive connection, and the bytes each answer takes on the wire.
struct Remote: AsyncParsableCommand {
    @Option var server: String
    @Option var layers = "3,3,3"
    @Option(help: "Samples per request.") var samples = 32
    @Flag var reduceSum = false
    @Option var format: TensorFormat = .numbers
    @Option var seconds = 2.0

    func run() async throws {
        let sizes = try sizes(layers)
        var writer = JSONWriter()
        GradientsRequest(samples: Dataset.synthetic(count: samples, dimension: sizes[0], seed: 4).samples,
                         reduce: reduceSum ? .sum : .none, tensorFormat: format).encode(to: &writer)
        let transport = CurlTransport(maxConnections: 1)
        let call = HTTPCall(method: "POST", url: server + "/gradients", body: writer.bytes, timeout: .seconds(120))
        var answer = try await transport.perform(call)
        guard answer.status == 200 else { throw ValidationError("HTTP \(answer.status): \(String(decoding: answer.body.prefix(200), as: UTF8.self))") }
        let clock = ContinuousClock()
        let start = clock.now
        var requests = 0
        var elapsed = 0.0
        // On the transport's thread, as the trainer runs: a request and its answer cost no thread hop.
        try await withTaskExecutorPreference(transport.executor) {
            repeat {
                answer = try await transport.perform(call)
                // The client's share of the work: reading the answer back into tensors.
                _ = try JSONReader.read(answer.body) { try GradientsResponse(reading: &$0) }
                requests += 1
                let duration = clock.now - start
                elapsed = Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
            } while elapsed < seconds
        }
        emit([("bench", "remote"), ("layers", layers), ("samples", samples), ("reduce", reduceSum ? "sum" : "none"),
              ("format", format.rawValue), ("request_bytes", writer.bytes.count), ("response_bytes", answer.body.count),
              ("seconds_per_request", elapsed / Double(requests)), ("seconds_per_sample", elapsed / Double(requests * samples))])
    }
}

extension TensorFormat: ExpressibleByArgument {}
