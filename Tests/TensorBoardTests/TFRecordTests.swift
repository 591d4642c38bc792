import Checksums
import TensorBoard
import Testing

/// The checksums and framing against published values; TensorBoard's own reader checks whole
/// files in ClientTests (TensorBoardLogTests).
@Suite struct TFRecordTests {
    /// The check values of the CRC catalogue (reveng.sourceforge.io): the CRC of "123456789".
    @Test func checksumsMatchTheCatalogue() {
        let digits = Array("123456789".utf8)
        #expect(CRC32.ieee.checksum(digits) == 0xCBF4_3926)
        #expect(CRC32.castagnoli.checksum(digits) == 0xE306_9283)
    }

    /// RFC 3720 (iSCSI), appendix B.4: CRC-32C of 32 bytes of zeros, of ones and of 0...31.
    @Test func castagnoliMatchesRFC3720() {
        #expect(CRC32.castagnoli.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32.castagnoli.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32.castagnoli.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
    }

    /// TensorFlow's masking: rotate right by 15, add 0xa282ead8 (crc32c::Mask).
    @Test func maskedChecksumRotatesAndAddsTheConstant() {
        let crc: UInt32 = 0xE306_9283
        let rotated = (crc >> 15) | (crc << 17)
        #expect(TFRecord.maskedChecksum(Array("123456789".utf8)) == rotated &+ 0xA282_EAD8)
    }

    @Test func aRecordIsLengthChecksumBytesChecksum() {
        let record: [UInt8] = [1, 2, 3, 4, 5]
        let framed = TFRecord.frame(record)
        #expect(framed.count == 8 + 4 + 5 + 4)
        #expect(Array(framed[0..<8]) == [5, 0, 0, 0, 0, 0, 0, 0])
        let lengthCRC = TFRecord.maskedChecksum([5, 0, 0, 0, 0, 0, 0, 0])
        #expect(Array(framed[8..<12]) == [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: lengthCRC >> $0) })
        #expect(Array(framed[12..<17]) == record)
        let dataCRC = TFRecord.maskedChecksum(record)
        #expect(Array(framed[17..<21]) == [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: dataCRC >> $0) })
    }
}
