import API
import ArgumentParser
import Client
import Foundation
import HTTP
import Logging
import Model
import Wire

/// The CPU one synchronous `/step` costs each side, without sockets: the server's handler (routing,
/// decoding, the optimizer step, the next batch's gradient sum, the answer) called in process,
/// and the client's share (writing the request from the batch's mean and samples, reading the
/// answer's partial sum, and averaging it into the next mean). What remains of a remote step's
/// time is the transport: syscalls, loopback, libcurl, wake-ups.
/// With `--graphs`, the model is the cluster bench's: a GCN (hidden 64,64, Adam) on the first
/// `--batch` graphs of that file.
struct StepCost: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "step")
    @Option var layers = "3,3,3"
    @Option var batch = 32
    @Option var seconds = 2.0
    @Option(help: "The tensor format both ways, samples' inputs included, as gradctl train's --tensor-format.") var format: TensorFormat = .b64
    @Option(help: "Parts the batch is cut into (gradctl train's --parallel with one server): one partial sum each.") var parts = 1
    @Option(help: "JSON Lines of graph samples (the molecules): the cluster bench's GCN instead of the dense --layers.")
    var graphs: String?
    @Flag(help: "Time only the server's handler (for a profiler).") var serverOnly = false

    func run() throws {
        var configuration = GradserveConfiguration()
        let data: Dataset, layout: ParameterLayout
        if let graphs {
            data = try Dataset.load(path: graphs)
            guard case .graph(let first)? = data.samples.first?.input else { throw ValidationError("\(graphs) holds no graph samples") }
            configuration.network = .gcn(features: first.featureCount, hidden: [64, 64], readout: .sum, maxNodes: 1000, maxEdges: 4000)
            configuration.optimizer = OptimizerConfiguration(kind: .adam, learningRate: 0.003)
            layout = try GCN(features: first.featureCount, hidden: [64, 64], readout: .sum).layout
        } else {
            let sizes = try sizes(layers)
            configuration.network = .mlp(layers: sizes)
            data = Dataset.synthetic(count: batch * 256, dimension: sizes[0], seed: 5)
            layout = try MLP(layers: sizes).layout
        }
        let service = try Gradserve(configuration: configuration, logger: Logger(label: "gradbench") { _ in SwiftLogNoOpLogHandler() })
        // Successive steps take successive batches, as training does: one batch over and over would
        // let the branch predictor and the caches learn its bytes.
        let encoded = EncodedSample.encoding(data.samples, format: format)
        let batches = stride(from: 0, to: encoded.count - batch + 1, by: batch).map { Trainer.split(Array(encoded[$0..<($0 + batch)]), into: max(1, parts)) }
        guard let samples = batches.first else { throw ValidationError("fewer than \(batch) samples") }
        let mean = TensorSet(layout: layout, storage: (0..<layout.count).map { Float($0 % 7) * 1e-4 })

        func request(version: Int) -> HTTPRequest {
            var writer = JSONWriter()
            writer.stepRequest(gradients: EncodedTensors(mean, format: format), version: version, parts: batches[version % batches.count], reduce: .sum, format: format, perSampleClipNorm: nil, results: .sum)
            let head = HTTPRequestHead(method: "POST", target: "/step", version: .http11,
                                       headers: HTTPHeaders([("Host", "bench"), ("Content-Length", String(writer.bytes.count))]),
                                       contentLength: writer.bytes.count, keepAlive: true, expectsContinue: false)
            return HTTPRequest(head: head, body: writer.bytes)
        }
        // Each step lands on the version the one before made; only the handler is timed.
        let clock = ContinuousClock()
        var answer: [UInt8] = [], serverTime = Duration.zero, serverCalls = 0, version = 0
        while serverTime < .seconds(seconds) || serverCalls < 10 {
            let next = request(version: version)
            let start = clock.now
            let response = service.app.handle(next)
            serverTime += clock.now - start
            guard response.status == .ok else { throw ValidationError("HTTP \(response.status.code): \(String(decoding: response.body, as: UTF8.self))") }
            answer = response.body
            version += 1
            serverCalls += 1
        }
        let serverSeconds = serverTime / .seconds(1)
        let body = request(version: 0).body
        let (clientCalls, clientSeconds) = try measure(seconds: serverOnly ? 0 : seconds) {
            let step = try JSONReader.read(answer) { try StepResponse(reading: &$0, layout: layout) }
            // The parts' sums added and averaged as the trainer does.
            let total = Trainer.combine(step.parts, layout: layout)
            let next = TensorSet(layout: layout, meanOf: total.sum, count: total.samples)
            var writer = JSONWriter()
            writer.stepRequest(gradients: EncodedTensors(next, format: format), version: step.state.version, parts: samples, reduce: .sum, format: format,
                               perSampleClipNorm: nil, results: .sum)
            guard writer.bytes.count > 0 else { throw ValidationError("empty request") }
        }
        emit([("bench", "step"), ("layers", graphs == nil ? layers : "gcn 64,64"), ("batch", batch), ("parts", samples.count), ("request_bytes", body.count), ("response_bytes", answer.count),
              ("server_us", serverSeconds / Double(serverCalls) * 1e6), ("client_us", clientSeconds / Double(clientCalls) * 1e6)])
    }
}
