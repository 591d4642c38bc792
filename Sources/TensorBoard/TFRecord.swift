import Checksums

/// TensorFlow's record framing, in which event files are written
/// (tensorflow/core/lib/io/record_writer.cc): for each record,
///
///     uint64 length, uint32 masked CRC-32C of the length, the bytes, uint32 masked CRC-32C of the bytes
///
/// all little-endian.
public enum TFRecord {
    public static func frame(_ record: [UInt8]) -> [UInt8] {
        var length = [UInt8]()
        append(UInt64(record.count), to: &length)
        var framed = length
        append(maskedChecksum(length), to: &framed)
        framed += record
        append(maskedChecksum(record), to: &framed)
        return framed
    }

    /// CRC-32C rotated right by 15 bits plus a constant, as TensorFlow stores it (crc32c::Mask),
    /// so that a checksum over data that itself holds checksums stays informative.
    public static func maskedChecksum(_ bytes: [UInt8]) -> UInt32 {
        let crc = CRC32.castagnoli.checksum(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }
}
