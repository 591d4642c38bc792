import Model
import Testing
@testable import Wire

@Suite struct CheckpointFileTests {
    let layout = ParameterLayout([("W1", [2, 3]), ("W3", [2])])

    func model(layers: [Int] = [3, 2, 2], optimizer: OptimizerConfiguration.Kind = .adam, options: NetworkOptions = NetworkOptions()) -> ModelDescription {
        ModelDescription(model: "mlp", layers: layers, readout: nil, options: options, layout: layout,
                         optimizer: .init(configuration: OptimizerConfiguration(kind: optimizer), step: 4, currentLearningRate: 0.001),
                         maxStaleness: 0, version: 4)
    }

    @Test func aCheckpointFileReadsBackBitForBit() throws {
        let values: [Float] = [1.5, -0.0, .leastNonzeroMagnitude, 3e38, -7, 0.1, 2, 4]
        let checkpoint = Checkpoint(version: 4, parameters: TensorSet(layout: layout, storage: values), optimizer: .adam,
                                    optimizerState: OptimizerState(step: 4, first: values.reversed(), second: values.map { abs($0) }))
        let back = try CheckpointFile(decoding: CheckpointFile(model: model(), checkpoint: checkpoint).encoded())
        #expect(back.model == model())
        #expect(back.checkpoint.version == 4)
        #expect(back.checkpoint.parameters.storage.map(\.bitPattern) == values.map(\.bitPattern))
        #expect(back.checkpoint.optimizerState == checkpoint.optimizerState)
        #expect(back.mismatch(with: model()) == nil)
    }

    @Test func aCheckpointForAnotherModelOrOptimizerIsNamed() {
        let file = CheckpointFile(model: model(), checkpoint: Checkpoint(
            version: 0, parameters: TensorSet(zerosFor: layout), optimizer: .adam, optimizerState: OptimizerState(step: 0, first: [], second: [])))
        #expect(file.mismatch(with: model(layers: [3, 2, 3])) == "the checkpoint holds a mlp 3,2,2 with adam, the server trains a mlp 3,2,3 with adam")
        #expect(file.mismatch(with: model(optimizer: .sgd)) == "the checkpoint holds a mlp 3,2,2 with adam, the server trains a mlp 3,2,2 with sgd")
        // Same layout, another activation: the parameters would fit, the network they belong to would not.
        #expect(file.mismatch(with: model(options: NetworkOptions(activation: .relu))) == "the checkpoint holds a mlp 3,2,2 "
            + "(tanh, 1 output, squared_error, no output bias) with adam, the server trains a mlp 3,2,2 (relu, 1 output, squared_error, no output bias) with adam")
    }

    /// `layers` lists widths: a wide network's product of widths (1024³ = 2³⁰) and a deep one's
    /// count (17 sizes) are far past what a tensor's shape may hold, and both read back.
    @Test(arguments: [[1024, 1024, 1024], [3] + [Int](repeating: 65_536, count: 16)])
    func aModelDescriptionOfAWideOrDeepNetworkReadsBack(layers: [Int]) throws {
        var writer = JSONWriter()
        model(layers: layers).encode(to: &writer)
        #expect(try JSONReader.read(writer.bytes) { try ModelDescription(reading: &$0) } == model(layers: layers))
    }

    @Test func aModelDescriptionWithAWidthBelowOneIsRefused() {
        var writer = JSONWriter()
        model(layers: [3, 0, 2]).encode(to: &writer)
        #expect(throws: WireError.self) { try JSONReader.read(writer.bytes) { try ModelDescription(reading: &$0) } }
    }

    @Test func aFileThatIsNotACheckpointIsRefused() {
        #expect(throws: WireError.invalidField(path: "format", message: #"expected "gradserve-checkpoint-1", got none: not a gradserve checkpoint file"#)) {
            try CheckpointFile(decoding: Array(#"{"version": 1}"#.utf8))
        }
    }
}
