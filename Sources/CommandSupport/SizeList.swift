import Foundation
import ArgumentParser

/// A comma-separated list of sizes, such as `--layers 3,3,3` or `--hidden 64,64`.
public enum SizeList {
    public static func parse(_ text: String, option: String) throws -> [Int] {
        let sizes = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !sizes.isEmpty, let values = sizes as? [Int], values.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("\(option): expected positive sizes like 3,3,3, got \(text)")
        }
        return values
    }
}
