/// A differentiable model with a squared-error loss on a scalar output.
///
/// Implementations hold only configuration; parameters are passed in, so that one network
/// serves many threads and many parameter versions at once.
public protocol Network: Sendable {
    /// The kind as reported by the API, such as "mlp".
    var kind: String { get }
    var layout: ParameterLayout { get }

    /// Deterministic first parameters.
    func makeParameters(_ initialization: Initialization, seed: UInt64) -> TensorSet

    /// Throws, naming the problem, when `input` is not something this network can read.
    func validate(_ input: Input) throws(ModelError)

    /// The output for a validated input.
    func output(for input: Input, parameters: TensorSet, scratch: Scratch) -> Float

    /// Loss and output of a validated sample, adding d loss / d parameter into `gradient`
    /// (a vector of `layout.count` floats, laid out like the parameters).
    func accumulateGradient(
        of sample: Sample, parameters: TensorSet,
        into gradient: UnsafeMutablePointer<Float>, scratch: Scratch
    ) -> SampleResult

    /// Writes (not adds) the gradient of each validated sample into its row of `gradients`
    /// (`samples.count x layout.count`, uninitialized), and returns the losses and outputs.
    /// Throws when a loss or gradient is not finite. A network may batch the work across
    /// samples here; the default runs `accumulateGradient` on zeroed rows.
    func writeGradients(
        of samples: [Sample], parameters: TensorSet,
        into gradients: UnsafeMutablePointer<Float>, scratch: Scratch
    ) throws(ModelError) -> [SampleResult]
}

extension Network {
    public func validate(_ samples: [Sample]) throws(ModelError) {
        for (i, sample) in samples.enumerated() {
            do throws(ModelError) {
                try validate(sample.input)
            } catch {
                throw error.prefixed("samples[\(i)]")
            }
            guard sample.target.isFinite else {
                throw .nonFinite("samples[\(i)].t: \(sample.target) is not finite")
            }
        }
    }

    /// Outputs of many inputs with one parameter snapshot; all are validated before any is computed.
    public func outputs(for inputs: [Input], parameters: TensorSet, scratch: Scratch = Scratch()) throws(ModelError) -> [Float] {
        try check(parameters)
        for (i, input) in inputs.enumerated() {
            do throws(ModelError) { try validate(input) } catch { throw error.prefixed("samples[\(i)]") }
        }
        let outputs = inputs.map { output(for: $0, parameters: parameters, scratch: scratch) }
        if let bad = outputs.firstIndex(where: { !$0.isFinite }) {
            throw .nonFinite("samples[\(bad)]: the output overflows Float32 at these parameters")
        }
        return outputs
    }

    /// One gradient per sample, not averaged.
    public func gradients(of samples: [Sample], parameters: TensorSet, scratch: Scratch = Scratch()) throws(ModelError) -> GradientBatch {
        try check(parameters)
        try validate(samples)
        return try GradientBatch(layout: layout, sampleCount: samples.count) { storage throws(ModelError) in
            try writeGradients(of: samples, parameters: parameters, into: storage, scratch: scratch)
        }
    }

    public func writeGradients(
        of samples: [Sample], parameters: TensorSet,
        into gradients: UnsafeMutablePointer<Float>, scratch: Scratch
    ) throws(ModelError) -> [SampleResult] {
        var results: [SampleResult] = []
        results.reserveCapacity(samples.count)
        for (i, sample) in samples.enumerated() {
            let row = gradients + i * layout.count
            row.initialize(repeating: 0, count: layout.count)
            let result = accumulateGradient(of: sample, parameters: parameters, into: row, scratch: scratch)
            guard result.loss.isFinite, UnsafeBufferPointer(start: row, count: layout.count).allSatisfy(\.isFinite) else {
                throw .nonFinite("samples[\(i)]: the loss or its gradient overflows Float32 at these parameters")
            }
            results.append(result)
        }
        return results
    }

    /// The per-sample losses and outputs, with the gradients summed over the samples
    /// (what a server sends when asked for a partial sum).
    public func gradientSum(of samples: [Sample], parameters: TensorSet, scratch: Scratch = Scratch()) throws(ModelError) -> (results: [SampleResult], sum: TensorSet) {
        try check(parameters)
        try validate(samples)
        var sum = TensorSet(zerosFor: layout)
        let results = sum.storage.withUnsafeMutableBufferPointer { storage in
            samples.map { accumulateGradient(of: $0, parameters: parameters, into: storage.baseAddress!, scratch: scratch) }
        }
        if let bad = results.firstIndex(where: { !$0.loss.isFinite }) {
            throw .nonFinite("samples[\(bad)]: the loss overflows Float32 at these parameters")
        }
        guard sum.isFinite else { throw .nonFinite("gradient_sum: overflows Float32 at these parameters") }
        return (results, sum)
    }

    func check(_ parameters: TensorSet) throws(ModelError) {
        guard parameters.layout == layout else {
            throw .shapeMismatch("parameters: layout \(parameters.layout.names) does not match the model's \(layout.names)")
        }
    }
}

extension ModelError {
    /// The same error with its message placed under `context`, such as "samples[3]".
    public func prefixed(_ context: String) -> ModelError {
        switch self {
        case .invalidShape(let m): .invalidShape("\(context).\(m)")
        case .shapeMismatch(let m): .shapeMismatch("\(context).\(m)")
        case .nonFinite(let m): .nonFinite("\(context).\(m)")
        case .unknownParameter(let m): .unknownParameter("\(context).\(m)")
        case .invalidGraph(let m): .invalidGraph("\(context).\(m)")
        case .invalidConfiguration(let m): .invalidConfiguration("\(context).\(m)")
        }
    }
}
