/// Table-driven CRC-32 over the reflected form of a polynomial.
public struct CRC32: Sendable {
    /// IEEE 802.3, the polynomial of zlib and PNG: state files.
    public static let ieee = CRC32(reflectedPolynomial: 0xEDB8_8320)
    /// Castagnoli (CRC-32C), the polynomial of TFRecord files.
    public static let castagnoli = CRC32(reflectedPolynomial: 0x82F6_3B78)

    private let table: [UInt32]

    public init(reflectedPolynomial: UInt32) {
        table = (0..<256).map { n in
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 == 1 ? reflectedPolynomial ^ (c >> 1) : c >> 1 }
            return c
        }
    }

    public func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    public func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }
}
