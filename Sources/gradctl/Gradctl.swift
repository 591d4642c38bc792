import ArgumentParser
import Client
import CommandSupport
import Foundation
import Model
import Wire

@main
struct Gradctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradctl",
        abstract: "Talk to gradserve servers and train models on them remotely.",
        subcommands: [Health.self, ModelCommand.self, Params.self, Forward.self, Demo.self, Train.self, Predict.self, CheckpointCommand.self])

    static func main() async {
        BLAS.configure()  // Before anything else: OpenBLAS's idle thread pool would spin on a core.
        LargeBlocks.keep(oneArena: true)
        await main(nil)
    }
}

/// Options every subcommand that talks to one server shares.
struct ServerOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Server base URL (http://host:port).", valueName: "url"))
    var server = "http://127.0.0.1:8080"
    @Option(help: ArgumentHelp("Seconds allowed for one request (above 0).", valueName: "seconds"))
    var timeout = 60.0
    @Option(help: ArgumentHelp("File holding the bearer token (or set GRADSERVE_TOKEN); surrounding whitespace is ignored.", valueName: "file"))
    var tokenFile: String?

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be above 0 seconds") }
    }

    func clientConfiguration() throws -> GradClient.Configuration {
        var configuration = GradClient.Configuration()
        configuration.timeout = .milliseconds(Int64(timeout * 1000))
        configuration.token = try BearerToken.load(file: tokenFile)
        return configuration
    }

    func makeClient(_ url: String? = nil, transport: CurlTransport = CurlTransport()) throws -> GradClient {
        try GradClient(baseURL: url ?? server, configuration: clientConfiguration(), transport: transport)
    }
}

struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Is the server up, and at which version?")
    @OptionGroup var options: ServerOptions
    @Flag(help: "Print the raw JSON answer.") var json = false

    func run() async throws {
        let client = try options.makeClient()
        if json { return printJSON(try await client.raw("/health")) }
        let health = try await client.health()
        print("\(health.status), version \(health.version)")
    }
}

struct ModelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "model", abstract: "What the server trains and how.")
    @OptionGroup var options: ServerOptions
    @Flag(help: "Print the raw JSON answer.") var json = false

    func run() async throws {
        let client = try options.makeClient()
        if json { return printJSON(try await client.raw("/model")) }
        let model = try await client.model()
        print("model       \(model.model) \(model.layers.map(String.init).joined(separator: ","))\(model.readout.map { ", \($0) readout" } ?? "")")
        print("head        \(model.options.description)")
        print("parameters  " + model.parameters.map { "\($0.name) \($0.shape)" }.joined(separator: ", "))
        let optimizer = model.optimizer
        print("optimizer   \(optimizer.configuration.kind.rawValue), learning rate \(optimizer.configuration.learningRate)"
              + (optimizer.configuration.clipNorm.map { ", clip norm \($0)" } ?? "")
              + ", step \(optimizer.step), next rate \(optimizer.currentLearningRate)")
        print("version     \(model.version) (max staleness \(model.maxStaleness))")
    }
}

struct Params: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print every parameter.")
    @OptionGroup var options: ServerOptions
    @Flag(help: "Print the raw JSON answer.") var json = false

    func run() async throws {
        let client = try options.makeClient()
        if json { return printJSON(try await client.raw("/params")) }
        let params = try await client.params()
        let model = try await client.model()
        print("version \(params.version)")
        for parameter in model.parameters {
            guard let tensor = params.parameters[parameter.name] else { continue }
            print("\(parameter.name) \(tensor.shape):")
            print(format(tensor))
        }
    }
}

struct Forward: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The model's output for one input.")
    @OptionGroup var options: ServerOptions
    @Option(help: ArgumentHelp("The input: the server's input size of numbers, comma-separated, such as 1,1,1.", valueName: "numbers"))
    var x: String

    func run() async throws {
        let values = x.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else {
            throw ValidationError("--x: expected numbers like 1,1,1, got \(x)")
        }
        let answer = try await options.makeClient().forward([Sample(x: values.map { $0! }, t: 0)])
        print("y = \(answer.outputs[0])  (version \(answer.version))")
    }
}

func printJSON(_ bytes: [UInt8]) {
    print(String(decoding: bytes, as: UTF8.self))
}

/// A tensor as rows of aligned numbers.
func format(_ tensor: Tensor) -> String {
    let columns = tensor.shape.count >= 2 ? tensor.shape.last! : max(tensor.data.count, 1)
    return stride(from: 0, to: tensor.data.count, by: columns).map { start in
        "  [" + tensor.data[start..<min(start + columns, tensor.data.count)].map { String(format: "%12.7f", $0) }.joined(separator: " ") + " ]"
    }.joined(separator: "\n")
}
