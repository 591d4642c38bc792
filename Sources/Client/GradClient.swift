import Model
import Wire

/// A typed client for one gradserve server.
///
/// Safe requests (GET, `/forward`, `/gradients`) are retried with exponential backoff when the
/// connection fails. `/apply` carries the base version, so retrying it can never apply twice:
/// a 409 whose current version is base + 1 means the first try landed.
public struct GradClient: Sendable {
    public struct Configuration: Sendable {
        /// Time allowed for one request, answer included.
        public var timeout: Duration = .seconds(60)
        /// Attempts for a request that may be retried.
        public var attempts = 4
        /// Delay before the first retry; doubled after each.
        public var backoff: Duration = .milliseconds(100)
        /// Sent as `Authorization: Bearer <token>` when set.
        public var token: String?

        public init() {}
    }

    public let baseURL: String
    public let configuration: Configuration
    let transport: CurlTransport

    public init(baseURL: String, configuration: Configuration = Configuration(), transport: CurlTransport) throws(ClientError) {
        var url = baseURL
        while url.hasSuffix("/") { url.removeLast() }
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), url.split(separator: "/").count == 2 else {
            throw .invalidURL(baseURL)
        }
        self.baseURL = url
        self.configuration = configuration
        self.transport = transport
    }

    // MARK: Endpoints

    public func health() async throws -> HealthResponse {
        try await call("GET", "/health", retry: true) { try HealthResponse(reading: &$0) }
    }

    public func model() async throws -> ModelDescription {
        try await call("GET", "/model", retry: true) { try ModelDescription(reading: &$0) }
    }

    public func params(format: TensorFormat = .numbers) async throws -> ParamsResponse {
        try await call("GET", "/params?tensor_format=\(format.rawValue)", retry: true) { try ParamsResponse(reading: &$0) }
    }

    /// Replaces every parameter; returns the new version.
    public func putParams(_ parameters: [String: Tensor], expectedVersion: Int? = nil, format: TensorFormat = .numbers) async throws -> Int {
        var writer = JSONWriter()
        TensorsRequest(tensors: parameters, version: expectedVersion).encode(to: &writer, field: "parameters", format: format)
        return try await call("PUT", "/params", body: writer.bytes, retry: false) { try VersionResponse(reading: &$0).version }
    }

    public func forward(_ samples: [Sample]) async throws -> ForwardResponse {
        var writer = JSONWriter()
        ForwardRequest(samples: samples).encode(to: &writer)
        return try await call("POST", "/forward", body: writer.bytes, retry: true) { try ForwardResponse(reading: &$0) }
    }

    public func gradients(_ samples: [Sample], reduce: Reduction = .none, format: TensorFormat = .numbers) async throws -> GradientsResponse {
        var writer = JSONWriter()
        GradientsRequest(samples: samples, reduce: reduce, tensorFormat: format).encode(to: &writer)
        return try await call("POST", "/gradients", body: writer.bytes, retry: true) { try GradientsResponse(reading: &$0) }
    }

    /// The gradients of `samples` added up as they are read (see `GradientPartialSum`). A summed
    /// answer is asked for without per-sample results: the partial sum needs only their loss sum.
    public func gradientSum(_ samples: [Sample], reduce: Reduction, format: TensorFormat, clipNorm: Float? = nil,
                            layout: ParameterLayout) async throws -> GradientPartialSum {
        try await gradientSum(samples.map { EncodedSample($0, format: format) }, reduce: reduce, format: format, clipNorm: clipNorm, layout: layout)
    }

    /// The same with samples encoded beforehand.
    public func gradientSum(_ samples: [EncodedSample], reduce: Reduction, format: TensorFormat, clipNorm: Float? = nil,
                            layout: ParameterLayout) async throws -> GradientPartialSum {
        var writer = JSONWriter()
        GradientsRequest(samples: [], reduce: reduce, tensorFormat: format, perSampleClipNorm: clipNorm, results: Self.resultsForm(reduce))
            .encode(samples, to: &writer)
        return try await call("POST", "/gradients", body: writer.bytes, retry: true) { try GradientPartialSum(reading: &$0, layout: layout) }
    }

    /// `/step`: applies `gradients` (if any) at `baseVersion`, then computes each of `parts` at the
    /// new version, in one round trip. Not retried: a step whose answer is lost is settled by the
    /// replica set, as an `/apply` without an answer is.
    /// With `ifVersion` the step lands only on that version, and a server started with
    /// `--max-staleness` lets it wait there for the steps before it (pipelined staleness).
    /// The gradients come encoded beforehand, in `format`: a step's mean is written once for all servers.
    public func step(_ gradients: EncodedTensors?, baseVersion: Int?, ifVersion: Int? = nil, parts: [[EncodedSample]], reduce: Reduction,
                     format: TensorFormat, clipNorm: Float?, layout: ParameterLayout) async throws -> StepResponse {
        var writer = JSONWriter(capacity: Self.stepSize(gradients, parts))
        writer.stepRequest(gradients: gradients, version: baseVersion, ifVersion: ifVersion, parts: parts, reduce: reduce, format: format,
                           perSampleClipNorm: clipNorm, results: Self.resultsForm(reduce))
        return try await call("POST", "/step", body: writer.bytes, retry: false) { try StepResponse(reading: &$0, layout: layout) }
    }

    /// One step of `/steps`: a mean computed at `baseVersion`, landing on `ifVersion`, and the parts
    /// of a later batch to compute at the version it makes.
    public struct PipelinedStep: Sendable {
        public var gradients: EncodedTensors
        public var baseVersion: Int
        public var ifVersion: Int
        public var parts: [[EncodedSample]]

        public init(gradients: EncodedTensors, baseVersion: Int, ifVersion: Int, parts: [[EncodedSample]]) {
            self.gradients = gradients
            self.baseVersion = baseVersion
            self.ifVersion = ifVersion
            self.parts = parts
        }
    }

    /// `/steps`: several pipelined steps in one round trip, landed in order (their `ifVersion`s
    /// consecutive), each answered as `/step` answers it. Not retried, as `/step` is not.
    public func steps(_ steps: [PipelinedStep], reduce: Reduction, format: TensorFormat, clipNorm: Float?,
                      layout: ParameterLayout) async throws -> [StepResponse] {
        var writer = JSONWriter(capacity: steps.reduce(16) { $0 + Self.stepSize($1.gradients, $1.parts) })
        writer.object { w in
            w.key("steps")
            w.array { w in
                for step in steps {
                    w.stepRequest(gradients: step.gradients, version: step.baseVersion, ifVersion: step.ifVersion, parts: step.parts,
                                  reduce: reduce, format: format, perSampleClipNorm: clipNorm, results: Self.resultsForm(reduce))
                }
            }
        }
        return try await call("POST", "/steps", body: writer.bytes, retry: false) { try StepsResponse(reading: &$0, layout: layout) }.steps
    }

    /// A step body's bytes, so that its buffer is sized once: the encoded mean and samples, their
    /// separators and the few other fields.
    private static func stepSize(_ gradients: EncodedTensors?, _ parts: [[EncodedSample]]) -> Int {
        (gradients?.bytes.count ?? 0) + parts.reduce(0) { $0 + $1.reduce(0) { $0 + $1.bytes.count + 1 } + 2 } + 256
    }

    /// What a `GradientPartialSum` needs with each reduction: per-sample gradients come inside
    /// per-sample results; a sum needs only the count and loss sum.
    static func resultsForm(_ reduce: Reduction) -> ResultsForm { reduce == .sum ? .sum : .perSample }

    /// One optimizer step with `gradients` computed at `baseVersion`; returns the new version.
    /// Without a base version the step is applied unconditionally and never retried.
    public func apply(_ gradients: [String: Tensor], baseVersion: Int?, format: TensorFormat = .numbers) async throws -> Int {
        var writer = JSONWriter()
        TensorsRequest(tensors: gradients, version: baseVersion).encode(to: &writer, field: "gradients", format: format)
        return try await apply(body: writer.bytes, baseVersion: baseVersion).version
    }

    /// The same, written straight from the flat storage of `gradients`; returns the new version
    /// and the digest of the state it made. With `ifVersion` the step lands only on that version
    /// (needed when `baseVersion` is stale: a retry is then told apart from a step that landed).
    public func apply(_ gradients: TensorSet, baseVersion: Int?, ifVersion: Int? = nil, format: TensorFormat = .numbers) async throws -> VersionResponse {
        var writer = JSONWriter()
        writer.object { w in
            w.key("gradients")
            w.tensors(layout: gradients.layout, storage: gradients.storage[...], format: format)
            if let baseVersion { w.key("version"); w.number(baseVersion) }
            if let ifVersion { w.key("if_version"); w.number(ifVersion) }
        }
        return try await apply(body: writer.bytes, baseVersion: baseVersion, ifVersion: ifVersion)
    }

    private func apply(body: [UInt8], baseVersion: Int?, ifVersion: Int? = nil) async throws -> VersionResponse {
        // Retried only when the server can tell a repeat: by the version the step must land on.
        let before = ifVersion ?? baseVersion
        let (result, attempts) = try await exchange("POST", "/apply", body: body, retry: before != nil)
        if attempts > 1, result.status == 409, let before,
           (try? JSONReader.read(result.body) { try ErrorResponse(reading: &$0) })?.currentVersion == before + 1 {
            // An earlier attempt landed and its answer was lost on the way back: the state it
            // made is the current one, unless another write followed.
            let health = try await health()
            return VersionResponse(version: before + 1, digest: health.version == before + 1 ? health.digest : "")
        }
        return try decode(result, url: baseURL + "/apply") { try VersionResponse(reading: &$0) }
    }

    /// The full training state, for moving a run or bringing another server in line.
    public func checkpoint(layout: ParameterLayout, format: TensorFormat = .b64) async throws -> Checkpoint {
        try await call("GET", "/checkpoint?tensor_format=\(format.rawValue)", retry: true) { try Checkpoint(reading: &$0, layout: layout) }
    }

    public func restore(_ checkpoint: Checkpoint, format: TensorFormat = .b64) async throws -> Int {
        var writer = JSONWriter()
        checkpoint.encode(to: &writer, format: format)
        return try await call("PUT", "/checkpoint", body: writer.bytes, retry: false) { try VersionResponse(reading: &$0).version }
    }

    /// A GET of `path` as the raw JSON answer (for `--json` output), checked to be JSON.
    public func raw(_ path: String) async throws -> [UInt8] {
        let (result, _) = try await exchange("GET", path, body: nil, retry: true)
        try decode(result, url: baseURL + path) { try $0.skipValue() }
        return result.body
    }

    // MARK: Exchange

    private func call<T>(_ method: String, _ path: String, body: [UInt8]? = nil, retry: Bool,
                         decode: (inout JSONReader) throws -> T) async throws -> T {
        let (result, _) = try await exchange(method, path, body: body, retry: retry)
        return try self.decode(result, url: baseURL + path, decode)
    }

    /// Sends a request, retrying connection failures when `retry`; returns the answer and the attempts it took.
    private func exchange(_ method: String, _ path: String, body: [UInt8]?, retry: Bool) async throws -> (HTTPResult, attempts: Int) {
        let url = baseURL + path
        var headers: [String] = []
        if let token = configuration.token { headers.append("Authorization: Bearer \(token)") }
        let request = HTTPCall(method: method, url: url, body: body, headers: headers, timeout: configuration.timeout)
        var delay = configuration.backoff
        var attempt = 1
        while true {
            do {
                return (try await transport.perform(request), attempt)
            } catch let error as TransportError {
                guard retry, error.isConnectionFailure, attempt < configuration.attempts else {
                    throw ClientError.transport(url: url, message: error.message)
                }
                attempt += 1
                try await Task.sleep(for: delay)
                delay *= 2
            }
        }
    }

    /// The decoded answer, or the server's error as a `ClientError`.
    private func decode<T>(_ result: HTTPResult, url: String, _ decode: (inout JSONReader) throws -> T) throws -> T {
        guard (200..<300).contains(result.status) else {
            let error = try? JSONReader.read(result.body) { try ErrorResponse(reading: &$0) }
            throw ClientError.server(url: url, status: result.status, code: error?.code ?? "http_\(result.status)",
                                     message: error?.message ?? String(decoding: result.body.prefix(200), as: UTF8.self),
                                     currentVersion: error?.currentVersion)
        }
        do {
            return try JSONReader.read(result.body, decode)
        } catch {
            throw ClientError.invalidResponse(url: url, message: "\(error)")
        }
    }
}
