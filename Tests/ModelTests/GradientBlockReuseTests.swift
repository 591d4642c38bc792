import Testing
@testable import Model

/// A batch handed back with `Scratch.recycle` lends its storage to the next batch made with that
/// scratch. The values must not depend on it: every row is written in full before it is read.
@Suite struct GradientBlockReuseTests {
    @Test func aRecycledBlockIsReusedAndGivesTheSameGradientsBitForBit() throws {
        let mlp = try MLP(layers: [5, 7, 4])
        let parameters = mlp.makeParameters(.glorot, seed: 11)
        var generator = SeededGenerator(seed: 12)
        let samples = (0..<9).map { _ in
            Sample(x: (0..<5).map { _ in Float.random(in: -2..<2, using: &generator) }, t: Float.random(in: -1..<1, using: &generator))
        }
        let scratch = Scratch()
        var addresses: Set<UnsafeRawPointer> = []
        // Larger, smaller, then larger again: the count follows the batch, the memory stays.
        for count in [9, 3, 9, 1, 6] {
            let part = Array(samples.prefix(count))
            let batch = try mlp.gradients(of: part, parameters: parameters, scratch: scratch)
            let fresh = try mlp.gradients(of: part, parameters: parameters, scratch: Scratch())
            #expect(batch.storage.count == count * mlp.layout.count)
            #expect(batch.storage.map(\.bitPattern) == fresh.storage.map(\.bitPattern), "batch of \(count)")
            #expect(batch.results.losses == fresh.results.losses)
            addresses.insert(batch.storage.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress!) })
            scratch.recycle(batch)
            #expect(scratch.byteCount >= 9 * mlp.layout.count * 4, "the scratch holds the block")
        }
        #expect(addresses.count == 1, "every batch after the first wrote into the first one's block")
    }

    /// A block whose storage the caller still holds is shared, not spare: the next batch made with
    /// the scratch gets memory of its own, and the caller's values stay as they were.
    @Test func aBlockTheCallerStillHoldsIsNeverWrittenOver() throws {
        let mlp = try MLP(layers: [3, 3, 3])
        let parameters = mlp.makeParameters(.glorot, seed: 1)
        let scratch = Scratch()
        let first = try mlp.gradients(of: [Sample(x: [1, 2, 3], t: 1)], parameters: parameters, scratch: scratch)
        let held = first.storage
        let values = held.map(\.bitPattern)
        scratch.recycle(first)
        let second = try mlp.gradients(of: [Sample(x: [-3, 0.5, 2], t: -1)], parameters: parameters, scratch: scratch)
        #expect(held.map(\.bitPattern) == values)
        #expect(second.storage.map(\.bitPattern) != values)
        #expect(second.storage.withUnsafeBufferPointer { $0.baseAddress } != held.withUnsafeBufferPointer { $0.baseAddress })
    }
}
