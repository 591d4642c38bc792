import HTTP

/// Maps a method and path to an endpoint; answers 404 for an unknown path and 405 (with `Allow`)
/// for a known path with a method it does not serve. HEAD is served wherever GET is.
struct Router: Sendable {
    private var table: [String: [String: any Endpoint]] = [:]

    mutating func add(_ method: String, _ path: String, _ endpoint: any Endpoint) {
        table[path, default: [:]][method] = endpoint
    }

    func route(method: String, path: Substring) throws(APIError) -> any Endpoint {
        guard let methods = table[String(path)] else {
            throw APIError(.notFound, code: "not_found", message: "no route for \(path.prefix(200))")
        }
        if let endpoint = methods[method] ?? (method == "HEAD" ? methods["GET"] : nil) {
            return endpoint
        }
        var allowed = methods.keys.sorted()
        if allowed.contains("GET") { allowed.append("HEAD") }
        var error = APIError(.methodNotAllowed, code: "method_not_allowed",
                             message: "\(path) does not accept \(method); allowed: \(allowed.joined(separator: ", "))")
        error.headers = [("Allow", allowed.joined(separator: ", "))]
        throw error
    }

    /// The known paths, for metrics labels.
    var paths: [String] { table.keys.sorted() }
}
