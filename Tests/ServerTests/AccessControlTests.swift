import Foundation
import TestSupport
import Testing
@testable import API

@Suite struct AccessControlTests {
    let step = #"{"gradients": {"W3": {"shape": [3], "data": [1, 2, 3]}}}"#

    @Test func writesNeedTheBearerTokenAndChangeNothingWithout() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["GRADSERVE_TOKEN"] = "s3cret-token"
        let server = try ServerProcess([], environment: environment)
        for headers in [[], ["-H", "Authorization: Bearer wrong"], ["-H", "Authorization: Basic s3cret-token"], ["-H", "Authorization: Bearer s3cret-token2"]] {
            let client = try RawClient(port: server.port)
            let header = headers.last.map { "\($0)\r\n" } ?? ""
            client.send("POST /apply HTTP/1.1\r\nHost: t\r\n\(header)Content-Length: \(step.utf8.count)\r\n\r\n\(step)")
            let response = client.readResponse()
            #expect(response?.status == 401, "\(headers)")
            #expect(response?.header("WWW-Authenticate") == "Bearer")
            #expect(response?.text == #"{"error":{"code":"unauthorized","message":"/apply needs Authorization: Bearer <token>"}}"#)
        }
        #expect(try curl(["-X", "PUT", "\(server.url)/params", "-d", "{}"]).status == 401)
        #expect(try curl(["-X", "PUT", "\(server.url)/checkpoint", "-d", "{}"]).status == 401)
        #expect(try curl(["\(server.url)/params"]).status == 200, "reads stay open without --read-token")
        #expect(try curl(["\(server.url)/health"]).body == #"{"status":"ok","version":0}"#)
        let allowed = try curl(["-X", "POST", "\(server.url)/apply", "-H", "authorization: bearer s3cret-token", "-d", step])
        #expect(allowed.body == #"{"version":1}"#)
    }

    @Test func readTokenProtectsEverythingButHealth() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID())").path
        try "read-and-write\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let server = try ServerProcess(["--token-file", file, "--read-token"])
        for path in ["/params", "/model", "/metrics", "/checkpoint"] {
            #expect(try curl(["\(server.url)\(path)"]).status == 401, "\(path)")
            #expect(try curl(["\(server.url)\(path)", "-H", "Authorization: Bearer read-and-write"]).status == 200, "\(path)")
        }
        #expect(try curl(["-X", "POST", "\(server.url)/forward", "-d", #"{"samples": [{"x": [1, 2, 3]}]}"#]).status == 401)
        #expect(try curl(["\(server.url)/health"]).status == 200)

        // gradctl reads the same file.
        let gradctl = ServerProcess.binary("gradctl").path
        let trained = try run(gradctl, ["train", "--server", server.url, "--token-file", file, "--synthetic", "64", "--batch", "32"])
        #expect(trained.status == 0, "\(trained.stderr)")
        let refused = try run(gradctl, ["params", "--server", server.url])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("HTTP 401 unauthorized"), "\(refused.stderr)")
    }

    @Test func serverRefusesToStartWithAnUnusableToken() throws {
        #expect(throws: ServerProcessError.self) { try ServerProcess(["--read-token"]) }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("empty-\(UUID())").path
        try "\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        #expect(throws: ServerProcessError.self) { try ServerProcess(["--token-file", file]) }
    }

    @Test func comparisonIsExact() {
        let token = AccessControl(token: "abc", protectReads: false)
        #expect(token.allows(authorization: "Bearer abc", write: true))
        #expect(!token.allows(authorization: "Bearer abd", write: true))
        #expect(!token.allows(authorization: "Bearer ab", write: true))
        #expect(!token.allows(authorization: "Bearer abcd", write: true))
        #expect(!token.allows(authorization: nil, write: true))
        #expect(token.allows(authorization: nil, write: false))
        #expect(AccessControl.constantTimeEquals([], []))
        #expect(!AccessControl.constantTimeEquals([1], []))
    }
}
