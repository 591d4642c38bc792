/// Per-sample gradients of a batch, stored as one `sampleCount x layout.count` block.
public struct GradientBatch: Sendable {
    public let layout: ParameterLayout
    public var results: SampleResults
    public var storage: [Float]

    /// A batch whose storage `write` fills completely (it starts uninitialized, so that large
    /// batches are not zeroed first) with the outputs (K a sample), returning each sample's loss.
    /// `block`, when its capacity suffices, is reused as the storage (see `Scratch.recycle`), so
    /// that a block above glibc's mmap threshold is not mapped and faulted in afresh on every call.
    init(layout: ParameterLayout, sampleCount: Int, outputCount: Int, reusing block: consuming [Float] = [],
         writing write: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) throws(ModelError) -> [Float]) throws(ModelError) {
        var losses: [Float] = []
        var failure: ModelError?
        var outputs = [Float](repeating: 0, count: sampleCount * outputCount)
        let needed = sampleCount * layout.count
        func fill(_ buffer: UnsafeMutableBufferPointer<Float>) -> Bool {
            guard let base = buffer.baseAddress, !buffer.isEmpty else { return true }
            do throws(ModelError) {
                losses = try outputs.withUnsafeMutableBufferPointer { outputs throws(ModelError) in try write(base, outputs.baseAddress!) }
                return true
            } catch {
                failure = error
                return false
            }
        }
        if block.capacity >= needed, needed > 0 {
            storage = consume block
            // Only the count changes: the capacity, and the pages behind it, stay.
            if storage.count > needed {
                storage.removeLast(storage.count - needed)
            } else {
                storage.append(contentsOf: repeatElement(0, count: needed - storage.count))
            }
            _ = storage.withUnsafeMutableBufferPointer { fill($0) }
        } else {
            storage = [Float](unsafeUninitializedCapacity: needed) { buffer, count in
                count = fill(buffer) ? buffer.count : 0
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
        return TensorSet(layout: layout, meanOf: sum, count: sets.count)
    }

    /// Each Float64 sum over `count`, then rounded to Float32: a batch's mean gradient from its
    /// sum. A plain loop over the storage, which the compiler turns into vector divisions (same
    /// values). When `count` is a power of two (batches of 8 or 32), its reciprocal is exact and
    /// x · (1/n) is the same real number as x / n, so rounds the same: a multiplication, at a
    /// fraction of a division's cost, gives the same bits.
    public init(layout: ParameterLayout, meanOf sum: [Double], count: Int) {
        precondition(sum.count == layout.count, "a sum laid out by the layout")
        let n = Double(count), reciprocal = 1 / n, powerOfTwo = count > 0 && count & (count - 1) == 0
        let mean = [Float](unsafeUninitializedCapacity: sum.count) { mean, initialized in
            sum.withUnsafeBufferPointer { sum in
                if powerOfTwo {
                    for i in 0..<sum.count { mean[i] = Float(sum[i] * reciprocal) }
                } else {
                    for i in 0..<sum.count { mean[i] = Float(sum[i] / n) }
                }
            }
            initialized = sum.count
        }
        self.init(layout: layout, storage: mean)
    }
}
