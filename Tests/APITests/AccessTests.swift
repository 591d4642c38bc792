import Testing
@testable import API

@Suite struct AccessTests {
    let step = #"{"gradients": {"W3": {"shape": [3], "data": [1, 2, 3]}}}"#

    @Test func writesNeedTheBearerTokenAndChangeNothingWithout() throws {
        let app = try InProcessApp { $0.access = AccessControl(token: "s3cret-token", protectReads: false) }
        for header in [nil, "Bearer wrong", "Basic s3cret-token", "Bearer s3cret-token2", "Bearer"] {
            let response = app("POST", "/apply", step, headers: header.map { [("Authorization", $0)] } ?? [])
            #expect(response.status == .unauthorized, "\(header ?? "no header")")
            #expect(response.header("WWW-Authenticate") == "Bearer")
            #expect(response.text == #"{"error":{"code":"unauthorized","message":"/apply needs Authorization: Bearer <token>"}}"#)
        }
        #expect(app("PUT", "/params", "{}").status == .unauthorized)
        #expect(app("PUT", "/checkpoint", "{}").status == .unauthorized)
        #expect(app("POST", "/step", #"{"gradients": {"W3": {"shape": [3], "data": [1, 2, 3]}}, "version": 0, "parts": []}"#).status == .unauthorized)
        #expect(app("POST", "/steps", #"{"steps": [{"gradients": {"W3": {"shape": [3], "data": [1, 2, 3]}}, "version": 0, "if_version": 0, "parts": []}]}"#)
            .status == .unauthorized)
        #expect(app("GET", "/health").text.hasPrefix(#"{"status":"ok","version":0,"#), "the refused step changed nothing")
        #expect(app("GET", "/params").status == .ok, "reads stay open without protectReads")
        #expect(app("GET", "/health").text.hasPrefix(#"{"status":"ok","version":0,"digest":"#))
        // RFC 9110 section 11.1: the scheme is case-insensitive.
        #expect(app("POST", "/apply", step, headers: [("authorization", "bearer s3cret-token")]).text.hasPrefix(#"{"version":1,"digest":"#))
    }

    @Test func aReadTokenProtectsEverythingButHealth() throws {
        let app = try InProcessApp { $0.access = AccessControl(token: "read-and-write", protectReads: true) }
        for path in ["/params", "/model", "/metrics", "/checkpoint"] {
            #expect(app("GET", path).status == .unauthorized, "\(path)")
            #expect(app("GET", path, headers: [("Authorization", "Bearer read-and-write")]).status == .ok, "\(path)")
        }
        #expect(app("POST", "/forward", #"{"samples": [{"x": [1, 2, 3]}]}"#).status == .unauthorized)
        #expect(app("GET", "/health").status == .ok)
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
