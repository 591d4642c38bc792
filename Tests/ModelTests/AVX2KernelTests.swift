#if arch(x86_64)
import CSIMD
import Testing
@testable import Model

/// CSIMD's AVX2 kernels stand in for Swift loops where the CPU has AVX2. They must give the same
/// bits (the same IEEE operations in the same order, with no fused multiply-add), so these compare
/// them bit for bit with the Swift code, tails and special values included, and check that they
/// write nothing past the end. Skipped on a CPU without AVX2, where the Swift code runs instead.
@Suite(.enabled(if: csimd_has_avx2(), "this CPU has no AVX2: the Swift loops run instead"))
struct AVX2KernelTests {
    /// Runs `kernel` on `values` in a buffer with 16 canaries after them; returns the results and
    /// whether the canaries survived.
    func run(_ values: [Float], _ kernel: (UnsafeMutablePointer<Float>, Int) -> Void) -> (results: [Float], canariesIntact: Bool) {
        // A finite canary: tanh of a NaN gives back the same NaN, which would hide a write.
        let canary: Float = 12_345
        var buffer = values + [Float](repeating: canary, count: 16)
        buffer.withUnsafeMutableBufferPointer { kernel($0.baseAddress!, values.count) }
        return (Array(buffer.prefix(values.count)), buffer.suffix(16).allSatisfy { $0.bitPattern == canary.bitPattern })
    }

    @Test func tanhIsActivationTanhBitForBit() {
        // Every 4099th bit pattern: both signs, every exponent, zeros, infinities and NaNs among them.
        var values = stride(from: UInt64(0), through: UInt64(UInt32.max), by: 4099).map { Float(bitPattern: UInt32($0)) }
        values += [0, -0.0, .infinity, -.infinity, .nan, -.nan, .greatestFiniteMagnitude, .leastNonzeroMagnitude,
                   Float(0.625).nextDown, 0.625, Float(0.625).nextUp, 44, 44.5, -44.5, 88, 1e-3, -1e-3]
        let (results, intact) = run(values) { csimd_tanh_avx2($0, $1) }
        #expect(intact)
        let differing = zip(values, results).filter { Activation.tanh($0).bitPattern != $1.bitPattern }
        #expect(differing.isEmpty, "first: \(differing.prefix(3))")
    }

    @Test func tanhTailsOfEveryLength() {
        var generator = SeededGenerator(seed: 11)
        for count in 0...19 {
            let values = (0..<count).map { _ in Float.random(in: -4...4, using: &generator) }
            let (results, intact) = run(values) { csimd_tanh_avx2($0, $1) }
            #expect(intact, "count \(count)")
            #expect(results.map(\.bitPattern) == values.map { Activation.tanh($0).bitPattern }, "count \(count)")
        }
    }

    @Test func propagationIsThePortableLoopBitForBit() throws {
        var generator = SeededGenerator(seed: 12)
        let scratch = Scratch()
        for trial in 0..<60 {
            let nodes = Int.random(in: 1...40, using: &generator)
            // Random undirected edges, each pair once, no self-loops: a tree plus some chords.
            var pairs = Set<[Int]>()
            for i in 1..<max(nodes, 1) { pairs.insert([Int.random(in: 0..<i, using: &generator), i]) }
            for _ in 0..<Int.random(in: 0...nodes, using: &generator) {
                let a = Int.random(in: 0..<nodes, using: &generator), b = Int.random(in: 0..<nodes, using: &generator)
                if a != b { pairs.insert([min(a, b), max(a, b)]) }
            }
            let graph = try Graph(nodeCount: nodes, featureCount: 0, features: [], edges: pairs.sorted { $0.lexicographicallyPrecedes($1) }.map { Graph.Edge($0[0], $0[1]) })
            let width = [1, 3, 7, 8, 9, 23, 64, 65][trial % 8]
            let m = (0..<nodes * width).map { _ in Float.random(in: -2...2, using: &generator) }
            let propagation = Propagation(graph, scratch)
            let vectorized = m.withUnsafeBufferPointer { m in run([Float](repeating: 0, count: nodes * width)) { propagation.apply(m.baseAddress!, width: width, into: $0); _ = $1 } }
            let portable = m.withUnsafeBufferPointer { m in run([Float](repeating: 0, count: nodes * width)) { propagation.applyPortable(m.baseAddress!, width: width, into: $0); _ = $1 } }
            #expect(vectorized.canariesIntact && portable.canariesIntact, "trial \(trial)")
            #expect(vectorized.results.map(\.bitPattern) == portable.results.map(\.bitPattern), "trial \(trial): \(nodes) nodes, width \(width)")
            // And not trivially: Â m is not all zeros.
            #expect(portable.results.contains { $0 != 0 })
        }
    }
}
#endif
