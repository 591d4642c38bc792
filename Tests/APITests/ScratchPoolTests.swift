import Model
import Testing
@testable import API

@Suite struct ScratchPoolTests {
    /// A burst leaves at most `maxKept` scratches behind, and none that grew past `maxKeptBytes`.
    @Test func thePoolKeepsABoundedAmountOfMemory() throws {
        let pool = ScratchPool(maxKept: 2, maxKeptBytes: 100_000)
        let app = try InProcessApp { $0.network = .mlp(layers: [64, 256, 256]) }
        let network = app.gradserve.store.network
        let parameters = app.gradserve.store.snapshot().parameters
        func sample() -> Sample { Sample(x: [Float](repeating: 0.5, count: 64), t: 1) }
        // Three at once: three scratches exist, two are kept.
        pool.with { a in pool.with { b in pool.with { c in
            for scratch in [a, b, c] { _ = try? network.gradients(of: [sample()], parameters: parameters, scratch: scratch) }
        } } }
        #expect(pool.keptCount == 2)
        // A large batch grows its scratch past the limit: it is dropped, not kept.
        let big = pool.with { scratch in
            _ = try? network.gradients(of: (0..<64).map { _ in sample() }, parameters: parameters, scratch: scratch)
            return scratch.byteCount
        }
        #expect(big > 100_000)
        #expect(pool.keptCount == 1)
    }
}
