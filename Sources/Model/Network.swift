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

    /// The loss of a validated sample, writing its K outputs and adding d loss / d parameter
    /// into `gradient` (a vector of `layout.count` floats, laid out like the parameters).
    func accumulateGradient(
        of sample: Sample, parameters: TensorSet,
        into gradient: UnsafeMutablePointer<Float>, outputs: UnsafeMutablePointer<Float>, scratch: Scratch
    ) -> Float

    /// Writes (not adds) the gradient of each validated sample into its row of `gradients`
    /// (`samples.count x layout.count`, uninitialized) and its outputs into its row of
    /// `outputs` (`samples.count x K`), and returns the losses. Throws when a loss or gradient
    /// is not finite. A network may batch the work across samples here; the default runs
    /// `accumulateGradient` on zeroed rows.
    func writeGradients(
        of samples: [Sample], parameters: TensorSet,
        into gradients: UnsafeMutablePointer<Float>, outputs: UnsafeMutablePointer<Float>, scratch: Scratch
    ) throws(ModelError) -> [Float]
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

    public func writeGradients(
        of samples: [Sample], parameters: TensorSet,
        into gradients: UnsafeMutablePointer<Float>, outputs: UnsafeMutablePointer<Float>, scratch: Scratch
    ) throws(ModelError) -> [Float] {
        var losses: [Float] = []
        losses.reserveCapacity(samples.count)
        for (i, sample) in samples.enumerated() {
            let row = gradients + i * layout.count
            row.initialize(repeating: 0, count: layout.count)
            let loss = accumulateGradient(of: sample, parameters: parameters, into: row, outputs: outputs + i * outputCount, scratch: scratch)
            guard loss.isFinite, UnsafeBufferPointer(start: row, count: layout.count).allFinite else {
                throw .nonFinite("samples[\(i)]: the loss or its gradient overflows Float32 at these parameters")
            }
            losses.append(loss)
        }
        return losses
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
                samples.indices.map { i in
                    accumulateGradient(of: samples[i], parameters: parameters, into: storage.baseAddress!,
                                       outputs: outputs.baseAddress! + i * k, scratch: scratch)
                }
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
