import CSIMD
import Model

extension JSONReader {
    private static let sampleKeys = JSONKeys("x", "nodes", "edges", "t")

    /// Reads `{"x": [...], "t": 1.5}` or `{"nodes": [[...], ...], "edges": [[i, j], ...], "t": 0.4}`;
    /// `t` is a number (one output, or a class index) or a list of numbers (several outputs).
    /// `x` may also be a tensor of shape [D] and `nodes` one of shape [N, F], in either tensor form
    /// (`{"shape": ..., "dtype": "float32", "b64": ...}` is the compact one, decoded without parsing
    /// a number). With `requireTarget` false, `t` may be left out (and is then 0), as for `/forward`.
    public mutating func readSample(requireTarget: Bool) throws -> Sample {
        if let sample = readPlainVectorSample() { return sample }
        var x: [Float]?
        var nodes: (rows: Int, width: Int, values: [Float])?
        var edges: [Graph.Edge]?
        var target: Target?
        try readObject(Self.sampleKeys) { reader, key in
            switch key {
            case 0:  // x
                switch reader.peekKind() {
                case .array:
                    var values: [Float] = []
                    try reader.readFloats(into: &values)
                    x = values
                case .object: x = try reader.readTensor(rank: 1, "[D]").data
                default: throw reader.typeMismatch(expected: "an array of numbers or a tensor of shape [D]")
                }
            case 1:  // nodes
                switch reader.peekKind() {
                case .array: nodes = try reader.readNodeRows()
                case .object:
                    let tensor = try reader.readTensor(rank: 2, "[N, F]")
                    nodes = (tensor.shape[0], tensor.shape[1], tensor.data)
                default: throw reader.typeMismatch(expected: "an array of rows of numbers or a tensor of shape [N, F]")
                }
            case 2:  // edges
                edges = try reader.readEdges()
            case 3:  // t
                target = try reader.readTarget()
            default:
                try reader.skipValue()
            }
        }
        guard let t = target ?? (requireTarget ? nil : .number(0)) else {
            throw invalid("missing field t (the target: a number, a class index or a list of numbers)")
        }
        switch (x, nodes) {
        case (let x?, nil):
            guard edges == nil else { throw invalid("edges belong to a graph sample, which has nodes instead of x") }
            return Sample(.vector(x), target: t)
        case (nil, let nodes?):
            let graph = try Graph(nodeCount: nodes.rows, featureCount: nodes.width, features: nodes.values, edges: edges ?? [])
            return Sample(.graph(graph), target: t)
        case (nil, nil):
            throw invalid("missing field x (a vector sample) or nodes (a graph sample)")
        case (.some, .some):
            throw invalid("a sample has either x or nodes, not both")
        }
    }

    /// A number, or a list of numbers.
    public mutating func readTarget() throws -> Target {
        switch peekKind() {
        case .number: return .number(try readFloat())
        case .array: break
        default: throw typeMismatch(expected: "a number or a list of numbers")
        }
        var values: [Float] = []
        try readFloats(into: &values)
        return .numbers(values)
    }

    /// A tensor of `rank` dimensions (`shape` says which, for the error).
    private mutating func readTensor(rank: Int, _ shape: String) throws -> Tensor {
        let tensor = try readTensor()
        guard tensor.shape.count == rank else { throw shapeError("expected a tensor of shape \(shape), got shape \(tensor.shape)") }
        return tensor
    }

    /// Node feature rows, all of one width.
    private mutating func readNodeRows() throws -> (rows: Int, width: Int, values: [Float]) {
        var values: [Float] = []
        var width: Int?
        var rows = 0
        try readArray { reader, _ in
            let before = values.count
            try reader.readFloats(into: &values)
            let rowWidth = values.count - before
            if let width, rowWidth != width {
                throw reader.shapeError("expected \(width) features like nodes[0], got \(rowWidth)")
            }
            width = rowWidth
            rows += 1
        }
        return (rows, width ?? 0, values)
    }

    private mutating func readEdges() throws -> [Graph.Edge] {
        var edges: [Graph.Edge] = []
        try readArray { reader, _ in
            if let edge = reader.readPlainEdge() { return edges.append(edge) }
            var pair = (0, 0), count = 0
            try reader.readArray { reader, _ in
                guard count < 2 else { throw reader.invalid("an edge is a pair [i, j] of node indices") }
                let node = try reader.readInt(in: 0...Int(Int32.max))
                if count == 0 { pair.0 = node } else { pair.1 = node }
                count += 1
            }
            guard count == 2 else { throw reader.invalid("an edge is a pair [i, j] of node indices") }
            edges.append(Graph.Edge(pair.0, pair.1))
        }
        return edges
    }

    /// Reads a non-empty array of samples.
    public mutating func readSamples(requireTarget: Bool, limit: Int) throws -> [Sample] {
        var samples: [Sample] = []
        try readArray { reader, index in
            guard index < limit else { throw reader.invalid("more than \(limit) samples in one request") }
            samples.append(try reader.readSample(requireTarget: requireTarget))
        }
        return samples
    }
}

extension JSONWriter {
    /// Inputs with fewer values than this are written as numbers even in the compact format:
    /// a few numbers read faster than a tensor object (`gradbench step --layers D,3,3` with random
    /// inputs: numbers were faster at D = 3, b64 at D = 32, about even between).
    public static let compactSampleMinimum = 16

    /// Writes a sample: its inputs as number arrays (`.numbers`), or as compact tensors (`.b64`,
    /// for inputs of `compactSampleMinimum` values or more).
    public mutating func sample(_ sample: Sample, includeTarget: Bool, format: TensorFormat = .numbers) {
        object { w in
            switch sample.input {
            case .vector(let x):
                w.key("x")
                if format == .b64, x.count >= Self.compactSampleMinimum {
                    w.tensor(shape: [x.count], values: x, format: .b64)
                } else {
                    w.numbers(x)
                }
            case .graph(let graph):
                w.key("nodes")
                if format == .b64, graph.features.count >= Self.compactSampleMinimum {
                    w.tensor(shape: [graph.nodeCount, graph.featureCount], values: graph.features, format: .b64)
                } else {
                    w.array { w in
                        for row in 0..<graph.nodeCount {
                            let start = row * graph.featureCount
                            w.numbers(graph.features[start..<(start + graph.featureCount)])
                        }
                    }
                }
                w.key("edges")
                w.array { w in
                    for edge in graph.edges { w.array { w in w.number(edge.a); w.number(edge.b) } }
                }
            }
            if includeTarget {
                w.key("t")
                w.target(sample.target)
            }
        }
    }
}

extension JSONWriter {
    public mutating func target(_ target: Target) {
        switch target {
        case .number(let value): number(value)
        case .numbers(let values): numbers(values)
        }
    }
}

/// A sample already written as its JSON object (target included), so that a trainer encodes
/// each sample once per run, not once per epoch: requests are put together from these bytes.
public struct EncodedSample: Sendable {
    /// Its bytes, in a buffer of its own or in one that holds a whole data set's samples one after
    /// another (`encoding`): a batch drawn from a data set then refers to that one buffer, not to
    /// one allocation per sample (each a cache miss when a batch is drawn and again when released).
    public let bytes: ArraySlice<UInt8>

    /// `format` is that of the sample's inputs (`.b64`: compact tensors, which a server decodes
    /// without parsing numbers, exactly).
    public init(_ sample: Sample, format: TensorFormat = .numbers) {
        var writer = JSONWriter()
        writer.sample(sample, includeTarget: true, format: format)
        bytes = writer.bytes[...]
    }

    private init(bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    /// Asks the CPU to bring its bytes into the caches, without waiting (a hint). A batch drawn at
    /// random from a large data set misses the caches once per sample, and a request copies its
    /// samples one after another, each copy waiting for its miss; asked for ahead, the misses overlap.
    public func prefetch() {
        bytes.withUnsafeBufferPointer { csimd_prefetch($0.baseAddress, $0.count) }
    }

    /// The same for the entries `indices` of `samples` (where their bytes are, not the bytes).
    public static func prefetch(_ indices: some Sequence<Int>, of samples: [EncodedSample]) {
        samples.withUnsafeBufferPointer { all in
            for i in indices where all.indices.contains(i) { csimd_prefetch(all.baseAddress! + i, MemoryLayout<EncodedSample>.stride) }
        }
    }

    /// Every sample, written into one shared buffer.
    public static func encoding(_ samples: [Sample], format: TensorFormat = .numbers) -> [EncodedSample] {
        var all: [UInt8] = [], ranges: [Range<Int>] = []
        ranges.reserveCapacity(samples.count)
        for sample in samples {
            let one = EncodedSample(sample, format: format).bytes
            ranges.append(all.count..<(all.count + one.count))
            all.append(contentsOf: one)
        }
        return ranges.map { EncodedSample(bytes: all[$0]) }
    }
}

extension JSONWriter {
    /// An array of pre-encoded samples.
    public mutating func samples(_ samples: [EncodedSample]) {
        arrayStart()
        for sample in samples { rawValue(sample.bytes) }
        arrayEnd()
    }
}
