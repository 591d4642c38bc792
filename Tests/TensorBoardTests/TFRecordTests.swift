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

    /// TensorFlow's masking (crc32c::Mask), against the values TensorBoard's own reader computes
    /// (`tensorboard.compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c`, tensorboard 2.21.0).
    @Test func maskedChecksumsMatchTensorBoards() {
        #expect(TFRecord.maskedChecksum(Array("123456789".utf8)) == 0xC78A_B0E5)
        #expect(TFRecord.maskedChecksum([5, 0, 0, 0, 0, 0, 0, 0]) == 0x3E04_B2EA)
        #expect(TFRecord.maskedChecksum([1, 2, 3, 4, 5]) == 0xC1D9_917B)
    }

    @Test func aRecordIsLengthChecksumBytesChecksum() {
        let record: [UInt8] = [1, 2, 3, 4, 5]
        let framed = TFRecord.frame(record)
        #expect(framed.count == 8 + 4 + 5 + 4)
        #expect(Array(framed[0..<8]) == [5, 0, 0, 0, 0, 0, 0, 0])
        // The masked checksums of the length and of the bytes, little-endian (values from TensorBoard, above).
        #expect(Array(framed[8..<12]) == [0xEA, 0xB2, 0x04, 0x3E])
        #expect(Array(framed[12..<17]) == record)
        #expect(Array(framed[17..<21]) == [0x7B, 0x91, 0xD9, 0xC1])
    }
}
