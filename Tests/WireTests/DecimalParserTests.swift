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
        for _ in 0..<40_000 {
            // Halfway points with 15 or 16 significant digits: mantissas below 2^53, so the fast
            // path itself must notice that the Double it computed lies on or next to the halfway
            // point (17 digits are past 2^53 and go to strtof before that check).
            let f = Float(bitPattern: UInt32.random(in: 0x3400_0000...0x7F00_0000, using: &generator))
            let halfway = (Double(f) + Double(f.nextUp)) / 2
            texts.append(scientific(halfway, digits: Int.random(in: 15...16, using: &generator)))
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

    /// `JSONReader.quickFloat`, the one-loop path for plain decimals (no exponent, at most 19
    /// digits): where it answers, the bits are strtof's; where it declines, the general path still
    /// reads strtof's value, so it consumed nothing; and inside an array the next token starts where
    /// it should. Random decimals of 1 to 22 digits with either sign, and points halfway between
    /// two floats (and their neighbours) written as plain decimals, the fast path's hard cases.
    @Test func quickPathAgreesWithStrtof() throws {
        var generator = SeededGenerator(seed: 21)
        var texts = ["0", "-0", "0.0", "1", "-1.5", "0.000001", "1234567890123456789", "12345678901234567890",
                     "99999999999999999999", "0.1234567890123456789", "16777217", "0.100000001490116119384765625"]
        for _ in 0..<100_000 {
            let digits = Int.random(in: 1...22, using: &generator)
            let mantissa = String((0..<digits).map { _ in Character(String(Int.random(in: 0...9, using: &generator))) })
            let point = Int.random(in: 0...digits, using: &generator)
            let integer = String(mantissa.prefix(point).drop { $0 == "0" })
            let sign = Bool.random(using: &generator) ? "-" : ""
            texts.append(sign + (integer.isEmpty ? "0" : integer) + (point < digits ? "." + mantissa.dropFirst(point) : ""))
        }
        for _ in 0..<20_000 {
            let f = Float(bitPattern: UInt32.random(in: 0x3C00_0000...0x4E00_0000, using: &generator))
            let halfway = (Double(f) + Double(f.nextUp)) / 2
            for value in [halfway, halfway.nextUp, halfway.nextDown] { texts.append(plainDecimal(value)) }
        }
        // Up to 15 digits, a mantissa is below 2^53: only a rare rounding doubt sends one the general way.
        var (short, shortAndQuick) = (0, 0)
        for text in texts {
            let expected = strtof(text, nil).bitPattern
            let isShort = text.filter(\.isNumber).count <= 15
            if isShort { short += 1 }
            if let value = try? JSONReader.read(Array(text.utf8), { $0.quickFloat() }) {
                if isShort { shortAndQuick += 1 }
                #expect(value.bitPattern == expected, "\(text)")
            }
            #expect(parse(text)?.bitPattern == expected, "\(text)")
            var values: [Float] = []
            try JSONReader.read(Array("[\(text), \(text)]".utf8)) { try $0.readFloats(into: &values) }
            #expect(values.map(\.bitPattern) == [expected, expected], "\(text)")
        }
        #expect(shortAndQuick * 100 > short * 99, "\(shortAndQuick) of \(short) numbers of up to 15 digits took the quick path")
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

/// `value` with 17 significant digits in plain decimal notation, as printf's %.Nf writes it.
func plainDecimal(_ value: Double) -> String {
    let decimals = Int32(max(0, 16 - Int(floor(log10(abs(value))))))
    return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 128) { buffer in
        _ = withVaList([decimals, value]) { vsnprintf(buffer.baseAddress, 128, "%.*f", $0) }
        return String(cString: buffer.baseAddress!)
    }
}

/// `value` with `digits` significant digits, as printf's %.(digits - 1)e writes it.
func scientific(_ value: Double, digits: Int = 17) -> String {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
        _ = withVaList([Int32(digits - 1), value]) { vsnprintf(buffer.baseAddress, 64, "%.*e", $0) }
        return String(cString: buffer.baseAddress!)
    }
}
