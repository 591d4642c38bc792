#if canImport(Glibc)
import Glibc
#endif

/// Decimal text to Float32, correctly rounded.
///
/// Most numbers take Clinger's fast path: a decimal with at most 19 significant digits and a
/// power of ten within 10^±22 becomes an exact Double times (or over) an exact power of ten, one
/// rounding; that Double is then rounded to Float, which is right unless the Double lies within
/// one of its own ulps of a point halfway between two Floats. Those rare cases, results in
/// Float's subnormal range, and every other number go to strtof. The digits are gathered by
/// `JSONReader` while it scans the number.
enum DecimalParser {
    private static let powersOfTen: [Double] = (0...22).map { exponent in
        var value = 1.0
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    /// strtof on a valid JSON number token (the slow path); nil when it overflows Float32.
    static func strtofFloat(_ bytes: UnsafeBufferPointer<UInt8>, _ token: Range<Int>) -> Float? {
        withTerminatedToken(bytes, token) { strtof($0, nil) }.flatMap { $0.isFinite ? $0 : nil }
    }

    static func double(_ bytes: UnsafeBufferPointer<UInt8>, _ token: Range<Int>) -> Double? {
        withTerminatedToken(bytes, token) { strtod($0, nil) }
    }

    /// ±mantissa x 10^exponent by the fast path, or nil when it cannot vouch for the result.
    @inline(__always)
    static func fastFloat(negative: Bool, mantissa: UInt64, exponent: Int) -> Float? {
        if mantissa == 0 { return negative ? -0.0 : 0 }
        guard mantissa < 1 << 53, (-22...22).contains(exponent) else { return nil }
        var value = Double(mantissa)
        value = exponent >= 0 ? value * powersOfTen[exponent] : value / powersOfTen[-exponent]
        // Rounding `value` to Float drops the 29 low bits of its significand (a Float's normal
        // range; subnormal results go to strtof). The point halfway between two Floats is where
        // those bits are 2^28; the Float is right unless `value`, within half an ulp of the
        // decimal, is within one ulp of that point: the dropped bits 2^28 - 1, 2^28 or 2^28 + 1.
        guard value >= 0x1p-126 else { return nil }
        let dropped = value.bitPattern & (1 << 29 - 1)
        guard dropped &- (1 << 28 - 1) > 2 else { return nil }
        let rounded = Float(value)
        guard rounded.isFinite else { return nil }
        return negative ? -rounded : rounded
    }

    /// Calls `body` with a NUL-terminated copy of the token: the input buffer itself need not end in NUL.
    private static func withTerminatedToken<T>(
        _ bytes: UnsafeBufferPointer<UInt8>, _ token: Range<Int>, _ body: (UnsafePointer<CChar>) -> T
    ) -> T? {
        let count = token.count
        if count < 64 {
            return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
                for i in 0..<count { buffer[i] = CChar(bitPattern: bytes[token.lowerBound + i]) }
                buffer[count] = 0
                return body(buffer.baseAddress!)
            }
        }
        // Long decimals (thousands of digits are legal JSON) go through a heap copy.
        var copy = bytes[token].map { CChar(bitPattern: $0) }
        copy.append(0)
        return copy.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
