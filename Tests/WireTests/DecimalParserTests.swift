#if canImport(Glibc)
import Glibc
#endif
import Model
import Testing
@testable import Wire

@Suite struct DecimalParserTests {
    /// The number as JSONReader reads it: the fast path, else strtof; nil when out of range.
    func parse(_ text: String) -> Float? {
        try? JSONReader.read(Array(text.utf8)) { try $0.readFloat() }
    }

    /// The fast path's answer alone, or nil where it declines.
    func fastPath(_ text: String) -> Float? {
        guard let number = try? JSONReader.read(Array(text.utf8), { try $0.scanNumber() }), number.significant <= 19 else { return nil }
        return DecimalParser.fastFloat(negative: number.negative, mantissa: number.mantissa, exponent: number.exponent)
    }

    /// The fast path agrees with strtof, the correctly rounded reference, on random decimals,
    /// and on decimals right next to the points halfway between two floats.
    @Test func agreesWithStrtofEverywhere() {
        var generator = SeededGenerator(seed: 12)
        var texts: [String] = []
        for _ in 0..<50_000 {
            let digits = Int.random(in: 1...19, using: &generator)
            let mantissa = String((0..<digits).map { _ in Character(String(Int.random(in: 0...9, using: &generator))) })
            let point = Int.random(in: 0...digits, using: &generator)
            // JSON allows no leading zeros in the integer part.
            let integer = String(mantissa.prefix(point).drop { $0 == "0" })
            let text = (integer.isEmpty ? "0" : integer) + (point < digits ? "." + mantissa.dropFirst(point) : "")
            texts.append(text + "e\(Int.random(in: -40...40, using: &generator))")
        }
        for _ in 0..<20_000 {
            // Halfway between a float and the next, printed with 17 significant digits, and nudged.
            let f = Float(bitPattern: UInt32.random(in: 0x0080_0000...0x7F00_0000, using: &generator))
            let halfway = (Double(f) + Double(f.nextUp)) / 2
            for value in [halfway, halfway.nextUp, halfway.nextDown] { texts.append(scientific(value)) }
        }
        for text in texts {
            let expected = strtof(text, nil)
            #expect(parse(text)?.bitPattern == (expected.isFinite ? expected.bitPattern : nil), "\(text)")
        }
    }

    /// What JSONWriter writes for weights and gradients of ordinary size takes the fast path.
    @Test func shortestFormsOfOrdinaryValuesTakeTheFastPath() {
        var generator = SeededGenerator(seed: 3)
        let values = (0..<10_000).map { _ in Float.random(in: -10..<10, using: &generator) * powf(10, Float(Int.random(in: -6...3, using: &generator))) }
        let fast = values.filter { value in
            fastPath(value.description) == value
        }
        #expect(fast.count > 9_900, "\(fast.count) of 10,000")
    }

    @Test func signsZerosAndRange() {
        #expect(parse("-0")?.sign == .minus)
        #expect(parse("0.000")! == 0)
        #expect(parse("-1.5e2") == -150)
        #expect(parse("3.4028235e38") == .greatestFiniteMagnitude)
        #expect(parse("3.5e38") == nil)
        #expect(parse("1e-46") == 0)
        #expect(parse("1.4e-45") == .leastNonzeroMagnitude)
    }
}

/// `value` with 17 significant digits, as printf's %.16e writes it.
func scientific(_ value: Double) -> String {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
        _ = withVaList([value]) { vsnprintf(buffer.baseAddress, 64, "%.16e", $0) }
        return String(cString: buffer.baseAddress!)
    }
}
