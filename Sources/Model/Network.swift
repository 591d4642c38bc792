/// A differentiable model with K outputs and a per-sample loss (`options`).
///
/// Implementations hold only configuration; parameters are passed in, so that one network
/// serves many threads and many parameter versions at once.
public protocol Network: Sendable {
    /// The kind as reported by the API, such as "mlp".
    var kind: String { get }
    var layout: ParameterLayout { get }
    /// Activation, outputs, loss and output bias.
    var options: NetworkOptions { get }

    /// Deterministic first parameters.
    func makeParameters(_ initialization: Initialization, seed: UInt64) -> TensorSet

    /// Throws, naming the problem, when `input` is not something this network can read.
    func validate(_ input: Input) throws(ModelError)

    /// Writes the K outputs of a validated input.
    func output(for input: Input, parameters: TensorSet, into outputs: UnsafeMutablePointer<Float>, scratch: Scratch)

    /// Writes (not adds) the gradient of each validated sample into its row of `gradients`
    /// (`samples.count x layout.count`, uninitialized) and its outputs into its row of
    /// `outputs` (`samples.count x K`), and returns the losses. Throws when a loss or gradient
    /// is not finite. A network batches the work across samples here where it can.
    func writeGradients(
        of samples: [Sample], parameters: TensorSet,
        into gradients: UnsafeMutablePointer<Float>, outputs: UnsafeMutablePointer<Float>, scratch: Scratch
    ) throws(ModelError) -> [Float]

    /// Adds the validated samples' gradients, summed, into `sum` (`layout.count` floats, laid out
    /// like the parameters), writes their outputs into their rows of `outputs`
    /// (`samples.count x K`), and returns the losses; the caller checks that all are finite.
    func accumulateGradientSum(
        of samples: [Sample], parameters: TensorSet,
        into sum: UnsafeMutablePointer<Float>, outputs: UnsafeMutablePointer<Float>, scratch: Scratch
    ) -> [Float]
}

extension Network {
    public var outputCount: Int { options.outputs }
    public var loss: Loss { options.loss }

    public func validate(_ samples: [Sample]) throws(ModelError) {
        for (i, sample) in samples.enumerated() {
            do throws(ModelError) {
                try validate(sample.input)
                try options.loss.validate(sample.target, outputs: options.outputs)
            } catch {
                throw error.prefixed("samples[\(i)]")
            }
        }
    }

    /// Outputs of many inputs with one parameter snapshot (K a row, flat); all are validated
    /// before any is computed.
    public func outputs(for inputs: [Input], parameters: TensorSet, scratch: Scratch = Scratch()) throws(ModelError) -> [Float] {
        try check(parameters)
        for (i, input) in inputs.enumerated() {
            do throws(ModelError) { try validate(input) } catch { throw error.prefixed("samples[\(i)]") }
        }
        let k = outputCount
        let outputs = [Float](unsafeUninitializedCapacity: inputs.count * k) { buffer, count in
            for (i, input) in inputs.enumerated() {
                output(for: input, parameters: parameters, into: buffer.baseAddress! + i * k, scratch: scratch)
            }
            count = inputs.count * k
        }
        if let bad = outputs.firstIndex(where: { !$0.isFinite }) {
            throw .nonFinite("samples[\(bad / k)]: the output overflows Float32 at these parameters")
        }
        return outputs
    }

    /// One gradient per sample, not averaged. Hand the batch back with `scratch.recycle` once used,
    /// and the next call with the scratch writes into the same memory.
    public func gradients(of samples: [Sample], parameters: TensorSet, scratch: Scratch = Scratch()) throws(ModelError) -> GradientBatch {
        try check(parameters)
        try validate(samples)
        return try gradientBatch(ofValidated: samples, parameters: parameters, scratch: scratch)
    }

    /// The per-sample gradients of samples already checked, in the scratch's spare block if it has one.
    func gradientBatch(ofValidated samples: [Sample], parameters: TensorSet, scratch: Scratch) throws(ModelError) -> GradientBatch {
        try GradientBatch(layout: layout, sampleCount: samples.count, outputCount: outputCount,
                          reusing: scratch.takeBlock()) { (storage, outputs) throws(ModelError) in
            try writeGradients(of: samples, parameters: parameters, into: storage, outputs: outputs, scratch: scratch)
        }
    }

    /// The per-sample losses and outputs, with the gradients summed over the samples
    /// (what a server sends when asked for a partial sum).
    public func gradientSum(of samples: [Sample], parameters: TensorSet, scratch: Scratch = Scratch()) throws(ModelError) -> (results: SampleResults, sum: TensorSet) {
        try check(parameters)
        try validate(samples)
        var sum = TensorSet(zerosFor: layout)
        let k = outputCount
        var outputs = [Float](repeating: 0, count: samples.count * k)
        let losses = sum.storage.withUnsafeMutableBufferPointer { storage in
            outputs.withUnsafeMutableBufferPointer { outputs in
                accumulateGradientSum(of: samples, parameters: parameters, into: storage.baseAddress!,
                                      outputs: outputs.baseAddress!, scratch: scratch)
            }
        }
        if let bad = losses.firstIndex(where: { !$0.isFinite }) {
            throw .nonFinite("samples[\(bad)]: the loss overflows Float32 at these parameters")
        }
        guard sum.isFinite else { throw .nonFinite("gradient_sum: overflows Float32 at these parameters") }
        return (SampleResults(outputCount: k, losses: losses, outputs: outputs), sum)
    }

    func check(_ parameters: TensorSet) throws(ModelError) {
        guard parameters.layout == layout else {
            throw .shapeMismatch("parameters: layout \(parameters.layout.names) does not match the model's \(layout.names)")
        }
    }
}

extension ModelError {
    /// The same kind of error with its message changed by `change`.
    public func mapMessage(_ change: (String) -> String) -> ModelError {
        switch self {
        case .invalidShape(let m): .invalidShape(change(m))
        case .shapeMismatch(let m): .shapeMismatch(change(m))
        case .nonFinite(let m): .nonFinite(change(m))
        case .unknownParameter(let m): .unknownParameter(change(m))
        case .invalidGraph(let m): .invalidGraph(change(m))
        case .invalidConfiguration(let m): .invalidConfiguration(change(m))
        case .invalidTarget(let m): .invalidTarget(change(m))
        }
    }

    /// The same error with its message placed under `context`, such as "samples[3]".
    public func prefixed(_ context: String) -> ModelError {
        mapMessage { "\(context).\($0)" }
    }
}
