import ArgumentParser
import Client
import Foundation

/// `gradctl predict`: the outputs for every sample of a file.
struct Predict: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Outputs for every sample of a CSV or JSON Lines file, in input order, batched over the servers.")

    enum Format: String, ExpressibleByArgument { case csv, jsonl }

    @Option(name: .customLong("server"), help: "Server base URL; repeat to spread the requests over several servers.")
    var servers: [String] = ["http://127.0.0.1:8080"]
    @Option(help: "Samples: CSV (the inputs, a target column is allowed and ignored) or JSON Lines (vectors or graphs; t optional).")
    var data: String
    @Option(help: "Where to write the outputs (default: standard output).") var out: String?
    @Option(help: "csv (one output a line) or jsonl ({\"output\": y} a line); default: from --out's extension, else csv.")
    var format: Format?
    @Option(help: "Samples per request (1 or more).") var batch = 256
    @Option(help: "Requests in flight per server, twice over.") var parallel = 4
    @Option(help: "Seconds allowed for one request.") var timeout = 60.0
    @Option(help: "File holding the bearer token (or set GRADSERVE_TOKEN).") var tokenFile: String?

    func run() async throws {
        let transport = CurlTransport(maxConnections: max(parallel, servers.count))
        let serverOptions = try ServerOptions.parse(["--timeout", String(timeout)] + (tokenFile.map { ["--token-file", $0] } ?? []))
        let clients = try servers.map { try serverOptions.makeClient($0, transport: transport) }
        let model = try await clients[0].model()
        let dataset = try Dataset.load(path: data, inputSize: model.model == "mlp" ? model.layers[0] : nil)
        var options = Trainer.Options()
        options.parallel = parallel
        let isTerminal = isatty(STDERR_FILENO) == 1, total = dataset.samples.count
        let outputs = try await Trainer(servers: clients, options: options).predict(dataset, batchSize: batch) { done in
            guard isTerminal else { return }
            let width = 30, filled = width * done / max(total, 1)
            FileHandle.standardError.write(Data("\r[\(String(repeating: "=", count: filled))\(String(repeating: " ", count: width - filled))] \(done)/\(total)".utf8))
        }
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
        let chosen = format ?? (out?.hasSuffix(".jsonl") == true ? .jsonl : .csv)
        // Float's description is the shortest text that reads back to the same value.
        var text = chosen == .csv ? "output\n" : ""
        for output in outputs { text += chosen == .csv ? "\(output)\n" : "{\"output\": \(output)}\n" }
        if let out {
            guard FileManager.default.createFile(atPath: out, contents: Data(text.utf8)) else { throw ValidationError("--out: cannot write \(out)") }
            print("wrote \(outputs.count) outputs to \(out)")
        } else {
            print(text, terminator: "")
        }
    }
}
