import Model

/// Largest number of elements one tensor in a message may declare.
public let maxTensorElements = 1 << 28

extension JSONReader {
    private static let tensorKeys = JSONKeys("shape", "data", "b64", "datatype", "dtype")

    /// Reads `{"shape": [...], "data": [...]}` (optionally with `"datatype": "FP32"`), or the
    /// compact `{"shape": [...], "dtype": "float32", "b64": "..."}`.
    public mutating func readTensor() throws -> Tensor {
        if let tensor = readPlainCompactTensor() { return tensor }
        var shape: [Int]?
        var data: [Float]?
        var datatype: String?
        var dtype: String?
        try readObject(Self.tensorKeys) { reader, key in
            switch key {
            case 0:  // shape
                shape = try reader.readShape()
            case 1:  // data
                guard data == nil else { throw reader.invalid("a tensor has data or b64, not both") }
                var values: [Float] = []
                if let shape, let count = Tensor.elementCount(of: shape) { values.reserveCapacity(count) }
                try reader.readFloats(into: &values)
                data = values
            case 2:  // b64
                guard data == nil else { throw reader.invalid("a tensor has data or b64, not both") }
                data = try reader.readRawString { JSONReader.decodeFloat32Base64($0) }
                    ?? { throw reader.invalid("expected base64 of little-endian float32 values") }()
            case 3:  // datatype
                datatype = try reader.readString()
                guard datatype == "FP32" else { throw reader.invalid("expected \"FP32\", the only datatype served, got \"\(datatype!)\"") }
            case 4:  // dtype
                dtype = try reader.readString()
                guard dtype == "float32" else { throw reader.invalid("expected \"float32\", got \"\(dtype!)\"") }
            default:
                try reader.skipValue()
            }
        }
        guard let shape else { throw invalid("missing field shape (a tensor is {\"shape\": [...], \"data\": [...]})") }
        guard let data else { throw invalid("missing field data (or b64)") }
        do {
            return try Tensor(shape: shape, data: data)
        } catch {
            throw shapeError(error.message)
        }
    }

    /// A shape: sizes of at most 2^28 elements in all.
    public mutating func readShape() throws -> [Int] {
        var shape: [Int] = []
        try readArray { reader, _ in
            guard shape.count < 8 else { throw reader.invalid("more than 8 dimensions") }
            shape.append(try reader.readInt(in: 0...maxTensorElements))
        }
        guard let count = Tensor.elementCount(of: shape), count <= maxTensorElements else {
            throw shapeError("shape \(shape) has more than \(maxTensorElements) elements")
        }
        return shape
    }

    /// Little-endian Float32 values from base64 text, or nil when the text is not base64
    /// of a whole number of floats. Finiteness is the model's to check, as for number arrays.
    /// Only the canonical encoding is accepted (RFC 4648 section 3.5: the bits after the last
    /// byte are zero), so each tensor has exactly one text, the one openapi.yaml's pattern allows.
    static func decodeFloat32Base64(_ text: UnsafeBufferPointer<UInt8>) -> [Float]? {
        guard let length = Base64Codec.decodedLength(text), length % 4 == 0 else { return nil }
        guard length > 0 else { return [] }
        // Decoded straight into the floats' storage (little-endian on the wire and in memory, on
        // x86-64 and arm64): the bytes are the floats.
        var valid = true
        let values = [Float](unsafeUninitializedCapacity: length / 4) { buffer, count in
            valid = Base64Codec.decode(text, into: UnsafeMutableRawPointer(buffer.baseAddress!)) != nil
            count = valid ? length / 4 : 0
        }
        return valid ? values : nil
    }

    /// Reads an object of named tensors, such as `"parameters"` or `"gradients"`.
    public mutating func readTensorMap() throws -> [String: Tensor] {
        var tensors: [String: Tensor] = [:]
        try readObject { reader, name in
            tensors[name] = try reader.readTensor()
        }
        return tensors
    }
}

extension JSONWriter {
    /// Writes one tensor in the given format.
    public mutating func tensor<C: Collection>(shape: [Int], values: C, format: TensorFormat) where C.Element == Float {
        object { w in
            w.key("shape")
            w.array { w in for size in shape { w.number(size) } }
            switch format {
            case .numbers:
                w.key("data")
                w.numbers(values)
            case .b64:
                w.key("dtype")
                w.string("float32")
                w.key("b64")
                // Little-endian in memory (x86-64, arm64), as the compact form wants.
                if values.withContiguousStorageIfAvailable({ w.base64String(UnsafeRawBufferPointer($0)) }) == nil {
                    Array(values).withUnsafeBytes { w.base64String($0) }
                }
            }
        }
    }

    public mutating func tensor(_ tensor: Tensor, format: TensorFormat) {
        self.tensor(shape: tensor.shape, values: tensor.data, format: format)
    }

    /// Writes every tensor of `set` as an object keyed by name.
    public mutating func tensors(_ set: TensorSet, format: TensorFormat) {
        tensors(layout: set.layout, storage: set.storage[...], format: format)
    }

    /// Writes a flat vector laid out by `layout` as an object of named tensors.
    public mutating func tensors(layout: ParameterLayout, storage: ArraySlice<Float>, format: TensorFormat) {
        object { w in
            for entry in layout.entries {
                w.key(entry.name)
                let start = storage.startIndex + entry.offset
                w.tensor(shape: entry.shape, values: storage[start..<(start + entry.count)], format: format)
            }
        }
    }
}
