import HTTP
import Logging
import Model
import Training

/// What every endpoint works with: the training state, the model's description, the limits
/// on one request, the metrics and the working memory for model computations.
final class APIContext: Sendable {
    let store: TrainingStore
    let network: NetworkConfiguration
    let limits: RequestLimits
    let metrics: ServerMetrics
    let scratch: ScratchPool
    let logger: Logger

    init(store: TrainingStore, network: NetworkConfiguration, limits: RequestLimits, metrics: ServerMetrics, scratch: ScratchPool,
         logger: Logger) {
        self.store = store
        self.network = network
        self.limits = limits
        self.metrics = metrics
        self.scratch = scratch
        self.logger = logger
    }

    /// The answer `work` makes for `request`, or the error it throws as an answer; counted in the
    /// metrics from `started`. Every answer goes through here, deferred ones too.
    func answer(_ request: HTTPRequest, started: ContinuousClock.Instant, _ work: () throws -> HTTPResponse) -> HTTPResponse {
        let response: HTTPResponse
        do {
            response = try work()
        } catch {
            response = clientError(error, path: String(request.head.path)).response()
        }
        if !response.isDeferred {
            metrics.record(path: metrics.label(for: request.head.path), status: response.status.code, duration: ContinuousClock.now - started)
        }
        return response
    }

    /// What the client is told of `error`, thrown while answering a request for `path`.
    func clientError(_ error: any Error, path: String) -> any HTTPResponseError {
        switch error {
        // The model names a sample's parts in its own terms; the client sees its JSON fields.
        case let error as ModelError: return error.withWireNames
        case let error as any HTTPResponseError: return error
        default:
            logger.error("unexpected error", metadata: ["path": "\(path)", "error": "\(error)"])
            return APIError(.internalServerError, code: "internal_error", message: "internal error")
        }
    }
}
