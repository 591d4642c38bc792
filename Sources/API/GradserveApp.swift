import HTTP
import Model
import Wire
import Logging
import Training

/// The API: routes each request to its endpoint, checks access, and turns what the endpoint
/// returns or throws into a response. This is the only place where HTTP and training meet.
public final class GradserveApp: HTTPHandler {
    let api: APIContext
    let access: AccessControl
    let logger: Logger
    let router: Router

    init(store: TrainingStore, network: NetworkConfiguration, limits: RequestLimits, access: AccessControl,
         scratch: ScratchPool, logger: Logger) {
        var router = Router()
        router.add("GET", "/health", HealthEndpoint())
        router.add("GET", "/model", ModelEndpoint())
        router.add("GET", "/params", GetParamsEndpoint())
        router.add("PUT", "/params", PutParamsEndpoint())
        router.add("POST", "/forward", ForwardEndpoint())
        router.add("POST", "/gradients", GradientsEndpoint())
        router.add("POST", "/apply", ApplyEndpoint())
        router.add("POST", "/step", StepEndpoint())
        router.add("GET", "/metrics", MetricsEndpoint())
        router.add("GET", "/checkpoint", GetCheckpointEndpoint())
        router.add("PUT", "/checkpoint", PutCheckpointEndpoint())
        self.router = router
        self.access = access
        self.logger = logger
        let metrics = ServerMetrics(paths: router.paths)
        metrics.version.set(Int64(store.snapshot().version))
        api = APIContext(store: store, network: network, limits: limits, metrics: metrics, scratch: scratch)
    }

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        let started = ContinuousClock.now
        let response: HTTPResponse
        do {
            let endpoint = try router.route(method: request.head.method, path: request.head.path)
            try authorize(endpoint, request)
            response = try endpoint.respond(to: request, in: api)
        } catch let error as ModelError {
            // The model names a sample's parts in its own terms; the client sees its JSON fields.
            response = error.withWireNames.response()
        } catch let error as any HTTPResponseError {
            response = error.response()
        } catch {
            logger.error("unexpected error", metadata: ["path": "\(request.head.path)", "error": "\(error)"])
            response = APIError(.internalServerError, code: "internal_error", message: "internal error").response()
        }
        api.metrics.record(path: api.metrics.label(for: request.head.path), status: response.status.code,
                           duration: ContinuousClock.now - started)
        return response
    }

    public func failureResponse(status: HTTPStatus, message: String) -> HTTPResponse {
        api.metrics.record(path: "other", status: status.code, duration: .zero)
        return APIError(status, code: APIError.code(for: status), message: message).response()
    }

    /// Checked before the body is decoded, so an unauthorized request changes nothing.
    private func authorize(_ endpoint: any Endpoint, _ request: HTTPRequest) throws(APIError) {
        guard endpoint.access != .open else { return }
        guard access.allows(authorization: request.head.headers["Authorization"], write: endpoint.access == .write) else {
            var error = APIError(.unauthorized, code: "unauthorized", message: "\(request.head.path) needs Authorization: Bearer <token>")
            error.headers = [("WWW-Authenticate", "Bearer")]
            throw error
        }
    }
}
