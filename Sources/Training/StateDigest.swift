import Model

/// A checksum of a replica's whole training state, so that replicas which should be identical
/// can be compared in one string. It is XXH64 chained over the parts, each part's hash the seed of
/// the next:
///
///     d0 = XXH64(version as UInt64 LE ‖ optimizer step as UInt64 LE, seed 0)
///     d1 = XXH64(parameters as float32 LE in layout order, seed d0)
///     d2 = XXH64(first moment, seed d1)      (empty for SGD)
///     d3 = XXH64(second moment, seed d2)     (empty unless Adam)
///
/// and written as 16 lowercase hexadecimal digits of d3.
public enum StateDigest {
    public static func make(version: Int, parameters: TensorSet, optimizerState: OptimizerState) -> String {
        let header = [UInt64(version).littleEndian, UInt64(optimizerState.step).littleEndian]
        var digest = header.withUnsafeBytes { XXH64.hash($0) }
        for part in [parameters.storage, optimizerState.first, optimizerState.second] {
            digest = part.withUnsafeBytes { XXH64.hash($0, seed: digest) }
        }
        let hex = String(digest, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
