/// How tensors are written in a response: as JSON number arrays (the default), or compactly as
/// little-endian Float32 bytes in base64 (`{"shape": [...], "dtype": "float32", "b64": "..."}`).
public enum TensorFormat: String, Sendable, CaseIterable {
    case numbers
    case b64
}
