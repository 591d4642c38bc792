import ArgumentParser
import Client
import CommandSupport
import Foundation
import Model
import Wire

/// Measurements for `make bench`. Each subcommand prints one JSON object on stdout;
/// `bench/run.sh` collects them next to the peers' figures in BENCHMARKS.md.
@main
struct GradBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradbench",
        abstract: "Benchmarks of gradserve's model math, wire format and training loop.",
        subcommands: [ModelMath.self, GraphMath.self, WireFormat.self, Copy.self, InProcess.self, Remote.self, StepCost.self, PingPong.self, Floats.self])

    static func main() async {
        BLAS.configure()  // Before anything else: OpenBLAS's idle thread pool would spin on a core.
        LargeBlocks.keep(oneArena: true)  // As in gradctl, whose client the remote benchmarks measure.
        await main(nil)
    }
}

/// Runs `body` repeatedly for at least `seconds` and returns (repetitions, elapsed seconds).
func measure(seconds: Double, _ body: () throws -> Void) rethrows -> (count: Int, seconds: Double) {
    try body()  // warm-up: caches, lazily allocated buffers
    let clock = ContinuousClock()
    let start = clock.now
    var count = 0
    var elapsed = 0.0
    repeat {
        try body()
        count += 1
        let duration = clock.now - start
        elapsed = Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    } while elapsed < seconds
    return (count, elapsed)
}

func emit(_ fields: [(String, Any)]) {
    let body = fields.map { key, value -> String in
        switch value {
        case let text as String: "\"\(key)\": \"\(text)\""
        case let number as Double: "\"\(key)\": \(number.isFinite ? String(number) : "null")"
        default: "\"\(key)\": \(value)"
        }
    }.joined(separator: ", ")
    print("{\(body)}")
}

func sizes(_ text: String) throws -> [Int] {
    let values = try SizeList.parse(text, option: "--layers")
    guard values.count == 3 else { throw ValidationError("--layers: expected three sizes like 64,64,64") }
    return values
}

/// Per-sample gradients of the dense model on one core.
struct ModelMath: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "model")
    @Option var layers = "64,64,64"
    @Option(help: "Samples per call.") var batch = 32
    @Option var seconds = 2.0

    func run() throws {
        let sizes = try sizes(layers)
        let mlp = try MLP(layers: sizes)
        let parameters = mlp.makeParameters(.glorot, seed: 1)
        let samples = Dataset.synthetic(count: batch, dimension: sizes[0], seed: 2).samples
        let scratch = Scratch()
        let (calls, elapsed) = try measure(seconds: seconds) {
            // Handed back, as the server does, so that each call writes into the same block.
            scratch.recycle(try mlp.gradients(of: samples, parameters: parameters, scratch: scratch))
        }
        let (d, h1, h2) = (Double(sizes[0]), Double(sizes[1]), Double(sizes[2]))
        // Forward W1 x and W2 h1; backward dW3, dW2 (outer product), W2ᵀ dz2, dW1 (outer product).
        let flops = 4 * h1 * d + 6 * h2 * h1 + 4 * h2
        let rate = Double(calls * batch) / elapsed
        emit([("bench", "model"), ("layers", layers), ("batch", batch), ("samples_per_s", rate), ("gflops", rate * flops / 1e9),
              ("gradient_bytes", mlp.layout.count * 4)])
    }
}

/// Per-sample gradients of the graph model on molecules, on one core.
struct GraphMath: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "graph")
    @Option var data: String
    @Option var hidden = "64,64"
    @Option var seconds = 3.0

    func run() throws {
        let dataset = try Dataset.load(path: data)
        guard case .graph(let first) = dataset.samples[0].input else { throw ValidationError("not graph data") }
        let gcn = try GCN(features: first.featureCount, hidden: try SizeList.parse(hidden, option: "--hidden"))
        let parameters = gcn.makeParameters(.glorot, seed: 1)
        let scratch = Scratch()
        var sum = TensorSet(zerosFor: gcn.layout)
        let batches = stride(from: 0, to: dataset.samples.count, by: 32).map { Array(dataset.samples[$0..<min($0 + 32, dataset.samples.count)]) }
        var index = 0
        var graphs = 0
        let (_, elapsed) = try measure(seconds: seconds) {
            let (_, partial) = try gcn.gradientSum(of: batches[index % batches.count], parameters: parameters, scratch: scratch)
            for i in 0..<sum.storage.count { sum.storage[i] += partial.storage[i] }
            graphs += batches[index % batches.count].count
            index += 1
        }
        emit([("bench", "graph"), ("hidden", hidden), ("graphs_per_s", Double(graphs) / elapsed)])
    }
}

/// JSON encoding and decoding of a `/gradients` answer, in numbers and in the compact form.
struct WireFormat: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "wire")
    @Option var layers = "64,64,64"
    @Option var samples = 32
    @Option var seconds = 2.0
    @Option(help: "Write the numbers document here, for the peer to read.") var output: String?

    func run() throws {
        let sizes = try sizes(layers)
        let mlp = try MLP(layers: sizes)
        let batch = try mlp.gradients(of: Dataset.synthetic(count: samples, dimension: sizes[0], seed: 3).samples,
                                      parameters: mlp.makeParameters(.glorot, seed: 1))
        for format in TensorFormat.allCases {
            var document: [UInt8] = []
            let encode = measure(seconds: seconds) {
                var writer = JSONWriter(capacity: batch.storage.count * 12)
                GradientsResponse.encode(version: 1, batch: batch, format: format, to: &writer)
                document = writer.bytes
            }
            let decode = try measure(seconds: seconds) {
                _ = try JSONReader.read(document) { try GradientsResponse(reading: &$0) }
            }
            if format == .numbers, let output { _ = FileManager.default.createFile(atPath: output, contents: Data(document)) }
            let megabytes = Double(document.count) / 1e6
            emit([("bench", "wire"), ("layers", layers), ("format", format.rawValue), ("bytes", document.count),
                  ("encode_mb_per_s", megabytes * Double(encode.count) / encode.seconds),
                  ("decode_mb_per_s", megabytes * Double(decode.count) / decode.seconds),
                  ("encode_ms", 1000 * encode.seconds / Double(encode.count)),
                  ("decode_ms", 1000 * decode.seconds / Double(decode.count))])
        }
    }
}

/// The machine's copy bandwidth: the bound for writing per-sample gradients.
struct Copy: ParsableCommand {
    @Option var megabytes = 256
    @Option var seconds = 2.0

    func run() {
        let count = megabytes << 20
        let source = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64)
        let target = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64)
        source.initializeMemory(as: UInt8.self, repeating: 1, count: count)
        target.initializeMemory(as: UInt8.self, repeating: 0, count: count)
        let (copies, elapsed) = measure(seconds: seconds) { target.copyMemory(from: source, byteCount: count) }
        // A copy reads and writes every byte.
        emit([("bench", "copy"), ("copy_gb_per_s", Double(copies * count) / elapsed / 1e9)])
        source.deallocate()
        target.deallocate()
    }
}

/// The training loop of `gradctl train` without HTTP: per-sample gradients, the client's
/// averaging, one optimizer step, per batch.
struct InProcess: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inprocess")
    @Option var layers = "3,3,3"
    @Option var synthetic = 20_000
    @Option var batch = 32
    @Option(help: "Epochs to time; the median epoch's rate is reported.") var epochs = 3

    func run() throws {
        let sizes = try sizes(layers)
        let mlp = try MLP(layers: sizes)
        var parameters = mlp.makeParameters(.glorot, seed: 42)
        let optimizer = try Optimizer(OptimizerConfiguration())
        var state = optimizer.makeState(for: mlp.layout)
        let data = Dataset.synthetic(count: synthetic, dimension: sizes[0], seed: 1).samples
        let scratch = Scratch()
        let clock = ContinuousClock()
        var rates: [Double] = []
        for _ in 0..<max(epochs, 1) {
            let start = clock.now
            for batchStart in stride(from: 0, to: data.count, by: batch) {
                let samples = Array(data[batchStart..<min(batchStart + batch, data.count)])
                let gradients = try mlp.gradients(of: samples, parameters: parameters, scratch: scratch)
                try optimizer.apply(GradientUpdate(gradients.mean()), to: &parameters, state: &state)
                scratch.recycle(gradients)
            }
            let duration = clock.now - start
            rates.append(Double(data.count) / (Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18))
        }
        emit([("bench", "inprocess"), ("layers", layers), ("samples_per_s", rates.sorted()[rates.count / 2])])
    }
}
