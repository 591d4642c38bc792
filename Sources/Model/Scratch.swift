/// Reusable working memory for one thread's forward and backward passes.
///
/// Buffers are named by what they hold (as llm.c names its activation tensors) and each grows
/// to the largest size asked of it and is then reused, so computing many samples allocates
/// nothing per sample. A network's per-sample and batched passes use the same names at
/// different sizes, never at once. Not thread-safe: use it from one thread at a time (a pool
/// may hand it from thread to thread).
public final class Scratch: @unchecked Sendable {
    /// Float buffers. Layers count from 1; one sample's buffer is one row, a batch's is n rows.
    enum Buffer {
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
    enum IntBuffer: Int {
        case rowStarts
        case neighbours
        case fill
    }

    /// Buffers are kept in arrays by slot, so that finding one costs an index, not a hash.
    /// One thread uses a scratch at a time, so the runtime's exclusivity check of each access
    /// (about ten per sample, 5% of a small model's step in a profile) is left out.
    @exclusivity(unchecked) private var floatBuffers: [UnsafeMutableBufferPointer<Float>] = []
    @exclusivity(unchecked) private var intBuffers: [UnsafeMutableBufferPointer<Int32>] = []
    /// The storage of the last `GradientBatch` handed back, for the next one made with this scratch.
    private var spareBlock: [Float] = []

    public init() {}

    deinit {
        for buffer in floatBuffers { buffer.deallocate() }
        for buffer in intBuffers { buffer.deallocate() }
    }

    /// The memory the buffers hold now, in bytes.
    public var byteCount: Int {
        floatBuffers.reduce(0) { $0 + $1.count * MemoryLayout<Float>.stride }
            + intBuffers.reduce(0) { $0 + $1.count * MemoryLayout<Int32>.stride }
            + spareBlock.capacity * MemoryLayout<Float>.stride
    }

    /// Keeps a batch's storage, once its gradients are used, for the next batch made with this
    /// scratch: a large block is then written over instead of mapped and faulted in again.
    public func recycle(_ batch: consuming GradientBatch) {
        spareBlock = batch.storage
    }

    /// The kept block, uniquely referenced (the scratch lets go of it), or an empty array.
    func takeBlock() -> [Float] {
        defer { spareBlock = [] }
        return spareBlock
    }

    /// At least `count` floats for `buffer`. Their contents are unspecified.
    func floats(_ buffer: Buffer, count: Int) -> UnsafeMutablePointer<Float> {
        Self.buffer(&floatBuffers, buffer.slot, count)
    }

    /// At least `count` 32-bit integers for `buffer`. Their contents are unspecified.
    func ints(_ buffer: IntBuffer, count: Int) -> UnsafeMutablePointer<Int32> {
        Self.buffer(&intBuffers, buffer.rawValue, count)
    }

    private static func buffer<T>(_ buffers: inout [UnsafeMutableBufferPointer<T>], _ slot: Int, _ count: Int) -> UnsafeMutablePointer<T> {
        while buffers.count <= slot { buffers.append(UnsafeMutableBufferPointer(start: nil, count: 0)) }
        if buffers[slot].count < max(count, 1) {
            buffers[slot].deallocate()
            buffers[slot] = .allocate(capacity: max(count, 1))
        }
        return buffers[slot].baseAddress!
    }
}

extension Scratch.Buffer {
    /// Where the buffer is kept: the fixed buffers first, then three per layer.
    var slot: Int {
        switch self {
        case .inputs: 0
        case .outputs: 1
        case .outputGradient: 2
        case .product: 3
        case .propagatedGradient: 4
        case .readout: 5
        case .readoutGradient: 6
        case .degreeScales: 7
        case .activations(let layer): 8 + 3 * layer
        case .preactivations(let layer): 9 + 3 * layer
        case .layerGradient(let layer): 10 + 3 * layer
        }
    }
}
