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
        router.add("POST", "/steps", StepsEndpoint())
        router.add("GET", "/metrics", MetricsEndpoint())
        router.add("GET", "/checkpoint", GetCheckpointEndpoint())
        router.add("PUT", "/checkpoint", PutCheckpointEndpoint())
        self.router = router
        self.access = access
        self.logger = logger
        let metrics = ServerMetrics(paths: router.paths)
        metrics.version.set(Int64(store.snapshot().version))
        api = APIContext(store: store, network: network, limits: limits, metrics: metrics, scratch: scratch, logger: logger)
    }

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        api.answer(request, started: ContinuousClock.now) {
            let endpoint = try router.route(method: request.head.method, path: request.head.path)
            try authorize(endpoint, request)
            return try endpoint.respond(to: request, in: api)
        }
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
