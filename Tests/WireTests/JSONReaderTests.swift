import Model
import Testing
@testable import Wire

@Suite struct JSONReaderTests {
    func decodeGradients(_ json: String) throws -> GradientsRequest {
        try JSONReader.read(Array(json.utf8)) { try GradientsRequest(reading: &$0, sampleLimit: 100) }
    }

    @Test func readsAGradientsRequestWithEscapesAndWhitespace() throws {
        let request = try decodeGradients(#"""
         { "samples" : [ {"x": [1, -2.5e1, 0.125], "t": 1.73, "note": "ca\u00e9\"\n"},
                         {"t": 0, "x": []} ],
           "reduce": "sum", "extra": {"nested": [null, true, false]} }
        """#)
        #expect(request.samples == [Sample(x: [1, -25, 0.125], t: 1.73), Sample(x: [], t: 0)])
        #expect(request.reduce == .sum)
        #expect(request.tensorFormat == .numbers)
    }

    @Test(arguments: [
        (#"{"samples": [{"x": [1, 2], "t": "1"}]}"#, "samples[0].t", "expected a number or a list of numbers, got a string"),
        (#"{"samples": [{"x": [1, "2"], "t": 1}]}"#, "samples[0].x[1]", "expected a number, got a string"),
        (#"{"samples": [{"x": [1], "t": 1e400}]}"#, "samples[0].t", "1e400 is out of Float32 range"),
        (#"{"samples": [{"x": [1], "x": [2], "t": 1}]}"#, "samples[0].x", "duplicate key; each key may appear once in an object"),
        (#"{"samples": [], "samples": []}"#, "samples", "duplicate key; each key may appear once in an object"),
        (#"{"samples": [], "extra": {"a": 1, "a": 2}}"#, "extra.a", "duplicate key; each key may appear once in an object"),
        (#"{"samples": [{"t": 1}]}"#, "samples[0]", "missing field x (a vector sample) or nodes (a graph sample)"),
        (#"{"sample": []}"#, "", #"missing field samples (an array of {"x": [...], "t": ...})"#),
        (#"{"samples": {}}"#, "samples", "expected an array, got an object"),
        (#"{"samples": [], "reduce": "mean"}"#, "reduce", #"expected "none" or "sum", got "mean""#),
        (#"[]"#, "", "expected an object, got an array"),
    ])
    func wrongFormsNameTheFieldAndWhatWasExpected(json: String, path: String, message: String) {
        #expect(throws: WireError.invalidField(path: path, message: message)) {
            try decodeGradients(json)
        }
    }

    /// Integers up to 18 digits come from the digits gathered while scanning, longer ones from
    /// their text: both give the exact value, and every other number form is refused.
    @Test func integersAreExactAndOnlyPlainDigitsAreIntegers() throws {
        func read(_ text: String, in range: ClosedRange<Int> = Int.min...Int.max) throws -> Int {
            try JSONReader.read(Array(text.utf8)) { try $0.readInt(in: range) }
        }
        for value in [0, 7, -7, 123_456_789_012_345_678, -123_456_789_012_345_678, 1_234_567_890_123_456_789, Int.max, Int.min] {
            #expect(try read(String(value)) == value)
        }
        #expect(try read("-0") == 0)
        #expect(try read(" 42 ", in: 0...42) == 42)
        for text in ["1.0", "1e2", "1E0", "-2.5", "9223372036854775808", "-9223372036854775809"] {
            #expect(throws: WireError.invalidField(path: "", message: "expected an integer in \(Int.min)...\(Int.max), got \(text)")) { try read(text) }
        }
        #expect(throws: WireError.invalidField(path: "", message: "expected an integer in 0...42, got 43")) { try read("43", in: 0...42) }
        #expect(throws: WireError.invalidField(path: "", message: "expected an integer in 0...42, got -1")) { try read("-1", in: 0...42) }
    }

    /// The reader refuses a repeated key in every document, including those no decoder in this
    /// file names (checkpoints, tensor maps), and stays linear on objects with very many keys.
    @Test func repeatedKeysAreRefusedInEveryObject() throws {
        let layout = ParameterLayout([("w", [1])])
        let checkpoint = #"{"version": 5, "version": 7, "parameters": {"w": {"shape": [1], "data": [1]}}}"#
        #expect(throws: WireError.invalidField(path: "version", message: "duplicate key; each key may appear once in an object")) {
            try JSONReader.read(Array(checkpoint.utf8)) { try Checkpoint(reading: &$0, layout: layout) }
        }
        let tensors = #"{"w": {"shape": [1], "data": [1]}, "w": {"shape": [1], "data": [2]}}"#
        #expect(throws: WireError.invalidField(path: "w", message: "duplicate key; each key may appear once in an object")) {
            try JSONReader.read(Array(tensors.utf8)) { try $0.readTensorMap() }
        }
        // The same key in sibling and nested objects is not a repeat.
        let siblings = #"{"a": {"k": 1}, "b": {"k": 2, "c": {"k": 3}}, "k": 4}"#
        try JSONReader.read(Array(siblings.utf8)) { try $0.skipValue() }
        // Past the linear scan: many distinct keys pass, and a repeat far from the first is found.
        let many = (0..<20_000).map { "\"k\($0)\": \($0)" }
        try JSONReader.read(Array("{\(many.joined(separator: ","))}".utf8)) { try $0.skipValue() }
        #expect(throws: WireError.invalidField(path: "k3", message: "duplicate key; each key may appear once in an object")) {
            try JSONReader.read(Array("{\(many.joined(separator: ",")), \"k3\": 0}".utf8)) { try $0.skipValue() }
        }
    }

    @Test(arguments: [
        #"{"samples": [1,]}"#, #"{"samples": [01]}"#, #"{"samples" [1]}"#, #"{"samples": [1.]}"#,
        #"{"samples": tru}"#, #"{"a": "\x"}"#, "{\"a\": \"\u{1}\"}", #"{"a": 1} x"#, #"{"a": "unterminated"#, "",
        #"{"a": NaN}"#, #"{"a": Infinity}"#, #"{"a": -}"#, #"{"a": "\ud800"}"#,
    ])
    func malformedJSONIsRejected(json: String) {
        #expect(throws: WireError.self) {
            try JSONReader.read(Array(json.utf8)) { reader in try reader.skipValue() }
        }
    }

    @Test func invalidUTF8IsMalformed() {
        let bytes: [UInt8] = Array(#"{"a": ""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(throws: WireError.malformed(offset: 7, message: "string is not valid UTF-8")) {
            try JSONReader.read(bytes) { try $0.skipValue() }
        }
    }

    @Test func deepNestingStopsAtTheLimitWithoutRecursingFurther() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: WireError.malformed(offset: JSONReader.maxDepth, message: "nesting deeper than 64 levels")) {
            try JSONReader.read(Array(deep.utf8)) { try $0.skipValue() }
        }
    }

    /// Objects read with known keys (samples, tensors) match them on their bytes; a key written
    /// with escapes is still the same key, for what it reads and for repeats.
    @Test func knownKeysAreTheSameKeysWhateverTheirSpelling() throws {
        func sample(_ json: String) throws -> Sample { try JSONReader.read(Array(json.utf8)) { try $0.readSample(requireTarget: true) } }
        #expect(try sample(#"{"\u0078": [1, 2], "t": 3, "xy": 0, "x2": [], "tt": {}}"#) == Sample(x: [1, 2], t: 3))
        #expect(throws: WireError.invalidField(path: "x", message: "duplicate key; each key may appear once in an object")) {
            try sample(#"{"x": [1], "t": 1, "\u0078": [2]}"#)
        }
        #expect(throws: WireError.invalidField(path: "note", message: "duplicate key; each key may appear once in an object")) {
            try sample(#"{"note": 1, "x": [1], "t": 1, "note": 2}"#)
        }
        #expect(throws: WireError.malformed(offset: 1, message: "expected a string key")) { try sample(#"{x: [1]}"#) }
        #expect(throws: WireError.self) { try sample(#"{"x"#) }
    }

    @Test func longNumbersParseCorrectly() throws {
        let digits = "0." + String(repeating: "3", count: 500)
        let value = try JSONReader.read(Array(digits.utf8)) { try $0.readFloat() }
        #expect(value == Float(1) / 3)
        let tiny = try JSONReader.read(Array("1e-60".utf8)) { try $0.readFloat() }
        #expect(tiny == 0)
    }
}

@Suite struct RoundTripTests {
    @Test func everyFloatWrittenReadsBackBitForBit() throws {
        var generator = SeededGenerator(seed: 99)
        var values: [Float] = [0, -0.0, 1, -1, .leastNonzeroMagnitude, .greatestFiniteMagnitude, .ulpOfOne, 0.1, 3.4028235e38]
        values += (0..<20_000).map { _ in Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &generator)) }.filter(\.isFinite)
        var writer = JSONWriter()
        writer.numbers(values)
        var decoded: [Float] = []
        try JSONReader.read(writer.bytes) { try $0.readFloats(into: &decoded) }
        #expect(decoded.map(\.bitPattern) == values.map(\.bitPattern))
    }

    @Test(arguments: TensorFormat.allCases)
    func tensorsSurviveBothFormats(format: TensorFormat) throws {
        let tensor = try Tensor(shape: [2, 3], data: [1.5, -0.1, 3e-8, 7, 0, -2])
        var writer = JSONWriter()
        writer.tensor(tensor, format: format)
        let decoded = try JSONReader.read(writer.bytes) { try $0.readTensor() }
        #expect(decoded == tensor)
        let text = String(decoding: writer.bytes, as: UTF8.self)
        #expect(text.contains(format == .b64 ? #""dtype":"float32","b64":"# : #""data":[1.5,-0.1,3e-08,7.0,0.0,-2.0]"#))
    }

    /// Only canonical base64 is read: the unused bits of the last character must be zero.
    @Test(arguments: [("AACAPw==", true), ("AACAPx==", false), ("AACAPwAAAEA=", true), ("AACAPwAAAEB=", false),
                      ("AACAPwAAAEAAAEBA", true), ("AACAP", false)])
    func base64MustBeCanonical(text: String, accepted: Bool) throws {
        let json = #"{"shape": [\#(text.count / 4 * 3 / 4)], "dtype": "float32", "b64": "\#(text)"}"#
        let result = Result { try JSONReader.read(Array(json.utf8)) { try $0.readTensor() } }
        #expect(((try? result.get()) != nil) == accepted, "\(text)")
    }

    @Test func tensorErrorsNameTheProblem() throws {
        func read(_ json: String) throws -> Tensor { try JSONReader.read(Array(json.utf8)) { try $0.readTensor() } }
        #expect(throws: ModelError.shapeMismatch("shape [2,2] holds 4 values, got 3")) {
            try read(#"{"shape": [2, 2], "data": [1, 2, 3]}"#)
        }
        #expect(throws: WireError.invalidField(path: "datatype", message: #"expected "FP32", the only datatype served, got "FP64""#)) {
            try read(#"{"shape": [1], "data": [1], "datatype": "FP64"}"#)
        }
        #expect(throws: WireError.self) { try read(#"{"shape": [-1], "data": []}"#) }
        #expect(throws: ModelError.shapeMismatch("shape: shape [100000, 100000, 100000] has more than 268435456 elements")) {
            try read(#"{"shape": [100000, 100000, 100000], "data": []}"#)
        }
        #expect(throws: WireError.self) { try read(#"{"shape": [1], "b64": "AAA"}"#) }
        #expect(throws: WireError.self) { try read(#"{"shape": [1], "data": [1], "b64": "AACAPw=="}"#) }
        #expect(try read(#"{"shape": [1], "b64": "AACAPw=="}"#) == Tensor(shape: [1], data: [1]))
    }
}

/// The model names a sample's parts in its own terms; answers name the JSON fields.
@Suite struct WireNamesTests {
    @Test(arguments: [
        ("samples[1].input: expected [3], got [2]", "samples[1].x: expected [3], got [2]"),
        ("samples[0].input[2]: nan is not finite", "samples[0].x[2]: nan is not finite"),
        ("samples[0].input.nodes[2][1]: inf is not finite", "samples[0].nodes[2][1]: inf is not finite"),
        ("parts[1].samples[0].input.edges[3]: self-loop [1, 1]", "parts[1].samples[0].edges[3]: self-loop [1, 1]"),
        ("samples[4].target[1]: expected a number in [0, 1], got 1.5", "samples[4].t[1]: expected a number in [0, 1], got 1.5"),
        ("W1: expected [3,3], got [3,2]: the input is fine", "W1: expected [3,3], got [3,2]: the input is fine"),
        ("no path here", "no path here"),
    ])
    func aSamplesPartsAreRenamedInThePathOnly(model: String, wire: String) {
        #expect(ModelError.shapeMismatch(model).withWireNames == .shapeMismatch(wire))
    }
}

/// `readRawString` finds the end of a string with memchr: every place the quote or a backslash
/// can be must still be found, and a string that never ends must still be refused.
@Suite struct RawStringTests {
    func raw(_ json: String) throws -> String {
        try JSONReader.read(Array(json.utf8)) { reader in try reader.readRawString { String(decoding: $0, as: UTF8.self) } }
    }

    @Test func readsUpToTheClosingQuote() throws {
        #expect(try raw(#""""#) == "")
        #expect(try raw(#"  "AAAA" "#) == "AAAA")
        let long = String(repeating: "AbC+/0=", count: 5000)
        #expect(try raw("\"\(long)\"") == long)
    }

    @Test(arguments: [#""AA\u0041""#, #""\\""#, "\"" + String(repeating: "A", count: 4000) + "\\n\"", #""AAAA"#, "\""])
    func escapesAndUnterminatedStringsAreRefused(json: String) {
        #expect(throws: WireError.self) { try raw(json) }
    }
}

/// A sample's inputs come as numbers or, in the compact form, as tensors; both read to the same
/// sample, bit for bit (base64 carries the float32 bits themselves).
@Suite struct CompactSampleTests {
    func read(_ json: String) throws -> Sample {
        try JSONReader.read(Array(json.utf8)) { try $0.readSample(requireTarget: true) }
    }

    func written(_ sample: Sample, _ format: TensorFormat) -> String {
        var writer = JSONWriter()
        writer.sample(sample, includeTarget: true, format: format)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    @Test func vectorAndGraphInputsReadTheSameInBothForms() throws {
        var generator = SeededGenerator(seed: 7)
        let values = (0..<40).map { _ in Float(bitPattern: UInt32.random(in: 0...0x7F7F_FFFF, using: &generator)) } + [-0.0, .leastNonzeroMagnitude]
        let graph = try Graph(nodeCount: 6, featureCount: 7, features: values, edges: [Graph.Edge(0, 1), Graph.Edge(4, 5)])
        for sample in [Sample(x: values, t: 0.5), Sample(.graph(graph), target: .numbers([1, 2]))] {
            let numbers = written(sample, .numbers), compact = written(sample, .b64)
            #expect(!numbers.contains("b64") && compact.contains(#""dtype":"float32","b64":"#))
            #expect(try read(numbers) == sample)
            #expect(try read(compact) == sample)
            if case .vector(let x) = try read(compact).input { #expect(x.map(\.bitPattern) == values.map(\.bitPattern)) }
        }
        // Inputs of fewer than 16 values stay numbers, which read faster than a tensor object.
        #expect(written(Sample(x: Array(values.prefix(15)), t: 1), .b64) == written(Sample(x: Array(values.prefix(15)), t: 1), .numbers))
        #expect(written(Sample(x: Array(values.prefix(16)), t: 1), .b64).contains("b64"))
        // Either tensor form is taken.
        #expect(try read(#"{"x": {"shape": [2], "data": [1.5, -2]}, "t": 1}"#) == Sample(x: [1.5, -2], t: 1))
        #expect(try read(#"{"nodes": {"shape": [2, 1], "data": [1, 2]}, "edges": [[0, 1]], "t": 3}"#)
            == Sample(.graph(try Graph(nodeCount: 2, featureCount: 1, features: [1, 2], edges: [Graph.Edge(0, 1)])), target: .number(3)))
    }

    /// A data set encoded into one shared buffer gives each sample the bytes it has alone, and
    /// a request put together from them reads back as the samples.
    @Test(arguments: [TensorFormat.numbers, .b64])
    func samplesEncodedTogetherAreEachTheirOwnBytes(format: TensorFormat) throws {
        var generator = SeededGenerator(seed: 3)
        let graph = try Graph(nodeCount: 3, featureCount: 6, features: (0..<18).map { Float($0) / 3 }, edges: [Graph.Edge(0, 2)])
        let samples = (0..<50).map { i in Sample(x: (0..<(i % 20)).map { _ in Float.random(in: -1..<1, using: &generator) }, t: Float(i)) }
            + [Sample(.graph(graph), target: .numbers([1, 2]))]
        let together = EncodedSample.encoding(samples, format: format)
        #expect(together.map { Array($0.bytes) } == samples.map { Array(EncodedSample($0, format: format).bytes) })
        var writer = JSONWriter()
        GradientsRequest(samples: [], tensorFormat: format).encode(Array(together.reversed()), to: &writer)
        #expect(try JSONReader.read(writer.bytes) { try GradientsRequest(reading: &$0, sampleLimit: 1000) }.samples == samples.reversed())
    }

    @Test func compactInputsOfTheWrongShapeOrTextNameTheProblem() throws {
        #expect(throws: ModelError.shapeMismatch("x: expected a tensor of shape [D], got shape [1, 2]")) {
            try read(#"{"x": {"shape": [1, 2], "data": [1, 2]}, "t": 1}"#)
        }
        #expect(throws: ModelError.shapeMismatch("nodes: expected a tensor of shape [N, F], got shape [2]")) {
            try read(#"{"nodes": {"shape": [2], "dtype": "float32", "b64": "AACAPwAAAEA="}, "t": 1}"#)
        }
        #expect(throws: ModelError.shapeMismatch("x: shape [3] holds 3 values, got 2")) {
            try read(#"{"x": {"shape": [3], "dtype": "float32", "b64": "AACAPwAAAEA="}, "t": 1}"#)
        }
        #expect(throws: WireError.invalidField(path: "x.b64", message: "expected base64 of little-endian float32 values")) {
            try read(#"{"x": {"shape": [1], "dtype": "float32", "b64": "AACAP"}, "t": 1}"#)
        }
        #expect(throws: WireError.invalidField(path: "x", message: "expected an array of numbers or a tensor of shape [D], got a string")) {
            try read(#"{"x": "AACAPw==", "t": 1}"#)
        }
    }

    /// What `shortcut` makes of `json`, if it takes it; else what `general` makes of the same reader,
    /// which must still stand at the value's start.
    func readBothWays<T>(_ json: String, _ shortcut: (inout JSONReader) -> T?,
                         _ general: (inout JSONReader) throws -> T) throws -> (plain: T?, general: T?) {
        try JSONReader.read(Array(json.utf8)) { reader in
            if let value = shortcut(&reader) { return (value, nil) }
            return (nil, try general(&reader))
        }
    }

    /// Spellings a shortcut must leave to the general path: each reads there as expected, or is
    /// refused there (nil), as before the shortcut.
    func expectGeneralPath<T: Equatable>(_ cases: [(String, T?)], _ shortcut: (inout JSONReader) -> T?,
                                         _ general: (inout JSONReader) throws -> T) {
        for (json, expected) in cases {
            if let expected {
                let read = try? readBothWays(json, shortcut, general)
                #expect(read?.plain == nil && read?.general == expected, "\(json)")
            } else {
                // Thrown by the general path: the shortcut made nothing of it.
                #expect(throws: (any Error).self, "\(json)") { try readBothWays(json, shortcut, general) }
            }
        }
    }

    /// Plain vector samples (`{"x": [...], "t": n}`) take a shortcut; any other spelling goes the
    /// general way, to the same sample or the same error as before.
    @Test func vectorSamplesReadTheSameWhateverTheirSpelling() throws {
        func plain(_ json: String) throws -> Sample? {
            try readBothWays(json, { $0.readPlainVectorSample() }, { try $0.readSample(requireTarget: true) }).plain
        }
        // What the writer writes, for random values of every magnitude, reads as the same bits.
        var generator = SeededGenerator(seed: 11)
        for count in [1, 2, 3, 7, 40] {
            let x = (0..<count).map { _ in Float(bitPattern: UInt32.random(in: 0...0xFF7F_FFFF, using: &generator) & 0xFF7F_FFFF) }
            let t = Float(bitPattern: UInt32.random(in: 0...0x7F7F_FFFF, using: &generator))
            let json = written(Sample(x: x, t: t), .numbers)
            let sample = try #require(try plain(json), "\(json)")
            #expect(sample == Sample(x: x, t: t))
            guard case .vector(let read) = sample.input else { continue }
            #expect(read.map(\.bitPattern) == x.map(\.bitPattern))
        }
        #expect(try plain(#" { "x" : [ 1 , -2.5e1 ,0.125 ] , "t" : 1.73 } "#) == Sample(x: [1, -25, 0.125], t: 1.73))
        // Other spellings: not taken, and read (or refused) by the general path as before.
        let others: [(String, Sample?)] = [
            (#"{"t": 1, "x": [1]}"#, Sample(x: [1], t: 1)),
            (#"{"x": [], "t": 1}"#, Sample(x: [], t: 1)),
            (#"{"x": [1], "t": [1, 2]}"#, Sample(.vector([1]), target: .numbers([1, 2]))),
            (#"{"x": [1], "t": 1, "note": "a"}"#, Sample(x: [1], t: 1)),
            (#"{"x": {"shape": [1], "data": [2]}, "t": 1}"#, Sample(x: [2], t: 1)),
            (#"{"\u0078": [1], "t": 1}"#, Sample(x: [1], t: 1)),
            (#"{" x": [1], "t": 1}"#, nil),
            (#"{"y": [1], "z": 1}"#, nil),
            (#"{"x": [1], "t": 1, "t": 2}"#, nil),
            (#"{"x": [1, 2,], "t": 1}"#, nil),
            (#"{"x": [01], "t": 1}"#, nil),
            (#"{"x": [1], "t": 1e400}"#, nil),
            (#"{"x": [1e400], "t": 1}"#, nil),
            (#"{"x": [1], "t": -}"#, nil),
            (#"{"x": [1], "t": 1"#, nil),
        ]
        expectGeneralPath(others, { $0.readPlainVectorSample() }, { try $0.readSample(requireTarget: true) })
        // Errors still name the field.
        #expect(throws: WireError.invalidField(path: "t", message: "1e400 is out of Float32 range")) { try read(#"{"x": [1], "t": 1e400}"#) }
        #expect(throws: WireError.invalidField(path: "x[0]", message: "1e400 is out of Float32 range")) { try read(#"{"x": [1e400], "t": 1}"#) }
        #expect(throws: WireError.invalidField(path: "x[1]", message: "expected a number, got an array")) { try read(#"{"x": [1, []], "t": 1}"#) }
    }

    /// Compact tensors as JSONWriter writes them take a shortcut; any other spelling goes the
    /// general way, to the same tensor or the same error as before.
    @Test func compactTensorsReadTheSameWhateverTheirSpelling() throws {
        func plain(_ json: String) throws -> Tensor? { try readBothWays(json, { $0.readPlainCompactTensor() }, { try $0.readTensor() }).plain }
        var generator = SeededGenerator(seed: 13)
        for shape in [[1], [3], [2, 3], [1, 1, 5], [2, 1, 1, 1, 1, 1, 1, 2]] {
            let count = shape.reduce(1, *)
            let values = (0..<count).map { _ in Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &generator)) }
            var writer = JSONWriter()
            writer.tensor(shape: shape, values: values, format: .b64)
            let json = String(decoding: writer.bytes, as: UTF8.self)
            let tensor = try #require(try plain(json), "\(json)")
            #expect(tensor.shape == shape)
            #expect(tensor.data.map(\.bitPattern) == values.map(\.bitPattern))  // NaNs among them
        }
        #expect(try plain(#" { "shape" : [ 2 ] , "dtype" : "float32" , "b64" : "AACAPwAAAEA=" } "#) == Tensor(shape: [2], data: [1, 2]))
        // Other spellings: not taken, and read (or refused) as before.
        let others: [(String, Tensor?)] = [
            (#"{"dtype": "float32", "shape": [2], "b64": "AACAPwAAAEA="}"#, try Tensor(shape: [2], data: [1, 2])),
            (#"{"shape": [2], "data": [1, 2]}"#, try Tensor(shape: [2], data: [1, 2])),
            (#"{"shape": [2], "dtype": "float32", "b64": "AACAPwAAAEA=", "note": 1}"#, try Tensor(shape: [2], data: [1, 2])),
            (#"{"shape": [2], "dtype": "float32", "b64": "AACAPwAAAEA\u003d"}"#, nil),
            (#"{"shape": [], "dtype": "float32", "b64": "AACAPw=="}"#, try Tensor(shape: [], data: [1])),
            (#"{"shape": [1, 1, 1, 1, 1, 1, 1, 1, 1], "dtype": "float32", "b64": "AACAPw=="}"#, nil),
            (#"{"shape": [02], "dtype": "float32", "b64": "AACAPwAAAEA="}"#, nil),
            (#"{"shape": [2.0], "dtype": "float32", "b64": "AACAPwAAAEA="}"#, nil),
            (#"{"shape": [3], "dtype": "float32", "b64": "AACAPwAAAEA="}"#, nil),
            (#"{"shape": [2], "dtype": "float64", "b64": "AACAPwAAAEA="}"#, nil),
            (#"{"shape": [2], "dtype": "float32", "b64": "AACAPwAAAE"}"#, nil),
            (#"{"shape": [2], "dtype": "float32", "b64": "AACAPwAAAEA=""#, nil),
            (#"{"shape": [268435457], "dtype": "float32", "b64": ""}"#, nil),
        ]
        expectGeneralPath(others, { $0.readPlainCompactTensor() }, { try $0.readTensor() })
    }

    /// Plain edges take a shortcut; every other spelling goes the general way, to the same edge
    /// or the same error as before.
    @Test func edgesReadTheSameWhateverTheirSpelling() throws {
        func edges(_ text: String) throws -> [Graph.Edge] {
            let sample = try JSONReader.read(Array(#"{"nodes": [[1]], "edges": \#(text), "t": 0}"#.utf8)) { try $0.readSample(requireTarget: true) }
            guard case .graph(let graph) = sample.input else { return [] }
            return graph.edges
        }
        #expect(try edges("[[0,1],[ 2 , 3 ],\n[2147483647, 10]]") == [Graph.Edge(0, 1), Graph.Edge(2, 3), Graph.Edge(2147483647, 10)])
        for bad in ["[[01, 2]]", "[[1.0, 2]]", "[[1e0, 2]]", "[[1, 2.5]]", "[[1, 2E1]]"] {
            #expect(throws: WireError.self, "\(bad)") { try edges(bad) }
        }
        #expect(throws: WireError.invalidField(path: "edges[0][1]", message: "expected an integer in 0...2147483647, got -1")) { try edges("[[0, -1]]") }
        #expect(throws: WireError.invalidField(path: "edges[1][0]", message: "expected an integer in 0...2147483647, got 2147483648")) {
            try edges("[[0, 1], [2147483648, 0]]")
        }
        #expect(throws: WireError.invalidField(path: "edges[0][2]", message: "an edge is a pair [i, j] of node indices")) { try edges("[[1, 2, 3]]") }
        #expect(throws: WireError.invalidField(path: "edges[0]", message: "an edge is a pair [i, j] of node indices")) { try edges("[[1]]") }
        #expect(throws: WireError.invalidField(path: "edges[0][0]", message: "expected an integer in 0...2147483647, got 12345678901")) { try edges("[[12345678901, 1]]") }
        #expect(throws: WireError.self) { try edges("[[1 2]]") }
        #expect(throws: WireError.self) { try edges("[[1, 2") }
    }

    /// One-digit integers (one-hot features written by other JSON writers) take a shortcut; every
    /// neighbour of that shortcut must read as the general path reads it, or be refused as before.
    @Test func oneDigitNumbersReadLikeAnyOther() throws {
        func floats(_ json: String) throws -> [Float] {
            var values: [Float] = []
            try JSONReader.read(Array(json.utf8)) { try $0.readFloats(into: &values) }
            return values
        }
        #expect(try floats("[0,1,9, 7 ,\n3\t,0]") == [0, 1, 9, 7, 3, 0])
        #expect(try floats("[0.0,1.5,10,-1,2e1,0e0,5]") == [0, 1.5, 10, -1, 20, 0, 5])
        #expect(try floats("[-0]").map(\.bitPattern) == [(-0.0 as Float).bitPattern])
        for bad in ["[01]", "[1 2]", "[1,]", "[1", "[1}", "[1:2]"] {
            #expect(throws: WireError.self, "\(bad)") { try floats(bad) }
        }
    }
}
