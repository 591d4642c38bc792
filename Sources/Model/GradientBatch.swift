/// Per-sample gradients of a batch, stored as one `sampleCount x layout.count` block.
public struct GradientBatch: Sendable {
    public let layout: ParameterLayout
    public var results: [SampleResult]
    public var storage: [Float]

    public init(layout: ParameterLayout, sampleCount: Int) {
        self.layout = layout
        self.results = Array(repeating: SampleResult(loss: 0, output: 0), count: sampleCount)
        self.storage = [Float](repeating: 0, count: sampleCount * layout.count)
    }

    public var count: Int { results.count }

    /// The gradient of sample `i`.
    public func gradient(_ i: Int) -> TensorSet {
        let start = i * layout.count
        return TensorSet(layout: layout, storage: Array(storage[start..<(start + layout.count)]))
    }

    /// The mean of the per-sample gradients, parameter by parameter.
    public func mean() -> TensorSet {
        TensorSet.mean(of: (0..<count).map(gradient))
    }
}

extension TensorSet {
    /// The element-wise mean of sets that share one layout (the client's averaging step).
    /// Sums in Float64 so that the mean does not depend on the order of a large batch.
    public static func mean(of sets: [TensorSet]) -> TensorSet {
        precondition(!sets.isEmpty, "the mean of no gradients is undefined")
        let layout = sets[0].layout
        precondition(sets.allSatisfy { $0.layout == layout }, "gradients of different layouts")
        var sum = [Double](repeating: 0, count: layout.count)
        for set in sets {
            for i in 0..<layout.count { sum[i] += Double(set.storage[i]) }
        }
        let n = Double(sets.count)
        return TensorSet(layout: layout, storage: sum.map { Float($0 / n) })
    }
}
