import HTTP

/// `GET /metrics`: Prometheus text.
struct MetricsEndpoint: Endpoint {
    func respond(to request: HTTPRequest, in api: APIContext) throws -> HTTPResponse {
        var text: [UInt8] = []
        api.metrics.registry.emit(into: &text)
        return HTTPResponse(body: text, contentType: "text/plain; version=0.0.4")
    }
}
