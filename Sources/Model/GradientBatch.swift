/// Per-sample gradients of a batch, stored as one `sampleCount x layout.count` block.
public struct GradientBatch: Sendable {
    public let layout: ParameterLayout
    public var results: SampleResults
    public var storage: [Float]

    /// A batch whose storage `write` fills completely (it starts uninitialized, so that large
    /// batches are not zeroed first) with the outputs (K a sample), returning each sample's loss.
    init(layout: ParameterLayout, sampleCount: Int, outputCount: Int,
         writing write: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) throws(ModelError) -> [Float]) throws(ModelError) {
        var losses: [Float] = []
        var failure: ModelError?
        var outputs = [Float](repeating: 0, count: sampleCount * outputCount)
        storage = outputs.withUnsafeMutableBufferPointer { outputs in
            [Float](unsafeUninitializedCapacity: sampleCount * layout.count) { buffer, count in
                guard let base = buffer.baseAddress, !buffer.isEmpty, let outputBase = outputs.baseAddress else { return }
                do throws(ModelError) {
                    losses = try write(base, outputBase)
                    count = buffer.count
                } catch {
                    failure = error
                    count = 0
                }
            }
        }
        if let failure { throw failure }
        self.layout = layout
        self.results = SampleResults(outputCount: outputCount, losses: losses, outputs: outputs)
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
