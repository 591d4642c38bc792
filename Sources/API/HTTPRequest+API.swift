import HTTP
import Model
import Wire

extension HTTPRequest {
    /// The body as JSON, read by `body`; an empty body is a 400.
    func decodeJSON<T>(_ body: (inout JSONReader) throws -> T) throws -> T {
        guard !self.body.isEmpty else {
            throw APIError(.badRequest, code: "invalid_json", message: "the request body is empty; expected a JSON object")
        }
        return try JSONReader.read(self.body, body)
    }

    /// `?tensor_format=b64` on the GET routes that return tensors.
    func tensorFormat() throws -> TensorFormat {
        guard let value = head.queryValue("tensor_format") else { return .numbers }
        guard let format = TensorFormat(rawValue: String(value)) else {
            throw APIError(.badRequest, code: "invalid_field", message: "tensor_format: expected numbers or b64, got \(value.prefix(40))")
        }
        return format
    }
}

extension [Sample] {
    /// `/forward` and `/gradients` need at least one sample.
    func requireSome() throws -> Self {
        guard !isEmpty else {
            throw APIError(.unprocessableContent, code: "empty_samples", message: "samples: expected at least one sample")
        }
        return self
    }
}

extension JSONWriter {
    /// The writer's bytes as a 200 JSON response.
    var response: HTTPResponse { HTTPResponse(body: bytes) }
}
