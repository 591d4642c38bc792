import CSIMD

/// Base64 (RFC 4648 section 4, the standard alphabet, padded) for the compact tensor form, where
/// a model's gradient or mean crosses the wire on every step.
///
/// Where the CPU has AVX2, CSIMD's loops take 24 bytes to 32 characters and back at a time (Muła
/// and Lemire's method). The rest of a text, and all of it on other CPUs, goes through whole
/// machine words: the encoder turns 6 bytes into 8 characters with four lookups in a table of
/// character pairs (one per 12 bits) and one 8-byte store; the decoder turns 8 characters into 6
/// bytes with eight lookups in per-position tables that also flag characters outside the
/// alphabet. `gradbench wire` (the b64 answer of 32 samples at 64,64,64) measured the word-wide
/// loops at 1.6x to 1.7x the byte-at-a-time coder they replaced (swift-extras-base64), and the
/// AVX2 loops at 2.8x to 3.1x the word-wide ones encoding and 2.5x to 2.6x decoding.
public enum Base64Codec {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// The two characters of each 12-bit value, the first in the low byte.
    private static let pairs: [UInt16] = (0..<4096).map { UInt16(alphabet[$0 >> 6]) | UInt16(alphabet[$0 & 63]) << 8 }

    /// A bit no character's value reaches: set for every byte outside the alphabet.
    private static let invalid: UInt32 = 1 << 24

    /// Four tables of 256: a character's 6 bits shifted to its place (0 to 3) in a 4-character
    /// quantum, or `invalid`.
    private static let places: [UInt32] = (0..<4).flatMap { place in
        (0..<256).map { byte -> UInt32 in
            guard let value = alphabet.firstIndex(of: UInt8(byte)) else { return invalid }
            return UInt32(value) << (6 * (3 - place))
        }
    }

    public static func encodedLength(_ count: Int) -> Int { (count + 2) / 3 * 4 }

    /// Writes the base64 text of `input` at `output`, which must have room for
    /// `encodedLength(input.count)` bytes; returns that count.
    @discardableResult
    public static func encode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutablePointer<UInt8>) -> Int {
        encode(input, into: output, vectorized: true)
    }

    /// `encode`, with the AVX2 loop (where the CPU has it) or the word-wide loop alone (for tests).
    static func encode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutablePointer<UInt8>, vectorized: Bool) -> Int {
        pairs.withUnsafeBufferPointer { pairs in
            let count = input.count
            var i = 0, o = 0
            #if arch(x86_64)
            if vectorized, count >= 28, csimd_has_avx2() {
                i = csimd_base64_encode_avx2(input.baseAddress!.assumingMemoryBound(to: UInt8.self), count, output)
                o = i / 3 * 4
            }
            #endif
            // 6 bytes at a time, read as the top of an 8-byte big-endian word (so while 8 remain).
            while i + 8 <= count {
                let word = UInt64(bigEndian: input.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                let text = UInt64(pairs[Int(word >> 52)]) | UInt64(pairs[Int(word >> 40 & 0xFFF)]) << 16
                    | UInt64(pairs[Int(word >> 28 & 0xFFF)]) << 32 | UInt64(pairs[Int(word >> 16 & 0xFFF)]) << 48
                UnsafeMutableRawPointer(output + o).storeBytes(of: text.littleEndian, as: UInt64.self)
                i += 6
                o += 8
            }
            func put(_ pair: UInt16, at offset: Int) {
                output[offset] = UInt8(truncatingIfNeeded: pair)
                output[offset + 1] = UInt8(truncatingIfNeeded: pair >> 8)
            }
            while i + 3 <= count {
                let bits = Int(input[i]) << 16 | Int(input[i + 1]) << 8 | Int(input[i + 2])
                put(pairs[bits >> 12], at: o)
                put(pairs[bits & 0xFFF], at: o + 2)
                i += 3
                o += 4
            }
            // The last one or two bytes, zero-filled to whole characters, then "=" padding.
            guard i < count else { return o }
            let bits = Int(input[i]) << 16 | (i + 1 < count ? Int(input[i + 1]) << 8 : 0)
            put(pairs[bits >> 12], at: o)
            put(pairs[bits & 0xFFF], at: o + 2)
            output[o + 3] = UInt8(ascii: "=")
            if i + 1 == count { output[o + 2] = UInt8(ascii: "=") }
            return o + 4
        }
    }

    /// The number of bytes `text` decodes to, if it is padded base64 (without checking its characters).
    public static func decodedLength(_ text: UnsafeBufferPointer<UInt8>) -> Int? {
        guard text.count % 4 == 0 else { return nil }
        guard let last = text.last else { return 0 }
        let padding = last != UInt8(ascii: "=") ? 0 : text[text.count - 2] == UInt8(ascii: "=") ? 2 : 1
        return text.count / 4 * 3 - padding
    }

    /// Decodes `text` into `output`, which must have room for `decodedLength(text)` bytes; returns
    /// that count, or nil when `text` is not canonical base64: a length that is not a multiple of
    /// 4, a character outside the alphabet, "=" anywhere but the last one or two places, or
    /// nonzero bits after the last byte (RFC 4648 section 3.5), so each value has one text.
    public static func decode(_ text: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableRawPointer) -> Int? {
        decode(text, into: output, vectorized: true)
    }

    /// `decode`, with the AVX2 loop (where the CPU has it) or the word-wide loop alone (for tests).
    static func decode(_ text: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableRawPointer, vectorized: Bool) -> Int? {
        guard let length = decodedLength(text) else { return nil }
        guard length > 0 else { return 0 }
        let quanta = text.count / 4, full = length / 3
        var q = 0
        #if arch(x86_64)
        // Blocks of 8 quanta among the full ones (the padded quantum is left to the loops below),
        // up to the first block with a character outside the alphabet, which the loops below find.
        if vectorized, full >= 8, csimd_has_avx2() {
            q = 8 * csimd_base64_decode_avx2(text.baseAddress!, full / 8, output.assumingMemoryBound(to: UInt8.self))
        }
        #endif
        return places.withUnsafeBufferPointer { places -> Int? in
            @inline(__always) func quantum(_ q: Int) -> UInt32 {
                let c = text.baseAddress! + 4 * q
                return places[Int(c[0])] | places[256 + Int(c[1])] | places[512 + Int(c[2])] | places[768 + Int(c[3])]
            }
            var flags: UInt32 = 0
            // Two quanta, 6 bytes, with one 8-byte store while 8 bytes of room remain.
            while q + 2 <= full, 3 * q + 8 <= length {
                let a = quantum(q), b = quantum(q + 1)
                flags |= a | b
                let bytes = UInt64(a.byteSwapped >> 8) | UInt64(b.byteSwapped >> 8) << 24
                output.storeBytes(of: bytes.littleEndian, toByteOffset: 3 * q, as: UInt64.self)
                q += 2
            }
            while q < full {
                let a = quantum(q)
                flags |= a
                output.storeBytes(of: UInt8(truncatingIfNeeded: a >> 16), toByteOffset: 3 * q, as: UInt8.self)
                output.storeBytes(of: UInt8(truncatingIfNeeded: a >> 8), toByteOffset: 3 * q + 1, as: UInt8.self)
                output.storeBytes(of: UInt8(truncatingIfNeeded: a), toByteOffset: 3 * q + 2, as: UInt8.self)
                q += 1
            }
            if full < quanta {
                // The padded quantum: "xx==" holds one byte, "xxx=" two; the bits after them must be zero.
                let c = text.baseAddress! + 4 * full
                let kept = length - 3 * full
                var last = places[Int(c[0])] | places[256 + Int(c[1])]
                if kept == 2 { last |= places[512 + Int(c[2])] }
                flags |= last
                guard last & (kept == 1 ? 0xFFFF : 0xFF) == 0 else { return nil }
                output.storeBytes(of: UInt8(truncatingIfNeeded: last >> 16), toByteOffset: 3 * full, as: UInt8.self)
                if kept == 2 { output.storeBytes(of: UInt8(truncatingIfNeeded: last >> 8), toByteOffset: 3 * full + 1, as: UInt8.self) }
            }
            return flags & invalid == 0 ? length : nil
        }
    }
}
