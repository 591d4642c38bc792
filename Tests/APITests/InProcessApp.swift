import Locking
import Logging
import Model
import Wire
@testable import API
@testable import HTTP

/// The app exactly as `gradserve` builds it (`Gradserve`), called in process with request values:
/// no socket, no process, no sleep.
struct InProcessApp {
    let gradserve: Gradserve

    init(_ configure: (inout GradserveConfiguration) -> Void = { _ in }) throws {
        var configuration = GradserveConfiguration()
        configure(&configuration)
        gradserve = try Gradserve(configuration: configuration, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    }

    /// Answers one request.
    @discardableResult
    func callAsFunction(_ method: String, _ target: String, _ body: String = "", headers: [(String, String)] = []) -> HTTPResponse {
        gradserve.app.handle(.make(method, target, body: body, headers: headers))
    }

    /// Sends one request that the app may answer later, as a server's connection would: the
    /// answer, when it comes, is put in `answers` under `id`.
    func send(_ id: String, _ method: String, _ target: String, _ body: String, to answers: Locked<[String: HTTPResponse]>) {
        var request = HTTPRequest.make(method, target, body: body)
        request.resumer = HTTPResumer(token: 0) { _, response in answers.withLock { $0[id] = response } }
        let response = gradserve.app.handle(request)
        if !response.isDeferred { answers.withLock { $0[id] = response } }
    }
}

extension HTTPRequest {
    /// A request as the parser would hand it to the app.
    static func make(_ method: String, _ target: String, body: String = "", headers: [(String, String)] = []) -> HTTPRequest {
        let bytes = Array(body.utf8)
        var fields = HTTPHeaders([("Host", "test")])
        for (name, value) in headers { fields.append(name: name, value: value) }
        if !bytes.isEmpty { fields.append(name: "Content-Length", value: String(bytes.count)) }
        let head = HTTPRequestHead(method: method, target: target, version: .http11, headers: fields,
                                   contentLength: bytes.count, keepAlive: true, expectsContinue: false)
        return HTTPRequest(head: head, body: bytes)
    }
}

extension HTTPResponse {
    var text: String { String(decoding: body, as: UTF8.self) }

    func decode<T>(_ read: (inout JSONReader) throws -> T) throws -> T {
        try JSONReader.read(body, read)
    }

    var error: ErrorResponse? { try? decode { try ErrorResponse(reading: &$0) } }

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// A JSON body for messages that encode themselves.
func json(_ encode: (inout JSONWriter) -> Void) -> String {
    var writer = JSONWriter()
    encode(&writer)
    return String(decoding: writer.bytes, as: UTF8.self)
}
