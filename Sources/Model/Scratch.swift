/// Reusable working memory for one thread's forward and backward passes.
///
/// Each numbered slot grows to the largest size asked of it and is then reused, so computing
/// many samples allocates nothing per sample. Not thread-safe: use it from one thread at a
/// time (a pool may hand it from thread to thread).
public final class Scratch: @unchecked Sendable {
    private var slots: [UnsafeMutableBufferPointer<Float>] = []

    public init() {}

    deinit {
        for slot in slots { slot.deallocate() }
    }

    /// A buffer of at least `count` floats for slot `index`. Its contents are unspecified.
    func floats(_ index: Int, count: Int) -> UnsafeMutablePointer<Float> {
        while slots.count <= index { slots.append(UnsafeMutableBufferPointer(start: nil, count: 0)) }
        if slots[index].count < count {
            slots[index].deallocate()
            slots[index] = .allocate(capacity: count)
        }
        return slots[index].baseAddress!
    }
}
