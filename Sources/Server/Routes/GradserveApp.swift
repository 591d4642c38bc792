import Locking
import Logging
import Model
import Wire

/// The API: routes each request to the training store and encodes the answer as JSON.
/// This is the only place where HTTP and the model meet.
final class GradserveApp: HTTPHandler {
    enum Endpoint: Sendable {
        case health, model, getParams, putParams, forward, gradients, apply, metrics, getCheckpoint, putCheckpoint

        /// Requests that change the training state.
        var isWrite: Bool {
            switch self {
            case .putParams, .apply, .putCheckpoint: true
            default: false
            }
        }
    }

    let store: TrainingStore
    let networkConfiguration: NetworkConfiguration
    let limits: RequestLimits
    let access: AccessControl
    let logger: Logger
    let router: Router<Endpoint>
    let metrics: ServerMetrics
    private let scratchPool = Locked([] as [Scratch])

    init(store: TrainingStore, network: NetworkConfiguration, limits: RequestLimits, access: AccessControl, logger: Logger) {
        self.store = store
        self.networkConfiguration = network
        self.limits = limits
        self.access = access
        self.logger = logger
        var router = Router<Endpoint>()
        router.add("GET", "/health", .health)
        router.add("GET", "/model", .model)
        router.add("GET", "/params", .getParams)
        router.add("PUT", "/params", .putParams)
        router.add("POST", "/forward", .forward)
        router.add("POST", "/gradients", .gradients)
        router.add("POST", "/apply", .apply)
        router.add("GET", "/metrics", .metrics)
        router.add("GET", "/checkpoint", .getCheckpoint)
        router.add("PUT", "/checkpoint", .putCheckpoint)
        self.router = router
        metrics = ServerMetrics(paths: router.paths)
        metrics.version.set(Int64(store.snapshot().version))
    }

    func handle(_ request: HTTPRequest) -> HTTPResponse {
        let started = ContinuousClock.now
        let response: HTTPResponse
        do {
            let endpoint = try router.route(method: request.head.method, path: request.head.path)
            try authorize(endpoint, request)
            response = try respond(to: endpoint, request)
        } catch let error as APIError {
            response = error.response()
        } catch let error as WireError {
            response = APIError(error).response()
        } catch let error as ModelError {
            response = APIError(error).response()
        } catch let error as TrainingStore.WriteError {
            response = APIError(error).response()
        } catch {
            logger.error("unexpected error", metadata: ["path": "\(request.head.path)", "error": "\(error)"])
            response = APIError(.internalServerError, code: "internal_error", message: "internal error").response()
        }
        metrics.record(path: metrics.label(for: request.head.path), status: response.status.code,
                       duration: ContinuousClock.now - started)
        return response
    }

    func failureResponse(status: HTTPStatus, message: String) -> HTTPResponse {
        metrics.record(path: "other", status: status.code, duration: .zero)
        return APIError(status, code: APIError.code(for: status), message: message).response()
    }

    private func respond(to endpoint: Endpoint, _ request: HTTPRequest) throws -> HTTPResponse {
        var writer = JSONWriter()
        switch endpoint {
        case .health:
            HealthResponse(version: store.snapshot().version).encode(to: &writer)
        case .model:
            describe().encode(to: &writer)
        case .getParams:
            let snapshot = store.snapshot()
            ParamsResponse.encode(version: snapshot.version, parameters: snapshot.parameters,
                                  format: try tensorFormat(request), to: &writer)
        case .putParams:
            let body = try decode(request) { try TensorsRequest(reading: &$0, field: "parameters") }
            let version = try store.replaceParameters(body.tensors, expectedVersion: body.version)
            metrics.version.set(Int64(version))
            VersionResponse(version: version).encode(to: &writer)
        case .forward:
            let body = try decode(request) { try ForwardRequest(reading: &$0, sampleLimit: limits.maxSamples) }
            try requireSamples(body.samples)
            let snapshot = store.snapshot()
            let outputs = try withScratch { try store.network.outputs(for: body.samples.map(\.input), parameters: snapshot.parameters, scratch: $0) }
            metrics.samples.increment(by: Int64(outputs.count))
            ForwardResponse(version: snapshot.version, outputs: outputs).encode(to: &writer)
        case .gradients:
            let body = try decode(request) { try GradientsRequest(reading: &$0, sampleLimit: limits.maxSamples) }
            try requireSamples(body.samples)
            let values = body.samples.count.multipliedReportingOverflow(by: store.network.layout.count)
            if body.reduce == .none, values.overflow || values.partialValue > limits.maxGradientValues {
                throw APIError(.unprocessableContent, code: "too_many_values",
                               message: "samples: \(body.samples.count) per-sample gradients of \(store.network.layout.count) values exceed "
                                   + "the limit of \(limits.maxGradientValues) values per answer; send at most "
                                   + "\(limits.maxGradientValues / store.network.layout.count) samples, or ask for \"reduce\": \"sum\"")
            }
            let snapshot = store.snapshot()
            switch body.reduce {
            case .none:
                let batch = try withScratch { try store.network.gradients(of: body.samples, parameters: snapshot.parameters, scratch: $0) }
                writer = JSONWriter(capacity: batch.storage.count * (body.tensorFormat == .b64 ? 6 : 12) + 256)
                GradientsResponse.encode(version: snapshot.version, batch: batch, format: body.tensorFormat, to: &writer)
            case .sum:
                let (results, sum) = try withScratch { try store.network.gradientSum(of: body.samples, parameters: snapshot.parameters, scratch: $0) }
                GradientsResponse.encode(version: snapshot.version, results: results, sum: sum, format: body.tensorFormat, to: &writer)
            }
            metrics.samples.increment(by: Int64(body.samples.count))
        case .apply:
            let body = try decode(request) { try TensorsRequest(reading: &$0, field: "gradients") }
            let version = try store.apply(body.tensors, baseVersion: body.version)
            metrics.applies.increment()
            metrics.version.set(Int64(version))
            VersionResponse(version: version).encode(to: &writer)
        case .metrics:
            var text: [UInt8] = []
            metrics.registry.emit(into: &text)
            return HTTPResponse(body: text, contentType: "text/plain; version=0.0.4")
        case .getCheckpoint:
            let (snapshot, optimizerState) = store.checkpoint()
            Checkpoint(version: snapshot.version, parameters: snapshot.parameters,
                       optimizer: store.optimizer.configuration.kind, optimizerState: optimizerState)
                .encode(to: &writer, format: try tensorFormat(request))
        case .putCheckpoint:
            let checkpoint = try decode(request) { try Checkpoint(reading: &$0, layout: store.network.layout) }
            guard checkpoint.optimizer == store.optimizer.configuration.kind else {
                throw APIError(.unprocessableContent, code: "optimizer_mismatch",
                               message: "optimizer_state.name: this server runs \(store.optimizer.configuration.kind.rawValue), got \(checkpoint.optimizer.rawValue)")
            }
            try store.restore(parameters: checkpoint.parameters, optimizerState: checkpoint.optimizerState, version: checkpoint.version)
            metrics.version.set(Int64(checkpoint.version))
            VersionResponse(version: checkpoint.version).encode(to: &writer)
        }
        return HTTPResponse(body: writer.bytes)
    }

    /// Checked before the body is read, so an unauthorized request changes nothing.
    private func authorize(_ endpoint: Endpoint, _ request: HTTPRequest) throws(APIError) {
        guard endpoint != .health else { return }
        guard access.allows(authorization: request.head.headers["Authorization"], write: endpoint.isWrite) else {
            var error = APIError(.unauthorized, code: "unauthorized",
                                 message: "\(request.head.path) needs Authorization: Bearer <token>")
            error.headers = [("WWW-Authenticate", "Bearer")]
            throw error
        }
    }

    private func decode<T>(_ request: HTTPRequest, _ body: (inout JSONReader) throws -> T) throws -> T {
        guard !request.body.isEmpty else {
            throw APIError(.badRequest, code: "invalid_json", message: "the request body is empty; expected a JSON object")
        }
        return try JSONReader.read(request.body, body)
    }

    private func requireSamples(_ samples: [Sample]) throws {
        guard !samples.isEmpty else {
            throw APIError(.unprocessableContent, code: "empty_samples", message: "samples: expected at least one sample")
        }
    }

    /// `?tensor_format=b64` on GET routes that return tensors.
    private func tensorFormat(_ request: HTTPRequest) throws -> TensorFormat {
        guard let value = request.head.queryValue("tensor_format") else { return .numbers }
        guard let format = TensorFormat(rawValue: String(value)) else {
            throw APIError(.badRequest, code: "invalid_field", message: "tensor_format: expected numbers or b64, got \(value.prefix(40))")
        }
        return format
    }

    private func withScratch<T>(_ body: (Scratch) throws -> T) rethrows -> T {
        let scratch = scratchPool.withLock { $0.popLast() } ?? Scratch()
        defer { scratchPool.withLock { $0.append(scratch) } }
        return try body(scratch)
    }

    private func describe() -> ModelDescription {
        // Version and step read together, so they describe the same moment.
        let (snapshot, optimizerState) = store.checkpoint()
        let step = optimizerState.step
        return ModelDescription(
            model: store.network.kind, layers: networkConfiguration.layers, readout: networkConfiguration.readout?.rawValue,
            layout: store.network.layout,
            optimizer: .init(configuration: store.optimizer.configuration, step: step,
                             currentLearningRate: store.optimizer.learningRate(afterSteps: step)),
            maxStaleness: store.maxStaleness, version: snapshot.version)
    }
}
