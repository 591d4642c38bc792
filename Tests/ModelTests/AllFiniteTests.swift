import Testing
@testable import Model

/// `allFinite` reads exponent bits instead of calling `isFinite`: it must agree with
/// `allSatisfy(\.isFinite)` on every kind of value, wherever in the buffer the value sits.
@Suite struct AllFiniteTests {
    @Test func agreesWithIsFiniteOnEveryKindOfValueAtEveryPosition() {
        let special: [Float] = [.infinity, -.infinity, .nan, -.nan, .signalingNaN, Float(bitPattern: 0x7F80_0001), Float(bitPattern: 0xFFFF_FFFF),
                                .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, -.leastNormalMagnitude, 0, -0.0, 1]
        for count in [1, 7, 8, 9, 33] {
            for position in 0..<count {
                for value in special {
                    var values = [Float](repeating: 0.5, count: count)
                    values[position] = value
                    #expect(values.allFinite == values.allSatisfy(\.isFinite), "\(value) at \(position) of \(count)")
                }
            }
        }
        #expect([Float]().allFinite)
    }
}
