/// Bearer-token access control (RFC 6750): writes always need the token when one is set;
/// reads need it too with `protectReads`.
public struct AccessControl: Sendable {
    private let token: [UInt8]?
    public let protectReads: Bool

    /// No token: every request is allowed.
    public static let open = AccessControl(token: nil, protectReads: false)

    public init(token: String?, protectReads: Bool) {
        self.token = token.map { Array($0.utf8) }
        self.protectReads = protectReads
    }

    /// Whether a request with this `Authorization` header may do a `write` (or a read).
    func allows(authorization: String?, write: Bool) -> Bool {
        guard let token, write || protectReads else { return true }
        // RFC 6750 section 2.1 after RFC 9110 section 11.1: the scheme name is case-insensitive.
        guard let authorization, authorization.utf8.count > 7,
              authorization.prefix(7).lowercased() == "bearer " else { return false }
        return Self.constantTimeEquals(Array(authorization.utf8.dropFirst(7)), token)
    }

    /// Compares without returning early, so the time taken says nothing about where a guess went wrong.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count) | (a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }
}
