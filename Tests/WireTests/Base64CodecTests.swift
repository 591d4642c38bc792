import Foundation
import Model
import Testing
@testable import Wire

/// `Base64Codec` against Foundation's coder, an independent implementation: the same text for
/// every byte string, and for any text the same bytes where that text is canonical base64. Both
/// of its paths are held to that: with the AVX2 loops (where the CPU has them; 32 characters at a
/// time, so the texts run to several blocks) and with the word-wide loops alone.
@Suite struct Base64CodecTests {
    /// Bytes after the room a coder is given, which it must leave as they are (it writes whole
    /// words, so a wrong bound would spill past the end).
    static let canary = [UInt8](repeating: 0xA5, count: 16)

    func encode(_ bytes: [UInt8], vectorized: Bool = true) -> String {
        let length = Base64Codec.encodedLength(bytes.count)
        var output = [UInt8](repeating: 0, count: length) + Self.canary
        let written = bytes.withUnsafeBytes { input in output.withUnsafeMutableBufferPointer { Base64Codec.encode(input, into: $0.baseAddress!, vectorized: vectorized) } }
        #expect(written == length)
        #expect(Array(output[length...]) == Self.canary)
        return String(decoding: output.prefix(length), as: UTF8.self)
    }

    func decode(_ text: String, vectorized: Bool = true) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        return utf8.withUnsafeBufferPointer { text -> [UInt8]? in
            guard let length = Base64Codec.decodedLength(text) else { return nil }
            // Room for exactly the decoded bytes, as the tensor reader gives it.
            var output = [UInt8](repeating: 0, count: length) + Self.canary
            let count = output.withUnsafeMutableBytes { Base64Codec.decode(text, into: $0.baseAddress!, vectorized: vectorized) }
            #expect(Array(output[length...]) == Self.canary)
            guard let count else { return nil }
            #expect(count == length)
            return Array(output.prefix(count))
        }
    }

    @Test func everyLengthEncodesAsFoundationDoesAndDecodesBack() {
        var generator = SeededGenerator(seed: 21)
        for length in 0...130 {
            for _ in 0..<8 {
                let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let text = encode(bytes)
                #expect(text == Data(bytes).base64EncodedString(), "\(bytes)")
                #expect(encode(bytes, vectorized: false) == text, "\(bytes)")
                #expect(decode(text) == bytes, "\(text)")
                #expect(decode(text, vectorized: false) == bytes, "\(text)")
            }
        }
    }

    /// Random texts near base64 (its alphabet, "=", and bytes outside it): decoded exactly when
    /// Foundation decodes them and the bytes encode back to the same text (canonical), else refused.
    @Test func anyTextDecodesOnlyWhenCanonical() {
        var generator = SeededGenerator(seed: 22)
        let characters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        let others: [UInt8] = Array("==-_ .\n".utf8) + [0x00, 0x80, 0xFF]
        var accepted = 0
        for _ in 0..<40_000 {
            // Mostly whole quanta, as base64 text comes, short or over several 32-character blocks; sometimes any length.
            let length = switch Int.random(in: 0..<4, using: &generator) {
            case 0: 4 * Int.random(in: 0...5, using: &generator)
            case 1: 4 * Int.random(in: 8...50, using: &generator)
            default: Int.random(in: 0...20, using: &generator)
            }
            var text = (0..<length).map { _ in characters.randomElement(using: &generator)! }
            // Usually padded like real text, sometimes with a stray byte anywhere.
            if length >= 4, Bool.random(using: &generator) { text[length - 1] = UInt8(ascii: "=") }
            if length >= 4, Int.random(in: 0..<3, using: &generator) == 0 { text[length - 2] = UInt8(ascii: "=") }
            if length > 0, Int.random(in: 0..<4, using: &generator) == 0 {
                text[Int.random(in: 0..<length, using: &generator)] = others.randomElement(using: &generator)!
            }
            let string = String(decoding: text, as: UTF8.self)
            let expected = Data(base64Encoded: Data(text)).map(Array.init).flatMap { encode($0) == string ? $0 : nil }
            let decoded = decode(string)
            #expect(decoded == expected, "\(text)")
            #expect(decode(string, vectorized: false) == expected, "\(text)")
            if decoded != nil { accepted += 1 }
        }
        // Both outcomes were exercised.
        #expect(accepted > 2_000 && accepted < 38_000, "\(accepted)")
    }
}
