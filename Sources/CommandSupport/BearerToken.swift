import ArgumentParser
import Foundation

/// The bearer token that `gradserve` requires and `gradctl` sends, read the same way by both:
/// from `--token-file FILE`, else from the environment variable GRADSERVE_TOKEN; surrounding
/// white space is trimmed, and what is left must be one word of visible characters.
public enum BearerToken {
    public static let environmentVariable = "GRADSERVE_TOKEN"

    /// The token, or nil when neither the file nor the variable is given.
    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
        let text: String
        if let file {
            guard let contents = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ValidationError("--token-file: cannot read \(file)")
            }
            text = contents
        } else if let value = environment[environmentVariable] {
            text = value
        } else {
            return nil
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty, !token.contains(where: { $0.isWhitespace || !$0.isASCII || $0.asciiValue! < 0x21 || $0.asciiValue! > 0x7E }) else {
            throw ValidationError("\(file.map { "--token-file \($0)" } ?? environmentVariable): the token must be one word of visible ASCII characters")
        }
        return token
    }
}
