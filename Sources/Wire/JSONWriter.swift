/// Writes JSON into a byte buffer.
///
/// Floats are written in the shortest form that reads back to the same Float32, as Swift's
/// `description` writes it (`ShortestFloat`), so values survive a round trip bit for bit.
public struct JSONWriter {
    public private(set) var bytes: [UInt8]
    /// Whether the next value in the current container needs a comma before it.
    private var needsComma = false

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func objectStart() { separate(); bytes.append(UInt8(ascii: "{")); needsComma = false }
    public mutating func objectEnd() { bytes.append(UInt8(ascii: "}")); needsComma = true }
    public mutating func arrayStart() { separate(); bytes.append(UInt8(ascii: "[")); needsComma = false }
    public mutating func arrayEnd() { bytes.append(UInt8(ascii: "]")); needsComma = true }

    /// Writes `"name":` inside an object; the value comes next.
    public mutating func key(_ name: String) {
        string(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func object(_ body: (inout JSONWriter) -> Void) {
        objectStart()
        body(&self)
        objectEnd()
    }

    public mutating func array(_ body: (inout JSONWriter) -> Void) {
        arrayStart()
        body(&self)
        arrayEnd()
    }

    public mutating func string(_ value: String) {
        separate()
        var value = value
        value.withUTF8 { utf8 in
            // Keys and most values need no escape: one copy between the quotes.
            guard utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
                bytes.append(UInt8(ascii: "\""))
                bytes.append(contentsOf: utf8)
                bytes.append(UInt8(ascii: "\""))
                return
            }
            bytes.append(UInt8(ascii: "\""))
            for byte in utf8 {
                switch byte {
                case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case ..<0x20:
                    let hex = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                              hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
                default: bytes.append(byte)
                }
            }
            bytes.append(UInt8(ascii: "\""))
        }
        needsComma = true
    }

    /// `raw` as a base64 string, encoded straight into the buffer.
    public mutating func base64String(_ raw: UnsafeRawBufferPointer) {
        separate()
        let length = Base64Codec.encodedLength(raw.count)
        makeRoom(length + 2)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(addingCapacity: length) { output in
            output.withUnsafeMutableBufferPointer { buffer, initialized in
                initialized += Base64Codec.encode(raw, into: buffer.baseAddress! + initialized)
            }
        }
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    /// A finite Float32 in its shortest round-trip form. Callers only hold finite values;
    /// a non-finite one would not be JSON, so it is written as null.
    public mutating func number(_ value: Float) {
        separate()
        guard value.isFinite else { return null() }
        appendShortest(value)
        needsComma = true
    }

    /// A finite Float64 in its shortest round-trip form (Swift's `description`); non-finite as null.
    public mutating func number(_ value: Double) {
        separate()
        guard value.isFinite else { return null() }
        bytes.append(contentsOf: value.description.utf8)
        needsComma = true
    }

    public mutating func number(_ value: Int) {
        separate()
        bytes.append(contentsOf: String(value).utf8)
        needsComma = true
    }

    /// An array of Float32 numbers.
    public mutating func numbers<C: Collection>(_ values: C) where C.Element == Float {
        arrayStart()
        // Room for every value and its comma, written in place, then the unused end cut off.
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: values.count * (ShortestFloat.maxLength + 1) + ShortestFloat.room))
        let written = bytes.withUnsafeMutableBufferPointer { buffer -> Int in
            let base = buffer.baseAddress! + start
            var at = base
            var first = true
            for value in values {
                if !first {
                    at.pointee = UInt8(ascii: ",")
                    at += 1
                }
                first = false
                at += Self.writeNumber(value, to: at)
            }
            return at - base
        }
        bytes.removeLast(bytes.count - start - written)
        arrayEnd()
    }

    /// `value` in its shortest round-trip form, or null when it is not finite: at most
    /// `ShortestFloat.maxLength` bytes either way.
    private static func writeNumber(_ value: Float, to out: UnsafeMutablePointer<UInt8>) -> Int {
        guard value.isFinite else {
            UnsafeMutableRawPointer(out).storeBytes(of: 0x6C6C_756E, as: UInt32.self)  // "null"
            return 4
        }
        return ShortestFloat.write(value, to: out)
    }

    /// A value written beforehand (one JSON value's bytes), as the next value here.
    public mutating func rawValue(_ raw: some Collection<UInt8>) {
        separate()
        bytes.append(contentsOf: raw)
        needsComma = true
    }

    public mutating func bool(_ value: Bool) {
        separate()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
        needsComma = true
    }

    public mutating func null() {
        separate()
        bytes.append(contentsOf: "null".utf8)
        needsComma = true
    }

    /// Room for `extra` more bytes, growing the buffer at least twofold when it must grow:
    /// `reserveCapacity` alone allocates exactly what it is asked for, so a buffer grown a tensor
    /// at a time would be copied whole for every tensor.
    private mutating func makeRoom(_ extra: Int) {
        let needed = bytes.count + extra
        if needed > bytes.capacity { bytes.reserveCapacity(max(needed, 2 * bytes.capacity)) }
    }

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    private mutating func appendShortest(_ value: Float) {
        var text: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &text) { text in
            let count = ShortestFloat.write(value, to: text.baseAddress!.assumingMemoryBound(to: UInt8.self))
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: text[..<count]))
        }
    }
}
