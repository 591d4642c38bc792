/// Reusable working memory for one thread's forward and backward passes.
///
/// Each numbered slot grows to the largest size asked of it and is then reused, so computing
/// many samples allocates nothing per sample. Not thread-safe: use it from one thread at a
/// time (a pool may hand it from thread to thread).
public final class Scratch: @unchecked Sendable {
    private var floatSlots: [UnsafeMutableBufferPointer<Float>] = []
    private var intSlots: [UnsafeMutableBufferPointer<Int32>] = []

    public init() {}

    deinit {
        for slot in floatSlots { slot.deallocate() }
        for slot in intSlots { slot.deallocate() }
    }

    /// The memory the slots hold now, in bytes.
    public var byteCount: Int {
        floatSlots.reduce(0) { $0 + $1.count * MemoryLayout<Float>.stride }
            + intSlots.reduce(0) { $0 + $1.count * MemoryLayout<Int32>.stride }
    }

    /// A buffer of at least `count` floats for slot `index`. Its contents are unspecified.
    func floats(_ index: Int, count: Int) -> UnsafeMutablePointer<Float> {
        Self.slot(&floatSlots, index, count)
    }

    /// A buffer of at least `count` 32-bit integers for slot `index`. Its contents are unspecified.
    func ints(_ index: Int, count: Int) -> UnsafeMutablePointer<Int32> {
        Self.slot(&intSlots, index, count)
    }

    private static func slot<T>(_ slots: inout [UnsafeMutableBufferPointer<T>], _ index: Int, _ count: Int) -> UnsafeMutablePointer<T> {
        while slots.count <= index { slots.append(UnsafeMutableBufferPointer(start: nil, count: 0)) }
        if slots[index].count < max(count, 1) {
            slots[index].deallocate()
            slots[index] = .allocate(capacity: max(count, 1))
        }
        return slots[index].baseAddress!
    }
}
