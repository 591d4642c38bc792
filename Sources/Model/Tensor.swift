/// A dense Float32 tensor in row-major order that knows its shape.
public struct Tensor: Sendable, Equatable {
    public let shape: [Int]
    public var data: [Float]

    /// Makes a tensor, checking that `data` has exactly the elements `shape` calls for.
    public init(shape: [Int], data: [Float]) throws(ModelError) {
        guard shape.allSatisfy({ $0 >= 0 }), let count = Tensor.elementCount(of: shape) else {
            throw .invalidShape("shape \(shape.shapeDescription) is not a list of non-negative sizes of a representable tensor")
        }
        guard count == data.count else {
            throw .invalidShape("shape \(shape.shapeDescription) holds \(count) values, got \(data.count)")
        }
        self.shape = shape
        self.data = data
    }

    public init(zeros shape: [Int]) {
        self.shape = shape
        self.data = [Float](repeating: 0, count: shape.reduce(1, *))
    }

    /// The number of elements of `shape`, or nil when it overflows `Int`.
    public static func elementCount(of shape: [Int]) -> Int? {
        var count = 1
        for size in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            if overflow { return nil }
            count = product
        }
        return count
    }
}

extension Array where Element == Int {
    /// `[3, 2]` as in error messages.
    var shapeDescription: String { "[" + map(String.init).joined(separator: ",") + "]" }
}
