import CLinux

/// glibc's allocator set up for a process that allocates and frees blocks of megabytes on every
/// training step: a large model's gradient sums, mean and request and answer bodies.
///
/// By default glibc maps a block above its threshold (128 KiB, raised to the largest block freed
/// so far, at most 32 MiB) fresh from the kernel and unmaps it when freed, gives back the top of
/// its heap once 2 thresholds of it are free, and unmaps a thread arena's extra heap once it is
/// empty. Each step then faults its blocks in again, page by page, each page zeroed by the
/// kernel. At 1024,1024,1024 with batches of 8 (`gradctl train`, three epochs of 20 steps), that
/// was 5,400 page faults a step in gradctl and 3,600 in gradserve, a third of the client's time.
public enum LargeBlocks {
    /// Blocks up to 32 MiB (glibc's ceiling for the threshold) come from the heap, and up to
    /// 256 MiB of free memory at a heap's top stays mapped, so freed blocks are reused. With
    /// `oneArena`, every thread allocates from the main heap, which grows without extra heaps:
    /// for a client whose threads take turns with large blocks, not for a server's many threads
    /// allocating at once. Call it first thing in `main`, before threads start.
    public static func keep(oneArena: Bool) {
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, 256 << 20)
        if oneArena { _ = mallopt(M_ARENA_MAX, 1) }
    }
}
