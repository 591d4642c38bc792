import HTTP
import Model

/// Well-formed requests the model cannot take: wrong shapes, non-finite values, unknown parameters.
extension ModelError: HTTPResponseError {
    public var status: HTTPStatus { .unprocessableContent }
}
