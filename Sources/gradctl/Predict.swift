import ArgumentParser
import Client
import Foundation
import Wire

/// `gradctl predict`: the outputs for every sample of a file.
struct Predict: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Outputs for every sample of a CSV or JSON Lines file, in input order, batched over the servers.")

    enum Format: String, ExpressibleByArgument { case csv, jsonl }

    @Option(name: .customLong("server"), help: ArgumentHelp(
        "Server base URL (http://host:port); repeat to spread the requests over several servers, which must hold the same parameters.",
        valueName: "url"))
    var servers: [String] = ["http://127.0.0.1:8080"]
    @Option(help: ArgumentHelp(
        "Samples: CSV (the inputs, one sample a line; a target column is allowed and ignored) or JSON Lines (vectors or graphs; t optional).",
        valueName: "file"))
    var data: String
    @Option(help: ArgumentHelp("Where to write the outputs, one a line in input order (default: standard output).", valueName: "file"))
    var out: String?
    @Option(help: ArgumentHelp("csv (a header, then one output a line) or jsonl ({\"output\": y} a line); default: from --out's extension, else csv.",
                               valueName: "format"))
    var format: Format?
    @Option(help: ArgumentHelp("Samples per request (1 or more).", valueName: "samples")) var batch = 256
    @Option(help: ArgumentHelp("Requests in flight at once over all servers (1 or more; at least one per server, and twice this many are queued ahead).",
                               valueName: "requests"))
    var parallel = 4
    @Option(help: ArgumentHelp("Seconds allowed for one request (above 0); a server slower than this is left out.", valueName: "seconds"))
    var timeout = 60.0
    @Option(help: ArgumentHelp("File holding the bearer token (or set GRADSERVE_TOKEN); surrounding whitespace is ignored.", valueName: "file"))
    var tokenFile: String?

    func validate() throws {
        guard batch >= 1, parallel >= 1 else { throw ValidationError("--batch and --parallel must each be at least 1") }
        guard timeout > 0 else { throw ValidationError("--timeout must be above 0 seconds") }
    }

    func run() async throws {
        let transport = CurlTransport(maxConnections: max(parallel, servers.count))
        let serverOptions = try ServerOptions.parse(["--timeout", String(timeout)] + (tokenFile.map { ["--token-file", $0] } ?? []))
        let clients = try servers.map { try serverOptions.makeClient($0, transport: transport) }
        let model = try await clients[0].model()
        let dataset = try Dataset.load(path: data, inputSize: model.model == "mlp" ? model.layers[0] : nil)
        var options = Trainer.Options()
        options.parallel = parallel
        let isTerminal = isatty(STDERR_FILENO) == 1, total = dataset.samples.count
        let answers = try await Trainer(servers: clients, options: options).predict(dataset, batchSize: batch) { done in
            guard isTerminal else { return }
            let width = 30, filled = width * done / max(total, 1)
            FileHandle.standardError.write(Data("\r[\(String(repeating: "=", count: filled))\(String(repeating: " ", count: width - filled))] \(done)/\(total)".utf8))
        }
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
        let chosen = format ?? (out?.hasSuffix(".jsonl") == true ? .jsonl : .csv)
        let text = chosen == .csv ? Self.csv(answers) : Self.jsonLines(answers)
        if let out {
            guard FileManager.default.createFile(atPath: out, contents: Data(text.utf8)) else { throw ValidationError("--out: cannot write \(out)") }
            print("wrote the outputs of \(answers.count) samples to \(out)")
        } else {
            print(text, terminator: "")
        }
    }

    // Float's description is the shortest text that reads back to the same value.

    /// A header, then a line per sample: its outputs (`output`, or `output_0`...), and for
    /// classifiers its class (softmax) or labels (sigmoid) and probabilities.
    static func csv(_ answers: ForwardResponse) -> String {
        let k = answers.outputCount
        func names(_ prefix: String) -> [String] { k == 1 ? [prefix] : (0..<k).map { "\(prefix)_\($0)" } }
        var header = names("output")
        if answers.classes != nil { header.append("class") }
        if answers.labels != nil { header += names("label") }
        if answers.probabilities != nil { header += names("probability") }
        var text = header.joined(separator: ",") + "\n"
        for i in 0..<answers.count {
            var fields = answers.outputs[(i * k)..<((i + 1) * k)].map { "\($0)" }
            if let classes = answers.classes { fields.append("\(classes[i])") }
            if let labels = answers.labels { fields += labels[(i * k)..<((i + 1) * k)].map { "\($0)" } }
            if let probabilities = answers.probabilities { fields += probabilities[(i * k)..<((i + 1) * k)].map { "\($0)" } }
            text += fields.joined(separator: ",") + "\n"
        }
        return text
    }

    /// A line per sample: `{"output": y}` (a list when K > 1), with `class` or `labels` and `probabilities` for classifiers.
    static func jsonLines(_ answers: ForwardResponse) -> String {
        let k = answers.outputCount
        func list<T>(_ values: ArraySlice<T>) -> String { k == 1 ? "\(values.first!)" : "[" + values.map { "\($0)" }.joined(separator: ", ") + "]" }
        var text = ""
        for i in 0..<answers.count {
            let row = (i * k)..<((i + 1) * k)
            var line = "{\"output\": \(list(answers.outputs[row]))"
            if let classes = answers.classes { line += ", \"class\": \(classes[i])" }
            if let labels = answers.labels { line += ", \"labels\": \(list(labels[row]))" }
            if let probabilities = answers.probabilities { line += ", \"probabilities\": \(list(probabilities[row]))" }
            text += line + "}\n"
        }
        return text
    }
}
