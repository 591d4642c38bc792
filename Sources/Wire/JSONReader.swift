#if canImport(Glibc)
import Glibc
#endif
import Model

/// A pull parser for JSON (RFC 8259) that decodes straight into the caller's values.
///
/// Decoders walk the document with `readObject`, `readArray` and the scalar readers, so a
/// large tensor becomes a `[Float]` without an intermediate tree. Every read checks bounds,
/// nesting is limited, numbers keep their exact text until read (so a Float32 is parsed from
/// its decimal once, never through a Double), and an error names the field it happened in.
public struct JSONReader {
    public enum Kind: Equatable { case object, array, string, number, bool, null }

    public static let maxDepth = 64

    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0
    private var depth = 0
    private var path: [PathComponent] = []
    /// The keys of the objects being read, innermost last: one stack for the whole document,
    /// so checking for a repeated key allocates nothing per object.
    private var openKeys: [String] = []
    /// Objects with more keys than this are checked through a set, so a hostile object with
    /// a million keys costs linear time, not quadratic.
    private static let linearKeyLimit = 16

    private enum PathComponent {
        case key(String)
        case index(Int)
    }

    /// Runs `body` on a reader over `bytes`, then checks that only whitespace follows the value it read.
    public static func read<T>(_ bytes: UnsafeRawBufferPointer, _ body: (inout JSONReader) throws -> T) throws -> T {
        var reader = JSONReader(bytes: bytes.bindMemory(to: UInt8.self))
        let value = try body(&reader)
        reader.skipWhitespace()
        guard reader.position == reader.bytes.count else {
            throw reader.malformed("unexpected data after the JSON value")
        }
        return value
    }

    public static func read<T>(_ bytes: [UInt8], _ body: (inout JSONReader) throws -> T) throws -> T {
        try bytes.withUnsafeBytes { try read($0, body) }
    }

    private init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    // MARK: Errors

    /// The dotted path of the value being read, such as `samples[2].x`.
    public var currentPath: String {
        var text = ""
        for component in path {
            switch component {
            case .key(let key): text += text.isEmpty ? key : ".\(key)"
            case .index(let index): text += "[\(index)]"
            }
        }
        return text
    }

    /// An error about the value being read, naming its path.
    public func invalid(_ message: String) -> WireError {
        .invalidField(path: currentPath, message: message)
    }

    /// Well-formed JSON whose shapes do not agree (a tensor's data and its shape, graph rows of
    /// different widths): no schema can say so, so this is the model's error (422), not the form's.
    public func shapeError(_ message: String) -> ModelError {
        .shapeMismatch(currentPath.isEmpty ? message : "\(currentPath): \(message)")
    }

    private func malformed(_ message: String) -> WireError {
        .malformed(offset: position, message: message)
    }

    func typeMismatch(expected: String) -> WireError {
        let found: String = switch peekKind() {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        case nil: "nothing"
        }
        return invalid("expected \(expected), got \(found)")
    }

    // MARK: Structure

    /// The kind of the next value, or nil when the next byte cannot start one.
    public func peekKind() -> Kind? {
        var i = position
        while i < bytes.count, Self.isWhitespace(bytes[i]) { i += 1 }
        guard i < bytes.count else { return nil }
        switch bytes[i] {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        default: return nil
        }
    }

    /// Reads an object, calling `field` with each key; `field` must read or skip the value.
    /// A key that appears twice in one object is an error (RFC 8259 section 4 leaves its meaning
    /// open; this reader refuses it for every document, so no decoder can pick one of the values).
    public mutating func readObject(_ field: (inout JSONReader, String) throws -> Void) throws {
        try readObject(nil) { reader, _, key in try field(&reader, key) }
    }

    /// The same for an object whose keys the decoder knows (a sample's, a tensor's): `field` gets
    /// the key's index in `keys`, or nil for any other key. A known key written without escapes is
    /// matched on its bytes, with no `String` made, and repeats of known keys are found with a bit
    /// mask: the hot objects of a request (one per sample) cost a few comparisons per key.
    public mutating func readObject(_ keys: JSONKeys, _ field: (inout JSONReader, Int?) throws -> Void) throws {
        try readObject(keys as JSONKeys?) { reader, index, _ in try field(&reader, index) }
    }

    private mutating func readObject(_ keys: JSONKeys?, _ field: (inout JSONReader, Int?, String) throws -> Void) throws {
        guard peekKind() == .object else { throw typeMismatch(expected: "an object") }
        try enter()
        position += 1
        skipWhitespace()
        if try consume(UInt8(ascii: "}")) { return leave() }
        let firstKey = openKeys.count
        defer { openKeys.removeLast(openKeys.count - firstKey) }
        var manyKeys: Set<String>?
        var seen: UInt64 = 0
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                throw malformed("expected a string key")
            }
            let key: String
            var index: Int?
            if let keys, let known = matchKey(keys) {
                (key, index) = (keys.names[known], known)
            } else {
                key = try scanString()
                index = keys?.names.firstIndex(of: key)
            }
            skipWhitespace()
            guard try consume(UInt8(ascii: ":")) else { throw malformed("expected ':' after a key") }
            path.append(.key(key))
            let repeated: Bool
            if let index {
                repeated = seen & (1 << index) != 0
                seen |= 1 << index
            } else if manyKeys == nil, openKeys.count - firstKey < Self.linearKeyLimit {
                repeated = openKeys[firstKey...].contains(key)
                openKeys.append(key)
            } else {
                if manyKeys == nil { manyKeys = Set(openKeys[firstKey...]) }
                repeated = !manyKeys!.insert(key).inserted
            }
            guard !repeated else { throw invalid("duplicate key; each key may appear once in an object") }
            try field(&self, index, key)
            path.removeLast()
            skipWhitespace()
            if try consume(UInt8(ascii: ",")) { continue }
            if try consume(UInt8(ascii: "}")) { return leave() }
            throw malformed("expected ',' or '}' in an object")
        }
    }

    /// The index in `keys` of the key whose opening quote is at `position`, when it is one of
    /// them written without escapes; the key and its quotes are then consumed.
    private mutating func matchKey(_ keys: JSONKeys) -> Int? {
        let start = position + 1
        for (i, key) in keys.utf8.enumerated() {
            let end = start + key.count
            // The known keys hold no backslash, so a match ends at an unescaped closing quote.
            guard end < bytes.count, bytes[end] == UInt8(ascii: "\""),
                  key.withUnsafeBufferPointer({ memcmp($0.baseAddress!, bytes.baseAddress! + start, key.count) == 0 }) else { continue }
            position = end + 1
            return i
        }
        return nil
    }

    /// Reads an array, calling `element` with each index; `element` must read or skip the value.
    public mutating func readArray(_ element: (inout JSONReader, Int) throws -> Void) throws {
        guard peekKind() == .array else { throw typeMismatch(expected: "an array") }
        try enter()
        position += 1
        skipWhitespace()
        if try consume(UInt8(ascii: "]")) { return leave() }
        var index = 0
        while true {
            path.append(.index(index))
            try element(&self, index)
            path.removeLast()
            index += 1
            skipWhitespace()
            if try consume(UInt8(ascii: ",")) { continue }
            if try consume(UInt8(ascii: "]")) { return leave() }
            throw malformed("expected ',' or ']' in an array")
        }
    }

    /// Reads an array of numbers as Float32, appending to `values`. Faster than `readArray`
    /// because it does not track the path of each element.
    public mutating func readFloats(into values: inout [Float]) throws {
        guard peekKind() == .array else { throw typeMismatch(expected: "an array of numbers") }
        try enter()
        position += 1
        skipWhitespace()
        if try consume(UInt8(ascii: "]")) { return leave() }
        var index = 0
        while true {
            skipWhitespace()
            values.append(try arrayFloat(at: index))
            index += 1
            skipWhitespace()
            if try consume(UInt8(ascii: ",")) { continue }
            if try consume(UInt8(ascii: "]")) { return leave() }
            throw malformed("expected ',' or ']' in an array")
        }
    }

    /// The element at `index` of the array `readFloats` reads: a one-digit integer (the 0s and 1s
    /// of one-hot features; the digit followed by a delimiter is the whole number, exact as a
    /// Float), a plain decimal (`quickFloat`), or any other number.
    @inline(__always)
    private mutating func arrayFloat(at index: Int) throws -> Float {
        if position + 1 < bytes.count, case let digit = bytes[position] &- UInt8(ascii: "0"), digit < 10,
           case let next = bytes[position + 1], next == UInt8(ascii: ",") || next == UInt8(ascii: "]") || Self.isWhitespace(next) {
            position += 1
            return Float(digit)
        }
        if let value = quickFloat() { return value }
        guard position < bytes.count, Self.startsNumber(bytes[position]) else {
            path.append(.index(index))
            throw typeMismatch(expected: "a number")
        }
        let token = try scanNumber()
        guard let value = Self.parseFloat(bytes, token) else {
            path.append(.index(index))
            throw invalid("\(Self.text(bytes, token.range)) is out of Float32 range")
        }
        return value
    }

    /// Skips one value of any kind, checking its syntax.
    public mutating func skipValue() throws {
        switch peekKind() {
        case .object: try readObject { reader, _ in try reader.skipValue() }
        case .array: try readArray { reader, _ in try reader.skipValue() }
        case .string: _ = try readString()
        case .number: skipWhitespace(); _ = try scanNumber()
        case .bool: _ = try readBool()
        case .null: try readNull()
        case nil:
            skipWhitespace()
            throw malformed(position < bytes.count ? "unexpected character" : "unexpected end of input")
        }
    }

    private mutating func enter() throws {
        guard depth < Self.maxDepth else { throw malformed("nesting deeper than \(Self.maxDepth) levels") }
        depth += 1
        skipWhitespace()
    }

    private mutating func leave() { depth -= 1 }

    // MARK: Scalars

    public mutating func readString() throws -> String {
        guard peekKind() == .string else { throw typeMismatch(expected: "a string") }
        skipWhitespace()
        return try scanString()
    }

    /// Calls `body` with the raw bytes of a string that has no escapes (such as base64 text),
    /// without building a `String`.
    public mutating func readRawString<T>(_ body: (UnsafeBufferPointer<UInt8>) throws -> T) throws -> T {
        guard peekKind() == .string else { throw typeMismatch(expected: "a string") }
        skipWhitespace()
        guard let end = unescapedStringEnd() else { throw invalid("expected a string without escapes") }
        let start = position + 1
        position = end + 1
        return try body(UnsafeBufferPointer(rebasing: bytes[start..<end]))
    }

    /// The index of the closing quote of the string whose opening quote is at `position`, when
    /// the string holds no backslash (no escape).
    private func unescapedStringEnd() -> Int? {
        let start = position + 1
        // memchr scans a long string (a tensor's base64) many bytes at a time.
        let rest = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[min(start, bytes.count)...]))
        guard let first = rest.baseAddress, let quote = memchr(first, Int32(UInt8(ascii: "\"")), rest.count),
              case let end = start + (UnsafeRawPointer(quote) - first),
              memchr(first, Int32(UInt8(ascii: "\\")), end - start) == nil else { return nil }
        return end
    }

    public mutating func readBool() throws -> Bool {
        guard peekKind() == .bool else { throw typeMismatch(expected: "a boolean") }
        skipWhitespace()
        if try literal("true") { return true }
        if try literal("false") { return false }
        throw malformed("invalid literal")
    }

    public mutating func readNull() throws {
        skipWhitespace()
        guard try literal("null") else { throw typeMismatch(expected: "null") }
    }

    /// True (and consumed) when the next value is `null`.
    public mutating func readNullIfPresent() throws -> Bool {
        guard peekKind() == .null else { return false }
        try readNull()
        return true
    }

    /// A number as the nearest Float32; a finite decimal outside Float32's range is an error.
    public mutating func readFloat() throws -> Float {
        guard peekKind() == .number else { throw typeMismatch(expected: "a number") }
        skipWhitespace()
        if let value = quickFloat() { return value }
        let token = try scanNumber()
        guard let value = Self.parseFloat(bytes, token) else {
            throw invalid("\(Self.text(bytes, token.range)) is out of Float32 range")
        }
        return value
    }

    public mutating func readDouble() throws -> Double {
        guard peekKind() == .number else { throw typeMismatch(expected: "a number") }
        skipWhitespace()
        let token = try scanNumber()
        guard let value = Self.parseDouble(bytes, token), value.isFinite else {
            throw invalid("\(Self.text(bytes, token.range)) is out of range")
        }
        return value
    }

    /// An integer written without fraction or exponent, within `range`.
    public mutating func readInt(in range: ClosedRange<Int> = Int.min...Int.max) throws -> Int {
        guard peekKind() == .number else { throw typeMismatch(expected: "an integer") }
        skipWhitespace()
        let token = try scanNumber()
        // Up to 18 digits, the digits gathered while scanning are the value.
        if token.isPlainInteger, token.significant <= 18, case let magnitude = Int(token.mantissa),
           case let value = token.negative ? -magnitude : magnitude, range.contains(value) {
            return value
        }
        let text = Self.text(bytes, token.range)
        guard let value = Int(text), range.contains(value) else {
            throw invalid("expected an integer in \(range.lowerBound)...\(range.upperBound), got \(text.prefix(40))")
        }
        return value
    }

    // MARK: Plain shortcuts
    //
    // What gradctl and JSONWriter write (edges, vector samples, compact tensors) is read in one
    // pass with no closure, key match or field path per value. Each shortcut gives nil for any
    // other spelling, with nothing consumed, so that the general path reads it or refuses it with
    // its usual error.

    /// Skips whitespace, then consumes `byte` if it comes next.
    private mutating func plainByte(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    /// Skips whitespace, then consumes `"key":` if it comes next, the key written without escapes.
    private mutating func plainKey(_ key: StaticString) -> Bool {
        plainString(key) && plainByte(UInt8(ascii: ":"))
    }

    /// An integer in 0...`limit` (at most Int32.max) written as plain digits: no sign, no leading
    /// zero, and no fraction or exponent after it.
    private mutating func plainInt(upTo limit: Int) -> Int? {
        skipWhitespace()
        let first = position
        var value = 0
        while position < bytes.count, case let digit = bytes[position] &- UInt8(ascii: "0"), digit < 10, position - first < 10 {
            value = value * 10 + Int(digit)
            position += 1
        }
        guard position > first, position - first == 1 || bytes[first] != UInt8(ascii: "0"), value <= limit,
              position < bytes.count, bytes[position] != UInt8(ascii: "."), bytes[position] | 0x20 != UInt8(ascii: "e"),
              bytes[position] &- UInt8(ascii: "0") >= 10 else { return nil }
        return value
    }

    /// A number in Float32's range.
    private mutating func plainFloat() -> Float? {
        skipWhitespace()
        if let value = quickFloat() { return value }
        guard position < bytes.count, Self.startsNumber(bytes[position]), let token = try? scanNumber() else { return nil }
        return Self.parseFloat(bytes, token)
    }

    /// Runs `read` from the current position; where it gives nil, goes back there.
    private mutating func plain<T>(_ read: (inout JSONReader) -> T?) -> T? {
        let start = position
        guard let value = read(&self) else {
            position = start
            return nil
        }
        return value
    }

    /// An edge, `[i, j]` with two integers in 0...Int32.max. A graph has about as many edges as nodes.
    mutating func readPlainEdge() -> Graph.Edge? {
        plain { reader in
            guard reader.plainByte(UInt8(ascii: "[")), let a = reader.plainInt(upTo: Int(Int32.max)), reader.plainByte(UInt8(ascii: ",")),
                  let b = reader.plainInt(upTo: Int(Int32.max)), reader.plainByte(UInt8(ascii: "]")) else { return nil }
            return Graph.Edge(a, b)
        }
    }

    /// A vector sample, `{"x": [numbers], "t": number}` with its two keys in that order: a batch of
    /// small samples paid the general path's work per key, and an array per target, on every sample.
    mutating func readPlainVectorSample() -> Sample? {
        // The sample's object and its array, as `enter()` would count them.
        guard depth + 2 <= Self.maxDepth else { return nil }
        return plain { reader in
            guard reader.plainByte(UInt8(ascii: "{")), reader.plainKey("x"), reader.plainByte(UInt8(ascii: "[")) else { return nil }
            var x: [Float] = []
            while let value = reader.plainFloat() {
                x.append(value)
                if reader.plainByte(UInt8(ascii: ",")) { continue }
                guard reader.plainByte(UInt8(ascii: "]")), reader.plainByte(UInt8(ascii: ",")), reader.plainKey("t"),
                      let t = reader.plainFloat(), reader.plainByte(UInt8(ascii: "}")) else { return nil }
                return Sample(.vector(x), target: .number(t))
            }
            return nil
        }
    }

    /// A tensor in the compact form, `{"shape": [sizes], "dtype": "float32", "b64": "..."}` with its
    /// keys in that order and at least one dimension: a graph sample's nodes, a step's mean, an
    /// answer's gradients.
    mutating func readPlainCompactTensor() -> Tensor? {
        // The tensor's object and its shape's array, as `enter()` would count them.
        guard depth + 2 <= Self.maxDepth else { return nil }
        return plain { reader in
            guard reader.plainByte(UInt8(ascii: "{")), reader.plainKey("shape"), reader.plainByte(UInt8(ascii: "[")) else { return nil }
            var shape: [Int] = []
            repeat {
                guard shape.count < 8, let size = reader.plainInt(upTo: maxTensorElements) else { return nil }
                shape.append(size)
            } while reader.plainByte(UInt8(ascii: ","))
            guard reader.plainByte(UInt8(ascii: "]")), let count = Tensor.elementCount(of: shape), count <= maxTensorElements,
                  reader.plainByte(UInt8(ascii: ",")), reader.plainKey("dtype"), reader.plainString("float32"), reader.plainByte(UInt8(ascii: ",")), reader.plainKey("b64"),
                  let data = reader.plainBase64Floats(), data.count == count, reader.plainByte(UInt8(ascii: "}")) else { return nil }
            return try? Tensor(shape: shape, data: data)
        }
    }

    /// Skips whitespace, then consumes the string `"text"` if it comes next, written without escapes.
    private mutating func plainString(_ text: StaticString) -> Bool {
        skipWhitespace()
        let count = text.utf8CodeUnitCount
        guard position + count + 2 <= bytes.count, bytes[position] == UInt8(ascii: "\""), bytes[position + count + 1] == UInt8(ascii: "\""),
              memcmp(bytes.baseAddress! + position + 1, text.utf8Start, count) == 0 else { return false }
        position += count + 2
        return true
    }

    /// A string without escapes holding base64 of little-endian Float32 values.
    private mutating func plainBase64Floats() -> [Float]? {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\""), let end = unescapedStringEnd(),
              let values = Self.decodeFloat32Base64(UnsafeBufferPointer(rebasing: bytes[(position + 1)..<end])) else { return nil }
        position = end + 1
        return values
    }

    // MARK: Lexing

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    private static func startsNumber(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private mutating func skipWhitespace() {
        while position < bytes.count, Self.isWhitespace(bytes[position]) { position += 1 }
    }

    private mutating func consume(_ byte: UInt8) throws -> Bool {
        guard position < bytes.count else { throw malformed("unexpected end of input") }
        guard bytes[position] == byte else { return false }
        position += 1
        return true
    }

    private mutating func literal(_ word: StaticString) throws -> Bool {
        let count = word.utf8CodeUnitCount
        guard position + count <= bytes.count else { throw malformed("unexpected end of input") }
        for i in 0..<count where bytes[position + i] != word.utf8Start[i] { return false }
        position += count
        return true
    }

    /// A number as scanned: its bytes, and its decimal digits gathered on the way for the fast path.
    struct ScannedNumber {
        var range: Range<Int>
        var negative = false
        /// The significant digits as an integer (exact while `significant` <= 19).
        var mantissa: UInt64 = 0
        var significant = 0
        /// The value is mantissa x 10^exponent.
        var exponent = 0
        /// Digits only, with no fraction or exponent part.
        var isPlainInteger = true
    }

    /// The common number, `-?(0|[1-9][0-9]*)(.[0-9]+)?` with at most 19 digits and no exponent,
    /// read in one tight loop; nil, with nothing consumed, for any other token (then `scanNumber`
    /// reads it, to the same value or to its error). Decimal numbers were about a fifth of a small
    /// `/step` handler's time (perf of `gradbench step --server-only` at 3,3,3). It gives
    /// `DecimalParser.fastFloat` the same sign, digits and power of ten that `scanNumber` would
    /// (its exponent is minus the fraction's digits, leading zeros included, as there), so the
    /// value is the same bits; where the fast path cannot vouch for its rounding the token goes
    /// the general way, to strtof.
    @inline(__always)
    mutating func quickFloat() -> Float? {
        guard let base = bytes.baseAddress else { return nil }
        let end = bytes.count
        var i = position
        let negative = i < end && base[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        var mantissa: UInt64 = 0
        let integerStart = i
        while i < end, case let digit = base[i] &- UInt8(ascii: "0"), digit < 10 {
            mantissa = mantissa &* 10 &+ UInt64(digit)
            i += 1
        }
        let integerDigits = i - integerStart
        guard integerDigits > 0, integerDigits == 1 || base[integerStart] != UInt8(ascii: "0") else { return nil }
        var fractionDigits = 0
        if i < end, base[i] == UInt8(ascii: ".") {
            i += 1
            let fractionStart = i
            while i < end, case let digit = base[i] &- UInt8(ascii: "0"), digit < 10 {
                mantissa = mantissa &* 10 &+ UInt64(digit)
                i += 1
            }
            fractionDigits = i - fractionStart
            guard fractionDigits > 0 else { return nil }
        }
        // 19 digits stay below 2^64 (the wrapping arithmetic above never wraps within them).
        guard integerDigits + fractionDigits <= 19, i == end || base[i] | 0x20 != UInt8(ascii: "e"),
              let value = DecimalParser.fastFloat(negative: negative, mantissa: mantissa, exponent: -fractionDigits) else { return nil }
        position = i
        return value
    }

    /// Scans a number per RFC 8259 section 6, gathering its digits in the same pass.
    mutating func scanNumber() throws -> ScannedNumber {
        var number = ScannedNumber(range: position..<position)
        @inline(__always) func digit() -> UInt64? {
            guard position < bytes.count else { return nil }
            let byte = bytes[position] &- UInt8(ascii: "0")
            return byte < 10 ? UInt64(byte) : nil
        }
        @inline(__always) func take(_ d: UInt64) {
            if number.mantissa != 0 || d != 0 {
                number.significant += 1
                number.mantissa = number.mantissa &* 10 &+ d
            }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "-") {
            number.negative = true
            position += 1
        }
        let integerStart = position
        while let d = digit() { take(d); position += 1 }
        let integerDigits = position - integerStart
        guard integerDigits > 0 else { throw malformed("expected digits in a number") }
        guard integerDigits == 1 || bytes[integerStart] != UInt8(ascii: "0") else {
            throw malformed("a number may not have leading zeros")
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            number.isPlainInteger = false
            let fractionStart = position
            while let d = digit() {
                take(d)
                number.exponent -= 1
                position += 1
            }
            guard position > fractionStart else { throw malformed("expected digits after '.'") }
        }
        if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
            position += 1
            number.isPlainInteger = false
            var negative = false
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                negative = bytes[position] == UInt8(ascii: "-")
                position += 1
            }
            let exponentStart = position
            var written = 0
            while let d = digit() {
                written = min(written * 10 + Int(d), 1_000_000)
                position += 1
            }
            guard position > exponentStart else { throw malformed("expected digits in an exponent") }
            number.exponent += negative ? -written : written
        }
        number.range = number.range.lowerBound..<position
        return number
    }

    /// Scans a string starting at its opening quote, decoding escapes and checking UTF-8.
    private mutating func scanString() throws -> String {
        position += 1
        let start = position
        // Fast path: no escapes.
        var high: UInt8 = 0
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let raw = UnsafeBufferPointer(rebasing: bytes[start..<position])
                position += 1
                // ASCII (every key of this API) is valid UTF-8: no validation needed.
                if high < 0x80 { return String(decoding: raw, as: UTF8.self) }
                guard let string = String(validating: raw, as: UTF8.self) else {
                    throw WireError.malformed(offset: start, message: "string is not valid UTF-8")
                }
                return string
            }
            high |= byte
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw malformed("control character in a string") }
            position += 1
        }
        var decoded = Array(bytes[start..<position])
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let string = String(validating: decoded, as: UTF8.self) else {
                    throw WireError.malformed(offset: start, message: "string is not valid UTF-8")
                }
                return string
            case UInt8(ascii: "\\"):
                try scanEscape(into: &decoded)
            case ..<0x20:
                position -= 1
                throw malformed("control character in a string")
            default:
                decoded.append(byte)
            }
        }
        throw malformed("unterminated string")
    }

    private mutating func scanEscape(into decoded: inout [UInt8]) throws {
        guard position < bytes.count else { throw malformed("unterminated string") }
        let byte = bytes[position]
        position += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(byte)
        case UInt8(ascii: "b"): decoded.append(0x08)
        case UInt8(ascii: "f"): decoded.append(0x0C)
        case UInt8(ascii: "n"): decoded.append(0x0A)
        case UInt8(ascii: "r"): decoded.append(0x0D)
        case UInt8(ascii: "t"): decoded.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try scanHex4()
            if (0xD800..<0xDC00).contains(scalar) {
                guard try literal("\\u") else { throw malformed("unpaired surrogate in a string") }
                let low = try scanHex4()
                guard (0xDC00..<0xE000).contains(low) else { throw malformed("unpaired surrogate in a string") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw malformed("unpaired surrogate in a string") }
            decoded.append(contentsOf: UTF8.encode(unicode)!)
        default:
            throw malformed("invalid escape in a string")
        }
    }

    private mutating func scanHex4() throws -> UInt32 {
        guard position + 4 <= bytes.count else { throw malformed("unterminated string") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8 = switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
            default: throw malformed("invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    // MARK: Numbers

    private static func text(_ bytes: UnsafeBufferPointer<UInt8>, _ token: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[token]), as: UTF8.self)
    }

    static func parseFloat(_ bytes: UnsafeBufferPointer<UInt8>, _ number: ScannedNumber) -> Float? {
        if number.significant <= 19,
           let value = DecimalParser.fastFloat(negative: number.negative, mantissa: number.mantissa, exponent: number.exponent) {
            return value
        }
        return DecimalParser.strtofFloat(bytes, number.range)
    }

    static func parseDouble(_ bytes: UnsafeBufferPointer<UInt8>, _ number: ScannedNumber) -> Double? {
        DecimalParser.double(bytes, number.range)
    }
}

/// The keys a decoder knows for one kind of object (at most 64, none empty, none with a
/// backslash or a quote), for `JSONReader.readObject(_:_:)`.
public struct JSONKeys: Sendable {
    let names: [String]
    let utf8: [[UInt8]]

    public init(_ names: String...) {
        precondition(names.count <= 64 && names.allSatisfy { !$0.isEmpty && !$0.contains("\\") && !$0.contains("\"") })
        self.names = names
        utf8 = names.map { Array($0.utf8) }
    }
}
