import Testing
@testable import Wire

/// `ShortestFloat` writes what Swift's `description` writes, byte for byte: the same shortest
/// decimal (the closest of them, ties to even) and the same layout. The whole Float32 range was
/// compared once in a release build (all 2^32 bit patterns, no difference); these tests keep the
/// special values, every boundary of the algorithm and of the layout, and millions of random
/// patterns.
@Suite struct ShortestFloatTests {
    func written(_ value: Float) -> String {
        var buffer = [UInt8](repeating: 0xAA, count: ShortestFloat.room)
        let count = buffer.withUnsafeMutableBufferPointer { ShortestFloat.write(value, to: $0.baseAddress!) }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }

    func expectAsDescription(_ values: some Sequence<Float>, sourceLocation: SourceLocation = #_sourceLocation) {
        var differences: [String] = []
        for value in values where value.isFinite {
            let mine = written(value)
            if mine != value.description, differences.count < 10 {
                differences.append("bits \(value.bitPattern): \(mine) instead of \(value.description)")
            }
        }
        #expect(differences.isEmpty, "\(differences)", sourceLocation: sourceLocation)
    }

    @Test func specialValues() {
        #expect(written(0) == "0.0")
        #expect(written(-0.0) == "-0.0")
        #expect(written(0.1) == "0.1")
        #expect(written(1e-5) == "1e-05")
        #expect(written(-16777218) == "-1.6777218e+07")
        #expect(written(.greatestFiniteMagnitude) == "3.4028235e+38")
        #expect(written(.leastNonzeroMagnitude) == "1e-45")
        let special: [Float] = [
            0, -0.0, 1, -1, 0.1, 0.5, 2, 10, 100, 1e-4, 1e-5, 9.99999e-5, 0.00012345, 123456.7,
            .leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude, .ulpOfOne, .pi,
            .leastNormalMagnitude.nextDown, .leastNormalMagnitude.nextUp,
        ]
        expectAsDescription(special + special.map { -$0 })
    }

    /// Subnormals with a significand below 8 take the one-digit-lower path (dk = -1).
    @Test func smallestSubnormals() {
        expectAsDescription((1..<4096).map { Float(bitPattern: $0) })
    }

    /// At a power of two the lower neighbour is closer (the asymmetric interval), and integers
    /// below 2^24 take a path of their own; both sides of every binade boundary.
    @Test func binadeBoundariesAndIntegers() {
        var values: [Float] = []
        for exponent in 1..<255 {
            let power = Float(bitPattern: UInt32(exponent) << 23)
            values += [power, power.nextUp, power.nextDown, power.nextUp.nextUp]
        }
        values += (0...(1 << 16)).map { Float($0) } + (0..<4096).map { Float((1 << 24) - 2048 + 2 * $0) }
        expectAsDescription(values + values.map { -$0 })
    }

    /// Where the layout changes: exponent form below 1e-4 and above 2^24.
    @Test func layoutBoundaries() {
        var values: [Float] = []
        for anchor: Float in [1e-4, 1e-3, 0.1, 1, 10, 1e7, 16_777_216] {
            var below = anchor, above = anchor
            for _ in 0..<64 {
                values += [below, above]
                below = below.nextDown
                above = above.nextUp
            }
        }
        for power in -45...38 { values.append(Float("1e\(power)")!) }
        expectAsDescription(values)
    }

    @Test func randomBitPatterns() {
        var generator = SplitMix(state: 0x5EED)
        expectAsDescription((0..<2_000_000).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: generator.next())) })
    }

    /// The writer's array path (written in place, then trimmed) gives the same text.
    @Test func writerArraysMatchDescription() {
        var generator = SplitMix(state: 7)
        let values = (0..<10_000).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: generator.next())) }
        var writer = JSONWriter()
        writer.numbers(values)
        let expected = "[" + values.map { $0.isFinite ? $0.description : "null" }.joined(separator: ",") + "]"
        #expect(String(decoding: writer.bytes, as: UTF8.self) == expected)
        var empty = JSONWriter()
        empty.numbers([Float]())
        #expect(empty.bytes == Array("[]".utf8))
        var odd = JSONWriter()
        odd.numbers([Float.nan, -.infinity, 1.5])
        #expect(odd.bytes == Array("[null,null,1.5]".utf8))
    }
}

/// SplitMix64, for repeatable bit patterns.
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
