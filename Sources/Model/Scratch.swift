/// Reusable working memory for one thread's forward and backward passes.
///
/// Buffers are named by what they hold (as llm.c names its activation tensors) and each grows
/// to the largest size asked of it and is then reused, so computing many samples allocates
/// nothing per sample. A network's per-sample and batched passes use the same names at
/// different sizes, never at once. Not thread-safe: use it from one thread at a time (a pool
/// may hand it from thread to thread).
public final class Scratch: @unchecked Sendable {
    /// Float buffers. Layers count from 1; one sample's buffer is one row, a batch's is n rows.
    enum Buffer: Hashable {
        /// The batch's inputs, one row per sample.
        case inputs
        /// a_l = f(z_l) of hidden layer l.
        case activations(layer: Int)
        /// z_l of hidden layer l, kept only for activations whose derivative needs it (GELU).
        case preactivations(layer: Int)
        /// d loss / d a_l, turned in place into d loss / d z_l.
        case layerGradient(layer: Int)
        /// The outputs y, K per sample.
        case outputs
        /// d loss / d y, K per sample.
        case outputGradient
        /// GCN: M = H W before propagation, and Â dZ on the way back.
        case product
        case propagatedGradient
        /// GCN: the graph-level vector the output layer reads, and its gradient.
        case readout
        case readoutGradient
        /// GCN: 1 / sqrt(degree) of each node.
        case degreeScales
    }

    /// Integer buffers: a graph's neighbour lists.
    enum IntBuffer: Hashable {
        case rowStarts
        case neighbours
        case fill
    }

    private var floatBuffers: [Buffer: UnsafeMutableBufferPointer<Float>] = [:]
    private var intBuffers: [IntBuffer: UnsafeMutableBufferPointer<Int32>] = [:]

    public init() {}

    deinit {
        for buffer in floatBuffers.values { buffer.deallocate() }
        for buffer in intBuffers.values { buffer.deallocate() }
    }

    /// The memory the buffers hold now, in bytes.
    public var byteCount: Int {
        floatBuffers.values.reduce(0) { $0 + $1.count * MemoryLayout<Float>.stride }
            + intBuffers.values.reduce(0) { $0 + $1.count * MemoryLayout<Int32>.stride }
    }

    /// At least `count` floats for `buffer`. Their contents are unspecified.
    func floats(_ buffer: Buffer, count: Int) -> UnsafeMutablePointer<Float> {
        Self.buffer(&floatBuffers, buffer, count)
    }

    /// At least `count` 32-bit integers for `buffer`. Their contents are unspecified.
    func ints(_ buffer: IntBuffer, count: Int) -> UnsafeMutablePointer<Int32> {
        Self.buffer(&intBuffers, buffer, count)
    }

    private static func buffer<Key, T>(_ buffers: inout [Key: UnsafeMutableBufferPointer<T>], _ key: Key, _ count: Int) -> UnsafeMutablePointer<T> {
        if let existing = buffers[key], existing.count >= max(count, 1) { return existing.baseAddress! }
        buffers[key]?.deallocate()
        let fresh = UnsafeMutableBufferPointer<T>.allocate(capacity: max(count, 1))
        buffers[key] = fresh
        return fresh.baseAddress!
    }
}
