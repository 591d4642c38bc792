import Model

/// Whether `/gradients` answers one gradient per sample or their sum.
public enum Reduction: String, Sendable, CaseIterable {
    case none
    case sum
}

/// What an answer with `"reduce": "sum"` says about the samples: each one's loss and output
/// (`per_sample`, the default), or only how many there were and the sum of their losses (`sum`),
/// all a trainer needs, in a few bytes instead of two numbers and two keys a sample.
public enum ResultsForm: String, Sendable, CaseIterable {
    case perSample = "per_sample"
    case sum

    /// Per-sample gradients come inside per-sample results, so only a sum may drop them.
    static func check(_ form: ResultsForm, reduce: Reduction) throws {
        guard form == .sum, reduce != .sum else { return }
        throw WireError.invalidField(path: "results", message: "\"sum\" needs \"reduce\": \"sum\" (per-sample gradients come with per-sample results)")
    }
}

/// `POST /forward`
public struct ForwardRequest: Sendable {
    public var samples: [Sample]

    public init(samples: [Sample]) { self.samples = samples }

    public init(reading reader: inout JSONReader, sampleLimit: Int) throws {
        var samples: [Sample]?
        try reader.readObject { reader, key in
            switch key {
            case "samples":
                samples = try reader.readSamples(requireTarget: false, limit: sampleLimit)
            default: try reader.skipValue()
            }
        }
        guard let samples else { throw reader.invalid("missing field samples (an array of {\"x\": [...]})") }
        self.samples = samples
    }

    public func encode(to writer: inout JSONWriter) {
        writer.object { w in
            w.key("samples")
            w.array { w in for sample in samples { w.sample(sample, includeTarget: false) } }
        }
    }
}

/// `POST /gradients`
public struct GradientsRequest: Sendable {
    public var samples: [Sample]
    public var reduce: Reduction
    public var tensorFormat: TensorFormat
    /// DP-SGD: scale each sample's whole gradient to L2 norm at most this before it is returned or summed.
    public var perSampleClipNorm: Float?
    /// With `reduce` sum: per-sample losses and outputs, or only their count and loss sum.
    public var results: ResultsForm

    public init(samples: [Sample], reduce: Reduction = .none, tensorFormat: TensorFormat = .numbers, perSampleClipNorm: Float? = nil,
                results: ResultsForm = .perSample) {
        self.samples = samples
        self.reduce = reduce
        self.tensorFormat = tensorFormat
        self.perSampleClipNorm = perSampleClipNorm
        self.results = results
    }

    public init(reading reader: inout JSONReader, sampleLimit: Int) throws {
        var samples: [Sample]?
        var reduce: Reduction?
        var format: TensorFormat?
        var clip: Float?
        var results = ResultsForm.perSample
        try reader.readObject { reader, key in
            switch key {
            case "per_sample_clip_norm": clip = try reader.readClipNorm()
            case "results": results = try reader.readEnum(ResultsForm.self)
            case "samples":
                samples = try reader.readSamples(requireTarget: true, limit: sampleLimit)
            case "reduce":
                reduce = try reader.readEnum(Reduction.self)
            case "tensor_format":
                format = try reader.readEnum(TensorFormat.self)
            default: try reader.skipValue()
            }
        }
        guard let samples else { throw reader.invalid("missing field samples (an array of {\"x\": [...], \"t\": ...})") }
        try ResultsForm.check(results, reduce: reduce ?? .none)
        self.init(samples: samples, reduce: reduce ?? .none, tensorFormat: format ?? .numbers, perSampleClipNorm: clip, results: results)
    }

    public func encode(to writer: inout JSONWriter) {
        encode(samples.map { EncodedSample($0) }, to: &writer)
    }

    /// The request with these samples instead of `samples` (already encoded).
    public func encode(_ samples: [EncodedSample], to writer: inout JSONWriter) {
        writer.object { w in
            w.key("samples")
            w.samples(samples)
            if reduce != .none { w.key("reduce"); w.string(reduce.rawValue) }
            if tensorFormat != .numbers { w.key("tensor_format"); w.string(tensorFormat.rawValue) }
            if let perSampleClipNorm { w.key("per_sample_clip_norm"); w.number(perSampleClipNorm) }
            if results != .perSample { w.key("results"); w.string(results.rawValue) }
        }
    }
}

/// `POST /apply` (`gradients`) and `PUT /params` (`parameters`): named tensors and an optional base
/// version; for `/apply`, also `if_version`, the version the server must be at for the step to land.
public struct TensorsRequest: Sendable {
    public var tensors: [String: Tensor]
    public var version: Int?
    public var ifVersion: Int?

    public init(tensors: [String: Tensor], version: Int?, ifVersion: Int? = nil) {
        self.tensors = tensors
        self.version = version
        self.ifVersion = ifVersion
    }

    /// `field` is "gradients" or "parameters".
    public init(reading reader: inout JSONReader, field: String) throws {
        var tensors: [String: Tensor]?
        var version: Int?, ifVersion: Int?
        try reader.readObject { reader, key in
            switch key {
            case field:
                tensors = try reader.readTensorMap()
            case "version":
                if try !reader.readNullIfPresent() { version = try reader.readInt(in: 0...Int.max) }
            case "if_version" where field == "gradients":
                ifVersion = try reader.readIfVersion()
            default: try reader.skipValue()
            }
        }
        guard let tensors else { throw reader.invalid("missing field \(field) (an object of named tensors)") }
        self.init(tensors: tensors, version: version, ifVersion: ifVersion)
    }

    public func encode(to writer: inout JSONWriter, field: String, format: TensorFormat = .numbers) {
        writer.object { w in
            w.key(field)
            w.object { w in
                for name in tensors.keys.sorted() {
                    w.key(name)
                    w.tensor(tensors[name]!, format: format)
                }
            }
            if let version { w.key("version"); w.number(version) }
            if let ifVersion { w.key("if_version"); w.number(ifVersion) }
        }
    }
}

extension JSONReader {
    /// `if_version`: a version, 0 or more.
    mutating func readIfVersion() throws -> Int { try readInt(in: 0...Int.max) }
}

extension JSONReader {
    /// `per_sample_clip_norm`: a Float32 above 0.
    mutating func readClipNorm() throws -> Float {
        let value = try readFloat()
        guard value > 0 else { throw invalid("expected a number above 0 (the L2 norm each sample's gradient is clipped to), got \(value)") }
        return value
    }

    /// A string that must be one of the raw values of `T`.
    public mutating func readEnum<T: RawRepresentable & CaseIterable>(_ type: T.Type) throws -> T where T.RawValue == String {
        let text = try readString()
        guard let value = T(rawValue: text) else {
            let allowed = T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")
            throw invalid("expected \(allowed), got \"\(text.prefix(64))\"")
        }
        return value
    }
}

/// `POST /step`: one round trip of synchronous training. The server applies `gradients` at base
/// `version` (the rules of `/apply`), then computes the gradients of each of `parts` at the new
/// version (as `/gradients` would, with the same `reduce`, `tensor_format` and clipping), and
/// answers both. Without `gradients` it only computes the parts, at the current version.
public struct StepRequest: Sendable {
    public var gradients: [String: Tensor]?
    public var version: Int?
    /// The version the server must be at for `gradients` to be applied (see `/apply`).
    public var ifVersion: Int?
    public var parts: [[Sample]]
    public var reduce: Reduction
    public var tensorFormat: TensorFormat
    public var perSampleClipNorm: Float?
    public var results: ResultsForm

    public init(reading reader: inout JSONReader, sampleLimit: Int) throws {
        var gradients: [String: Tensor]?, version: Int?, ifVersion: Int?, parts: [[Sample]]?
        var options = GradientsRequest(samples: [])
        var total = 0
        try reader.readObject { reader, key in
            switch key {
            case "gradients": gradients = try reader.readTensorMap()
            case "version": version = try reader.readInt(in: 0...Int.max)
            case "if_version": ifVersion = try reader.readIfVersion()
            case "parts":
                var list: [[Sample]] = []
                try reader.readArray { reader, _ in
                    let part = try reader.readSamples(requireTarget: true, limit: sampleLimit - total)
                    total += part.count
                    list.append(part)
                }
                parts = list
            case "reduce": options.reduce = try reader.readEnum(Reduction.self)
            case "tensor_format": options.tensorFormat = try reader.readEnum(TensorFormat.self)
            case "per_sample_clip_norm": options.perSampleClipNorm = try reader.readClipNorm()
            case "results": options.results = try reader.readEnum(ResultsForm.self)
            default: try reader.skipValue()
            }
        }
        guard let parts else { throw reader.invalid("missing field parts (an array of sample arrays, each answered like /gradients)") }
        try ResultsForm.check(options.results, reduce: options.reduce)
        if gradients != nil, version == nil {
            throw reader.invalid("missing field version: the base version the gradients were computed at (a step is never applied blind)")
        }
        self.gradients = gradients
        self.version = version
        self.ifVersion = ifVersion
        self.parts = parts
        reduce = options.reduce
        tensorFormat = options.tensorFormat
        perSampleClipNorm = options.perSampleClipNorm
        results = options.results
    }
}

/// `POST /steps`: several steps of a pipelined run in one request, landed one after another. Each
/// carries its gradients and the version it lands on (`if_version`; the server checks that they
/// follow one another).
public struct StepsRequest: Sendable {
    /// The most steps one request may carry.
    public static let maxSteps = 64

    public var steps: [StepRequest]

    public init(reading reader: inout JSONReader, sampleLimit: Int) throws {
        var total = 0
        let steps = try reader.readListField("steps", missing: "missing field steps (an array of /step bodies, landed in order)") { reader, index in
            guard index < Self.maxSteps else { throw reader.invalid("more than \(Self.maxSteps) steps in one request") }
            let step = try StepRequest(reading: &reader, sampleLimit: sampleLimit - total)
            total += step.parts.reduce(0) { $0 + $1.count }
            return step
        }
        guard !steps.isEmpty else { throw WireError.invalidField(path: "steps", message: "expected at least one step") }
        for (j, step) in steps.enumerated() {
            guard step.gradients != nil else {
                throw WireError.invalidField(path: "steps[\(j)]", message: "missing field gradients: every step of /steps applies a mean")
            }
            guard step.ifVersion != nil else {
                throw WireError.invalidField(path: "steps[\(j)]", message: "missing field if_version: the version the step lands on")
            }
        }
        self.steps = steps
    }
}

extension JSONWriter {
    /// The body of a `/step` request, the gradients written straight from their flat storage and the
    /// samples' inputs in `format` too.
    public mutating func stepRequest(gradients: TensorSet?, version: Int?, ifVersion: Int? = nil, parts: [[Sample]], reduce: Reduction,
                                     format: TensorFormat, perSampleClipNorm: Float?, results: ResultsForm = .perSample) {
        stepRequest(gradients: gradients.map { EncodedTensors($0, format: format) }, version: version, ifVersion: ifVersion,
                    parts: parts.map { $0.map { EncodedSample($0, format: format) } },
                    reduce: reduce, format: format, perSampleClipNorm: perSampleClipNorm, results: results)
    }

    /// The same with the gradients and samples written beforehand (a step's mean, sent to every server).
    public mutating func stepRequest(gradients: EncodedTensors?, version: Int?, ifVersion: Int? = nil, parts: [[EncodedSample]], reduce: Reduction,
                                     format: TensorFormat, perSampleClipNorm: Float?, results: ResultsForm = .perSample) {
        object { w in
            if let gradients {
                w.key("gradients")
                w.rawValue(gradients.bytes)
            }
            if let version { w.key("version"); w.number(version) }
            if let ifVersion { w.key("if_version"); w.number(ifVersion) }
            w.key("parts")
            w.array { w in
                for part in parts { w.samples(part) }
            }
            if reduce != .none { w.key("reduce"); w.string(reduce.rawValue) }
            w.key("tensor_format"); w.string(format.rawValue)
            if let perSampleClipNorm { w.key("per_sample_clip_norm"); w.number(perSampleClipNorm) }
            if results != .perSample { w.key("results"); w.string(results.rawValue) }
        }
    }
}

/// The answer to `/step`: the state the step made and each part's gradients, read the way a trainer uses them.
public struct StepResponse: Sendable {
    public var state: VersionResponse
    public var parts: [GradientPartialSum]

    public init(reading reader: inout JSONReader, layout: ParameterLayout) throws {
        var version: Int?, digest: String?, learningRate: Float?, parts: [GradientPartialSum]?
        try reader.readObject { reader, key in
            switch key {
            case "version": version = try reader.readInt(in: 0...Int.max)
            case "digest": digest = try reader.readString()
            case "learning_rate": learningRate = try reader.readFloat()
            case "parts":
                var list: [GradientPartialSum] = []
                try reader.readArray { reader, _ in list.append(try GradientPartialSum(reading: &reader, layout: layout)) }
                parts = list
            default: try reader.skipValue()
            }
        }
        guard let version, let digest, let parts else { throw reader.invalid("expected version, digest and parts") }
        state = VersionResponse(version: version, digest: digest, learningRate: learningRate)
        self.parts = parts
    }
}

/// The answer to `/steps`: each step's answer, in order.
public struct StepsResponse: Sendable {
    public var steps: [StepResponse]

    public init(reading reader: inout JSONReader, layout: ParameterLayout) throws {
        steps = try reader.readListField("steps", missing: "expected steps") { reader, _ in try StepResponse(reading: &reader, layout: layout) }
    }
}

extension JSONReader {
    /// An object's array field `name`, each element read by `element` (given its index); any other
    /// field is skipped, and without `name` the error says `missing`.
    mutating func readListField<T>(_ name: String, missing: String, _ element: (inout JSONReader, Int) throws -> T) throws -> [T] {
        var list: [T]?
        try readObject { reader, key in
            guard key == name else { return try reader.skipValue() }
            var items: [T] = []
            try reader.readArray { reader, index in items.append(try element(&reader, index)) }
            list = items
        }
        guard let list else { throw invalid(missing) }
        return list
    }
}

/// Named tensors already written as their JSON object, in one format: a step's mean is encoded
/// once and sent to every server.
public struct EncodedTensors: Sendable {
    public let bytes: [UInt8]

    public init(_ set: TensorSet, format: TensorFormat) {
        // Base64 takes 16/3 characters per float, a number up to 15 and its comma; plus each tensor's name and shape.
        var writer = JSONWriter(capacity: set.storage.count * (format == .b64 ? 6 : 16) + 64 * set.layout.entries.count + 16)
        writer.tensors(set, format: format)
        bytes = writer.bytes
    }
}
