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

/// `POST /forward`
public struct ForwardResponse: Sendable, Equatable {
    public var version: Int
    public var outputs: [Float]

    public init(version: Int, outputs: [Float]) {
        self.version = version
        self.outputs = outputs
    }

    public init(reading reader: inout JSONReader) throws {
        var version: Int?, outputs: [Float]?
        try reader.readObject { reader, key in
            switch key {
            case "version": version = try reader.readInt()
            case "outputs": var values: [Float] = []; try reader.readFloats(into: &values); outputs = values
            default: try reader.skipValue()
            }
        }
        guard let version, let outputs else { throw reader.invalid("expected version and outputs") }
        self.init(version: version, outputs: outputs)
    }

    public func encode(to writer: inout JSONWriter) {
        writer.object { w in
            w.key("version"); w.number(version)
            w.key("outputs"); w.numbers(outputs)
        }
    }
}

/// `POST /gradients`: per-sample losses and outputs, with per-sample gradients or their sum.
public struct GradientsResponse: Sendable {
    public struct Result: Sendable {
        public var loss: Float
        public var output: Float
        /// Empty when the request asked for `"reduce": "sum"`.
        public var gradients: [String: Tensor]
    }

    public var version: Int
    public var results: [Result]
    /// The summed gradient, when the request asked for `"reduce": "sum"`.
    public var sum: [String: Tensor]?

    public init(reading reader: inout JSONReader) throws {
        var version: Int?, results: [Result]?, sum: [String: Tensor]?
        try reader.readObject { reader, key in
            switch key {
            case "version": version = try reader.readInt()
            case "gradient_sum": sum = try reader.readTensorMap()
            case "results":
                var list: [Result] = []
                try reader.readArray { reader, _ in
                    var result = Result(loss: 0, output: 0, gradients: [:])
                    try reader.readObject { reader, key in
                        switch key {
                        case "loss": result.loss = try reader.readFloat()
                        case "output": result.output = try reader.readFloat()
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
        guard let version, let results else { throw reader.invalid("expected version and results") }
        self.version = version
        self.results = results
        self.sum = sum
    }

    /// Writes per-sample gradients straight from a batch's flat storage.
    public static func encode(version: Int, batch: GradientBatch, format: TensorFormat, to writer: inout JSONWriter) {
        writer.object { w in
            w.key("version"); w.number(version)
            w.key("results")
            w.array { w in
                for (i, result) in batch.results.enumerated() {
                    w.object { w in
                        w.key("loss"); w.number(result.loss)
                        w.key("output"); w.number(result.output)
                        w.key("gradients")
                        let start = i * batch.layout.count
                        w.tensors(layout: batch.layout, storage: batch.storage[start..<(start + batch.layout.count)], format: format)
                    }
                }
            }
        }
    }

    /// Writes per-sample losses and outputs with one summed gradient.
    public static func encode(version: Int, results: [SampleResult], sum: TensorSet, format: TensorFormat, to writer: inout JSONWriter) {
        writer.object { w in
            w.key("version"); w.number(version)
            w.key("results")
            w.array { w in
                for result in results {
                    w.object { w in
                        w.key("loss"); w.number(result.loss)
                        w.key("output"); w.number(result.output)
                    }
                }
            }
            w.key("gradient_sum"); w.tensors(sum, format: format)
        }
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
