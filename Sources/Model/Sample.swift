/// What a model reads for one sample.
public enum Input: Sendable, Equatable {
    /// A fixed-length feature vector (the dense model).
    case vector([Float])
    /// A graph with one feature row per node (the graph model).
    case graph(Graph)
}

/// One training sample: an input and its target.
public struct Sample: Sendable, Equatable {
    public var input: Input
    public var target: Target

    public init(_ input: Input, target: Target) {
        self.input = input
        self.target = target
    }

    public init(_ input: Input, target: Float) {
        self.init(input, target: .number(target))
    }

    public init(x: [Float], t: Float) {
        self.init(.vector(x), target: .number(t))
    }
}

/// The losses and outputs of a batch of samples, K outputs each, stored flat (one allocation
/// per batch, not per sample).
public struct SampleResults: Sendable, Equatable {
    public let outputCount: Int
    public var losses: [Float]
    /// `count x outputCount`, row-major.
    public var outputs: [Float]

    public init(outputCount: Int, losses: [Float], outputs: [Float]) {
        precondition(outputs.count == losses.count * outputCount, "one row of outputs per loss")
        self.outputCount = outputCount
        self.losses = losses
        self.outputs = outputs
    }

    public var count: Int { losses.count }

    /// The losses added in Float64 in sample order: the same number whichever side adds them
    /// (`SampleResults.lossSum(of:)`).
    public var lossSum: Double { Self.lossSum(of: losses) }

    public static func lossSum(of losses: some Sequence<Float>) -> Double {
        losses.reduce(0) { $0 + Double($1) }
    }

    /// The outputs of sample `i`.
    public func outputs(_ i: Int) -> ArraySlice<Float> {
        outputs[(i * outputCount)..<((i + 1) * outputCount)]
    }
}
