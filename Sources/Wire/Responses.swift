import Model

/// `GET /health`
public struct HealthResponse: Sendable, Equatable {
    public var status: String
    public var version: Int
    /// The digest of the whole training state at `version` (see openapi.yaml).
    public var digest: String

    public init(status: String = "ok", version: Int, digest: String) {
        self.status = status
        self.version = version
        self.digest = digest
    }

    public init(reading reader: inout JSONReader) throws {
        var status: String?, version: Int?, digest: String?
        try reader.readObject { reader, key in
            switch key {
            case "status": status = try reader.readString()
            case "version": version = try reader.readInt()
            case "digest": digest = try reader.readString()
            default: try reader.skipValue()
            }
        }
        guard let status, let version, let digest else { throw reader.invalid("expected status, version and digest") }
        self.init(status: status, version: version, digest: digest)
    }

    public func encode(to writer: inout JSONWriter) {
        writer.object { w in
            w.key("status"); w.string(status)
            w.key("version"); w.number(version)
            w.key("digest"); w.string(digest)
        }
    }
}

/// `{"version": V, "digest": "..."}`: the answer of every write (`/apply`, `PUT /params`,
/// `PUT /checkpoint`): the new version and the digest of the state it made.
public struct VersionResponse: Sendable, Equatable {
    public var version: Int
    public var digest: String
    /// In answers to `/apply`: the learning rate the step used.
    public var learningRate: Float?

    public init(version: Int, digest: String, learningRate: Float? = nil) {
        self.version = version
        self.digest = digest
        self.learningRate = learningRate
    }

    public init(reading reader: inout JSONReader) throws {
        var version: Int?, digest: String?, learningRate: Float?
        try reader.readObject { reader, key in
            switch key {
            case "version": version = try reader.readInt()
            case "digest": digest = try reader.readString()
            case "learning_rate": learningRate = try reader.readFloat()
            default: try reader.skipValue()
            }
        }
        guard let version, let digest else { throw reader.invalid("expected version and digest") }
        self.init(version: version, digest: digest, learningRate: learningRate)
    }

    public func encode(to writer: inout JSONWriter) {
        writer.object { w in
            w.key("version"); w.number(version)
            w.key("digest"); w.string(digest)
            if let learningRate { w.key("learning_rate"); w.number(learningRate) }
        }
    }
}

/// `GET /params`
public struct ParamsResponse: Sendable {
    public var version: Int
    public var parameters: [String: Tensor]

    public init(reading reader: inout JSONReader) throws {
        var version: Int?, parameters: [String: Tensor]?
        try reader.readObject { reader, key in
            switch key {
            case "version": version = try reader.readInt()
            case "parameters": parameters = try reader.readTensorMap()
            default: try reader.skipValue()
            }
        }
        guard let version, let parameters else { throw reader.invalid("expected version and parameters") }
        self.version = version
        self.parameters = parameters
    }

    public static func encode(version: Int, parameters: TensorSet, format: TensorFormat, to writer: inout JSONWriter) {
        writer.object { w in
            w.key("version"); w.number(version)
            w.key("parameters"); w.tensors(parameters, format: format)
        }
    }
}

/// `POST /forward`: K outputs per sample; for classifiers also the probabilities, and the
/// predicted class (softmax) or labels (sigmoid). With K = 1 each sample's values are numbers,
/// otherwise lists of K.
public struct ForwardResponse: Sendable, Equatable {
    public var version: Int
    public var outputCount: Int
    /// `samples x K`, row-major.
    public var outputs: [Float]
    public var probabilities: [Float]?
    /// softmax: the most probable class of each sample.
    public var classes: [Int]?
    /// sigmoid: 1 where a label's probability is at least 0.5, `samples x K`.
    public var labels: [Int]?

    public init(version: Int, outputCount: Int = 1, outputs: [Float], probabilities: [Float]? = nil, classes: [Int]? = nil, labels: [Int]? = nil) {
        self.version = version
        self.outputCount = outputCount
        self.outputs = outputs
        self.probabilities = probabilities
        self.classes = classes
        self.labels = labels
    }

    /// The answer for `outputs` of a model with `loss`.
    public init(version: Int, outputCount: Int, outputs: [Float], loss: Loss) {
        self.init(version: version, outputCount: outputCount, outputs: outputs)
        guard loss.isClassification else { return }
        var probabilities: [Float] = []
        probabilities.reserveCapacity(outputs.count)
        for i in 0..<(outputCount == 0 ? 0 : outputs.count / outputCount) {
            probabilities += loss.probabilities(of: outputs[(i * outputCount)..<((i + 1) * outputCount)])!
        }
        self.probabilities = probabilities
        if loss == .softmaxCrossEntropy {
            classes = (0..<(outputs.count / outputCount)).map { i in
                let row = outputs[(i * outputCount)..<((i + 1) * outputCount)]
                return row.indices.max { row[$0] < row[$1] }! - i * outputCount
            }
        } else {
            labels = probabilities.map { $0 >= 0.5 ? 1 : 0 }
        }
    }

    public var count: Int { outputCount == 0 ? 0 : outputs.count / outputCount }

    public init(reading reader: inout JSONReader) throws {
        var version: Int?, outputs: (values: [Float], width: Int)?, probabilities: (values: [Float], width: Int)?
        var classes: [Int]?, labels: (values: [Float], width: Int)?
        try reader.readObject { reader, key in
            switch key {
            case "version": version = try reader.readInt()
            case "outputs": outputs = try reader.readRows()
            case "probabilities": probabilities = try reader.readRows()
            case "labels": labels = try reader.readRows()
            case "classes":
                var list: [Int] = []
                try reader.readArray { reader, _ in list.append(try reader.readInt()) }
                classes = list
            default: try reader.skipValue()
            }
        }
        guard let version, let outputs else { throw reader.invalid("expected version and outputs") }
        self.init(version: version, outputCount: outputs.width, outputs: outputs.values, probabilities: probabilities?.values,
                  classes: classes, labels: labels?.values.map { Int($0) })
    }

    public func encode(to writer: inout JSONWriter) {
        writer.object { w in
            w.key("version"); w.number(version)
            w.key("outputs"); w.rows(outputs, width: outputCount)
            if let probabilities { w.key("probabilities"); w.rows(probabilities, width: outputCount) }
            if let classes { w.key("classes"); w.array { w in for c in classes { w.number(c) } } }
            if let labels { w.key("labels"); w.rows(labels.map(Float.init), width: outputCount, integers: true) }
        }
    }
}

extension JSONWriter {
    /// `values` as numbers when `width` is 1, else as rows of `width` numbers.
    public mutating func rows(_ values: [Float], width: Int, integers: Bool = false) {
        if width == 1 {
            if integers { array { w in for v in values { w.number(Int(v)) } } } else { numbers(values) }
            return
        }
        array { w in
            for start in stride(from: 0, to: values.count, by: width) {
                if integers {
                    w.array { w in for v in values[start..<(start + width)] { w.number(Int(v)) } }
                } else {
                    w.numbers(values[start..<(start + width)])
                }
            }
        }
    }
}

extension JSONReader {
    /// A list of numbers (width 1) or of equally long lists of numbers, flattened.
    mutating func readRows() throws -> (values: [Float], width: Int) {
        var values: [Float] = []
        var width: Int?
        try readArray { reader, index in
            if reader.peekKind() == .array {
                let before = values.count
                try reader.readFloats(into: &values)
                guard width == nil || width == values.count - before else { throw reader.invalid("rows of different lengths") }
                width = values.count - before
            } else {
                guard width == nil || width == 1 else { throw reader.invalid("rows of different lengths") }
                width = 1
                values.append(try reader.readFloat())
            }
        }
        return (values, width ?? 1)
    }
}

/// `POST /gradients`: per-sample losses and outputs, with per-sample gradients or their sum.
public struct GradientsResponse: Sendable {
    public struct Result: Sendable {
        public var loss: Float
        /// The K outputs.
        public var outputs: [Float]
        /// With per-sample clipping: the L2 norm of the sample's whole gradient before clipping.
        public var norm: Float?
        /// Empty when the request asked for `"reduce": "sum"`.
        public var gradients: [String: Tensor]
    }

    public var version: Int
    /// Empty when the request asked for `"results": "sum"`.
    public var results: [Result]
    /// The summed gradient, when the request asked for `"reduce": "sum"`.
    public var sum: [String: Tensor]?
    /// With `"results": "sum"`: how many samples, and the sum of their losses in Float64, in sample order.
    public var samples: Int?
    public var lossSum: Double?

    public init(reading reader: inout JSONReader) throws {
        var version: Int?, results: [Result]?, sum: [String: Tensor]?, samples: Int?, lossSum: Double?
        try reader.readObject { reader, key in
            switch key {
            case "version": version = try reader.readInt()
            case "gradient_sum": sum = try reader.readTensorMap()
            case "samples": samples = try reader.readInt(in: 0...Int.max)
            case "loss_sum": lossSum = try reader.readDouble()
            case "results":
                var list: [Result] = []
                try reader.readArray { reader, _ in
                    var result = Result(loss: 0, outputs: [], norm: nil, gradients: [:])
                    try reader.readObject { reader, key in
                        switch key {
                        case "loss": result.loss = try reader.readFloat()
                        case "output": result.outputs = try reader.readTarget().values
                        case "norm": result.norm = try reader.readFloat()
                        case "gradients": result.gradients = try reader.readTensorMap()
                        default: try reader.skipValue()
                        }
                    }
                    list.append(result)
                }
                results = list
            default: try reader.skipValue()
            }
        }
        guard let version, results != nil || (samples != nil && lossSum != nil) else {
            throw reader.invalid("expected version, and results or samples and loss_sum")
        }
        self.version = version
        self.results = results ?? []
        self.sum = sum
        self.samples = samples
        self.lossSum = lossSum
    }

    /// Writes per-sample gradients straight from a batch's flat storage.
    /// `norms` and `clipNorm` are given when the request asked for per-sample clipping.
    public static func encode(version: Int, batch: GradientBatch, norms: [Double]? = nil, clipNorm: Float? = nil,
                              format: TensorFormat, to writer: inout JSONWriter) {
        writer.object { w in
            w.key("version"); w.number(version)
            w.clipped(norms, clipNorm)
            w.key("results")
            w.array { w in
                for i in 0..<batch.count {
                    w.object { w in
                        w.result(batch.results, i)
                        if let norms { w.key("norm"); w.number(Float(norms[i])) }
                        w.key("gradients")
                        let start = i * batch.layout.count
                        w.tensors(layout: batch.layout, storage: batch.storage[start..<(start + batch.layout.count)], format: format)
                    }
                }
            }
        }
    }

    /// Writes one summed gradient with per-sample losses and outputs, or with `form` sum only the
    /// number of samples and the sum of their losses (Float64, in sample order).
    public static func encode(version: Int, results: SampleResults, norms: [Double]? = nil, clipNorm: Float? = nil,
                              sum: TensorSet, format: TensorFormat, form: ResultsForm = .perSample, to writer: inout JSONWriter) {
        writer.object { w in
            w.key("version"); w.number(version)
            w.clipped(norms, clipNorm)
            switch form {
            case .perSample:
                w.key("results")
                w.array { w in
                    for i in 0..<results.count {
                        w.object { w in
                            w.result(results, i)
                            if let norms { w.key("norm"); w.number(Float(norms[i])) }
                        }
                    }
                }
            case .sum:
                w.key("samples"); w.number(results.count)
                w.key("loss_sum"); w.number(results.lossSum)
            }
            w.key("gradient_sum"); w.tensors(sum, format: format)
        }
    }
}

extension JSONWriter {
    /// `"clipped"`: how many samples' gradients were scaled down.
    fileprivate mutating func clipped(_ norms: [Double]?, _ clipNorm: Float?) {
        guard let norms, let clipNorm else { return }
        key("clipped"); number(norms.filter { $0 > Double(clipNorm) }.count)
    }

    /// `"loss"` and `"output"` of sample `i` (a number when K = 1, else a list).
    fileprivate mutating func result(_ results: SampleResults, _ i: Int) {
        key("loss"); number(results.losses[i])
        key("output")
        if results.outputCount == 1 { number(results.outputs[i]) } else { numbers(results.outputs(i)) }
    }
}

/// Every error answer: `{"error": {"code": ..., "message": ..., "current_version": ...}}`.
public struct ErrorResponse: Error, Sendable, Equatable {
    public var code: String
    public var message: String
    /// Present on a `version_conflict`.
    public var currentVersion: Int?

    public init(code: String, message: String, currentVersion: Int? = nil) {
        self.code = code
        self.message = message
        self.currentVersion = currentVersion
    }

    public init(reading reader: inout JSONReader) throws {
        var code: String?, message: String?, currentVersion: Int?
        try reader.readObject { reader, key in
            guard key == "error" else { return try reader.skipValue() }
            try reader.readObject { reader, key in
                switch key {
                case "code": code = try reader.readString()
                case "message": message = try reader.readString()
                case "current_version": currentVersion = try reader.readInt()
                default: try reader.skipValue()
                }
            }
        }
        guard let code, let message else { throw reader.invalid("expected error.code and error.message") }
        self.init(code: code, message: message, currentVersion: currentVersion)
    }

    public func encode(to writer: inout JSONWriter) {
        writer.object { w in
            w.key("error")
            w.object { w in
                w.key("code"); w.string(code)
                w.key("message"); w.string(message)
                if let currentVersion { w.key("current_version"); w.number(currentVersion) }
            }
        }
    }
}
