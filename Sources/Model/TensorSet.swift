/// One value for every tensor of a layout (parameters, a gradient, an optimizer moment),
/// stored as one flat vector.
public struct TensorSet: Sendable, Equatable {
    public let layout: ParameterLayout
    public var storage: [Float]

    public init(zerosFor layout: ParameterLayout) {
        self.layout = layout
        self.storage = [Float](repeating: 0, count: layout.count)
    }

    public init(layout: ParameterLayout, storage: [Float]) {
        precondition(storage.count == layout.count, "storage does not match the layout")
        self.layout = layout
        self.storage = storage
    }

    /// Builds a full set from named tensors: every name of the layout must be present with its exact shape
    /// and finite values, and no other name may appear.
    public init(layout: ParameterLayout, tensors: [String: Tensor]) throws(ModelError) {
        for name in tensors.keys where layout.index(of: name) == nil {
            throw .unknownParameter("\(name): not a parameter of this model (expected one of \(layout.names.joined(separator: ", ")))")
        }
        var storage = [Float](repeating: 0, count: layout.count)
        for entry in layout.entries {
            guard let tensor = tensors[entry.name] else {
                throw .unknownParameter("\(entry.name): missing (every parameter is required: \(layout.names.joined(separator: ", ")))")
            }
            try entry.check(tensor)
            storage.replaceSubrange(entry.range, with: tensor.data)
        }
        self.layout = layout
        self.storage = storage
    }

    public subscript(name: String) -> Tensor? {
        guard let entry = layout.entry(named: name) else { return nil }
        return tensor(entry)
    }

    public func tensor(_ entry: ParameterLayout.Entry) -> Tensor {
        try! Tensor(shape: entry.shape, data: Array(storage[entry.range]))
    }

    /// The tensors by name, in layout order.
    public var tensors: [(name: String, tensor: Tensor)] {
        layout.entries.map { ($0.name, tensor($0)) }
    }

    /// The tensors keyed by name, as the API's messages carry them.
    public var namedTensors: [String: Tensor] {
        Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0.tensor) })
    }

    public var isFinite: Bool { storage.allFinite }
}

extension UnsafeBufferPointer<Float> {
    /// Whether every value is finite: the largest exponent field among them is not all ones.
    /// Written as a maximum of bit patterns, which the compiler vectorises, where
    /// `allSatisfy(\.isFinite)` takes a branch a value.
    public var allFinite: Bool {
        var largest: UInt32 = 0
        for value in self { largest = Swift.max(largest, value.bitPattern & 0x7F80_0000) }
        return largest != 0x7F80_0000
    }
}

extension Array<Float> {
    public var allFinite: Bool { withUnsafeBufferPointer(\.allFinite) }
}

extension ParameterLayout.Entry {
    /// Checks that `tensor` can stand for this entry: the exact shape and only finite values.
    public func check(_ tensor: Tensor) throws(ModelError) {
        guard tensor.shape == shape else {
            throw .shapeMismatch("\(name): expected \(shape.shapeDescription), got \(tensor.shape.shapeDescription)")
        }
        if !tensor.data.allFinite, let bad = tensor.data.firstIndex(where: { !$0.isFinite }) {
            throw .nonFinite("\(name): value \(tensor.data[bad]) at flat index \(bad) is not finite")
        }
    }
}
