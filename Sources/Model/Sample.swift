/// What a model reads for one sample.
public enum Input: Sendable, Equatable {
    /// A fixed-length feature vector (the dense model).
    case vector([Float])
    /// A graph with one feature row per node (the graph model).
    case graph(Graph)
}

/// One training sample: an input and its regression target.
public struct Sample: Sendable, Equatable {
    public var input: Input
    public var target: Float

    public init(_ input: Input, target: Float) {
        self.input = input
        self.target = target
    }

    public init(x: [Float], t: Float) {
        self.init(.vector(x), target: t)
    }
}

/// The loss and output of one sample.
public struct SampleResult: Sendable, Equatable {
    public var loss: Float
    public var output: Float
}
