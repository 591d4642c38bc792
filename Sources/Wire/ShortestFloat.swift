/// The shortest decimal that reads back as the same Float32, written the way Swift's
/// `description` writes it ("0.1", "1e-05", "16777216.0", "1.6777218e+07"), straight into a
/// caller's buffer.
///
/// The decimal comes from Schubfach (Raffaello Giulietti, "The Schubfach way to render doubles",
/// 2020; the float32 case of Java's `FloatToDecimal`): the two neighbours' halfway points and the
/// value are scaled by one 64-bit approximation of a power of ten, and the shortest decimal
/// between the halfway points (the closest one to the value when there are several) is read off
/// with a handful of multiplies and no loop. `description` goes through a general printer and a
/// string; this is the hot loop of encoding tensors as JSON numbers. Tests compare the two on every
/// special value and millions of random bit patterns.
public enum ShortestFloat {
    /// The longest text: "-1.2345678e-45" and the like.
    public static let maxLength = 15
    /// Bytes the caller must have free at `out`: the text is at most `maxLength` bytes, but it is
    /// written in whole 8-byte words.
    public static let room = 32

    /// Writes finite `value` at `out`, which has `room` bytes free; returns the count written.
    public static func write(_ value: Float, to out: UnsafeMutablePointer<UInt8>) -> Int {
        let raw = UnsafeMutableRawPointer(out)
        raw.storeBytes(of: 0x2D, as: UInt8.self)  // "-", kept only for negative values
        var at = value.sign == .minus ? 1 : 0
        if value == 0 {
            raw.storeBytes(of: 0x30_2E_30, toByteOffset: at, as: UInt32.self)  // "0.0"
            return at + 3
        }
        let (digits, exponent) = decimal(value.bitPattern & 0x7FFF_FFFF)
        // The digits as ten ASCII characters, zero-padded on the left (digits < 10^10), held in
        // two registers: characters 0-7 in `w0` and 8-9 in `w1`, first character lowest. (Storing
        // them as pairs and loading them back as words stalls: a wide load cannot be forwarded
        // from several narrow stores.)
        let pairs: StaticString = """
            00010203040506070809101112131415161718192021222324252627282930313233343536373839\
            40414243444546474849505152535455565758596061626364656667686970717273747576777879\
            8081828384858687888990919293949596979899
            """
        let table = UnsafeRawPointer(pairs.utf8Start)
        func pair(_ value: UInt64) -> UInt64 { UInt64(table.loadUnaligned(fromByteOffset: 2 * Int(value), as: UInt16.self)) }
        let high = digits / 100_000_000, low = digits % 100_000_000
        let w0 = pair(high) | pair(low / 1_000_000) << 16 | pair(low / 10_000 % 100) << 32 | pair(low / 100 % 100) << 48
        let w1 = pair(low % 100)
        let zeros: UInt64 = 0x3030_3030_3030_3030
        // '0' characters before the first digit (at most 9, as digits > 0), and after the last.
        let headMask = w0 ^ zeros
        let head = headMask == 0 ? 8 + (w1 & 0xFF == 0x30 ? 1 : 0) : headMask.trailingZeroBitCount / 8
        let tailMask = (w0 >> 16 | w1 << 48) ^ zeros
        let tail = tailMask == 0 ? 8 + (w0 >> 8 & 0xFF == 0x30 ? 1 : 0) : tailMask.leadingZeroBitCount / 8
        let count = 10 - head - tail
        // value = 0.d1d2... × 10^point: `point` digits stand before the decimal point.
        let point = exponent + tail + count
        /// Writes 16 bytes at `offset`: the characters from the `skip`-th significant digit on, then zero bytes.
        func put16(skipping skip: Int, at offset: Int) {
            let shift = 8 * (head + skip)  // 0...72; Swift's shifts give 0 past the width
            raw.storeBytes(of: w0 >> shift | w1 << (64 - shift), toByteOffset: offset, as: UInt64.self)
            raw.storeBytes(of: w1 >> shift, toByteOffset: offset + 8, as: UInt64.self)
        }
        if point < -3 || value.magnitude > 0x1p24 {
            // d.ddde±XX
            put16(skipping: 0, at: at)
            raw.storeBytes(of: 0x2E, toByteOffset: at + 1, as: UInt8.self)  // "."
            put16(skipping: 1, at: at + 2)
            at += count == 1 ? 1 : count + 1
            let power = point - 1
            raw.storeBytes(of: power < 0 ? 0x2D_65 : 0x2B_65, toByteOffset: at, as: UInt16.self)  // "e-" or "e+"
            at += 2
            let magnitude = UInt64(power.magnitude)
            if magnitude >= 100 {
                raw.storeBytes(of: 0x30 + UInt8(magnitude / 100), toByteOffset: at, as: UInt8.self)
                at += 1
            }
            raw.storeBytes(of: UInt16(truncatingIfNeeded: pair(magnitude % 100)), toByteOffset: at, as: UInt16.self)
            return at + 2
        }
        if point <= 0 {
            // 0.000ddd (at most three zeros after the point)
            raw.storeBytes(of: 0x3030_3030_3030_2E30, toByteOffset: at, as: UInt64.self)  // "0.000000"
            at += 2 - point
            put16(skipping: 0, at: at)
            return at + count
        }
        put16(skipping: 0, at: at)
        if point >= count {
            // ddd000.0 (an integer below 2^24: at most 8 digits)
            raw.storeBytes(of: zeros, toByteOffset: at + count, as: UInt64.self)
            raw.storeBytes(of: 0x30_2E, toByteOffset: at + point, as: UInt16.self)  // ".0"
            return at + point + 2
        }
        // ddd.ddd
        raw.storeBytes(of: 0x2E, toByteOffset: at + point, as: UInt8.self)
        put16(skipping: point, at: at + point + 1)
        return at + count + 1
    }

    /// The shortest decimal (digits × 10^exponent) that rounds to the positive finite nonzero
    /// float with these bits; among several, the closest, and of two as close, the even one.
    static func decimal(_ bits: UInt32) -> (digits: UInt64, exponent: Int) {
        let fraction = UInt64(bits & 0x7F_FFFF)
        let biased = Int(bits >> 23)
        guard biased != 0 else {
            // Subnormal: fraction × 2^-149. (Java scales the smallest ones by ten, to show two
            // digits, "1.4E-45"; Swift shows the shortest, "1e-45".)
            return decimal(q: -149, c: fraction)
        }
        let c = 1 << 23 | fraction
        let shift = 150 - biased  // -q
        if shift > 0, shift < 24, (c >> shift) << shift == c {
            return (c >> shift, 0)  // an integer below 2^24: its own digits
        }
        return decimal(q: -shift, c: c)
    }

    /// Schubfach for c × 2^q.
    private static func decimal(q: Int, c: UInt64) -> (digits: UInt64, exponent: Int) {
        let odd: UInt64 = c & 1
        let cb = c << 2
        let cbr = cb + 2
        let cbl: UInt64
        let k: Int
        if c != 1 << 23 || q == -149 {
            cbl = cb - 2
            k = floorLog10Pow2(q)
        } else {
            // The lower neighbour is closer at a power of two: its halfway point is a quarter ulp down.
            cbl = cb - 1
            k = floorLog10ThreeQuartersPow2(q)
        }
        let h = q + floorLog2Pow10(-k) + 33
        let g = g1[k + 45] &+ 1
        let vb = roundOdd(g, cb << h)
        let vbl = roundOdd(g, cbl << h)
        let vbr = roundOdd(g, cbr << h)
        let s = vb >> 2
        // One digit fewer, when a multiple of ten lies within the rounding interval. (Java's
        // version skips this below s = 100: its layout always shows two digits. Swift's shows one.)
        let sp10 = s / 10 * 10
        let tp10 = sp10 + 10
        let upin = vbl + odd <= sp10 << 2
        let wpin = (tp10 << 2) + odd <= vbr
        if upin != wpin { return (upin ? sp10 : tp10, k) }
        if upin {
            // Both: only where the interval spans ten units (the smallest subnormals); the closer
            // one, and of two as close, the one whose last digit is even.
            let middle = (sp10 + tp10) << 1
            return (vb < middle || vb == middle && (sp10 / 10) & 1 == 0 ? sp10 : tp10, k)
        }
        let t = s + 1
        let uin = vbl + odd <= s << 2
        let win = (t << 2) + odd <= vbr
        if uin != win { return (uin ? s : t, k) }
        let doubled = (s + t) << 1
        return (vb < doubled || vb == doubled && s & 1 == 0 ? s : t, k)
    }

    /// The high bits of g × cp, rounded to odd (a sticky last bit).
    @inline(__always)
    private static func roundOdd(_ g: UInt64, _ cp: UInt64) -> UInt64 {
        let high = g.multipliedFullWidth(by: cp).high
        return high >> 31 | ((high & 0xFFFF_FFFF) + 0xFFFF_FFFF) >> 32
    }

    /// ⌊q log10 2⌋, exact for |q| ≤ 5456721.
    @inline(__always) private static func floorLog10Pow2(_ q: Int) -> Int { (q * 661_971_961_083) >> 41 }
    /// ⌊log10(3/4 · 2^q)⌋.
    @inline(__always) private static func floorLog10ThreeQuartersPow2(_ q: Int) -> Int { (q * 661_971_961_083 - 274_743_187_321) >> 41 }
    /// ⌊e log2 10⌋, exact for |e| ≤ 1838394.
    @inline(__always) private static func floorLog2Pow10(_ e: Int) -> Int { (e * 913_124_641_741) >> 38 }

    /// For k in -45...31, the 63 high bits g1 of g = ⌊β⌋ + 1, where 10^-k = β · 2^r and
    /// 2^125 ≤ β < 2^126 (computed exactly with Python's integers).
    private static let g1: [UInt64] = [
        0x59AEDFC10D7279C5, 0x47BF19673DF52E37, 0x72CB5BD86321E38C, 0x5BD5E313828182D6,
        0x4977E8DC68679BDF, 0x758CA7C70D7292FE, 0x5E0A1FD271287598, 0x4B3B4CA85A86C47A,
        0x785EE10D5DA46D90, 0x604BE73DE4838AD9, 0x4D0985CB1D3608AE, 0x7B426FAB61F00DE3,
        0x629B8C891B267182, 0x4EE2D6D415B85ACE, 0x7E37BE2022C0914B, 0x64F964E68233A76F,
        0x50C783EB9B5C85F2, 0x409F9CBC7C4A04C2, 0x6765C793FA10079D, 0x52B7D2DCC80CD2E4,
        0x422CA8B0A00A4250, 0x69E10DE76676D080, 0x54B40B1F852BDA00, 0x43C33C1937564800,
        0x6C6B935B8BBD4000, 0x56BC75E2D6310000, 0x4563918244F40000, 0x6F05B59D3B200000,
        0x58D15E1762800000, 0x470DE4DF82000000, 0x71AFD498D0000000, 0x5AF3107A40000000,
        0x48C2739500000000, 0x746A528800000000, 0x5D21DBA000000000, 0x4A817C8000000000,
        0x7735940000000000, 0x5F5E100000000000, 0x4C4B400000000000, 0x7A12000000000000,
        0x61A8000000000000, 0x4E20000000000000, 0x7D00000000000000, 0x6400000000000000,
        0x5000000000000000, 0x4000000000000000, 0x6666666666666666, 0x51EB851EB851EB85,
        0x4189374BC6A7EF9D, 0x68DB8BAC710CB295, 0x53E2D6238DA3C211, 0x431BDE82D7B634DA,
        0x6B5FCA6AF2BD215E, 0x55E63B88C230E77E, 0x44B82FA09B5A52CB, 0x6DF37F675EF6EADF,
        0x57F5FF85E592557F, 0x465E6604B7A84465, 0x709709A125DA0709, 0x5A126E1A84AE6C07,
        0x480EBE7B9D58566C, 0x734ACA5F6226F0AD, 0x5C3BD5191B525A24, 0x49C97747490EAE83,
        0x760F253EDB4AB0D2, 0x5E72843249088D75, 0x4B8ED0283A6D3DF7, 0x78E480405D7B9658,
        0x60B6CD004AC94513, 0x4D5F0A66A23A9DA9, 0x7BCB43D769F762A8, 0x63090312BB2C4EED,
        0x4F3A68DBC8F03F24, 0x7EC3DAF941806506, 0x65697BFA9ACD1D9F, 0x51212FFBAF0A7E18,
        0x40E7599625A1FE7A,
    ]
}
