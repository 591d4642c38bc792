import Model

/// A `/gradients` answer read the way a trainer uses it: the version, how many samples and the
/// sum of their losses, and every gradient in the answer (each sample's, or the server's partial
/// sum) added into one Float64 vector in layout order, with no tensor dictionary per sample.
public struct GradientPartialSum: Sendable {
    public var version: Int
    public var samples: Int
    /// The samples' losses added in Float64 in sample order: read as the server's `loss_sum`, or
    /// added here from per-sample results in the same order, so both give the same number.
    public var lossSum: Double
    /// `layout.count` values: the sum of the answer's gradients.
    public var sum: [Double]

    public init(reading reader: inout JSONReader, layout: ParameterLayout) throws {
        var version: Int?, losses: [Float]?, samples: Int?, lossSum: Double?, gradients = 0
        // The first block of gradients is read as the sum (no zero fill); the others are added to it.
        var sum: [Double] = []
        func add(_ reader: inout JSONReader) throws {
            if gradients == 0 { sum = try reader.readTensorSum(layout) } else { try reader.addTensors(layout, into: &sum) }
            gradients += 1
        }
        try reader.readObject { reader, key in
            switch key {
            case "version": version = try reader.readInt(in: 0...Int.max)
            case "gradient_sum": try add(&reader)
            case "samples": samples = try reader.readInt(in: 0...Int.max)
            case "loss_sum": lossSum = try reader.readDouble()
            case "results":
                var list: [Float] = []
                try reader.readArray { reader, _ in
                    try reader.readObject { reader, key in
                        switch key {
                        case "loss": list.append(try reader.readFloat())
                        case "gradients": try add(&reader)
                        default: try reader.skipValue()
                        }
                    }
                }
                losses = list
            default: try reader.skipValue()
            }
        }
        if let losses { (samples, lossSum) = (losses.count, SampleResults.lossSum(of: losses)) }
        guard let version, let samples, let lossSum, gradients > 0 else {
            throw reader.invalid("expected version, results or samples and loss_sum, and gradients per sample or gradient_sum")
        }
        self.version = version
        self.samples = samples
        self.lossSum = lossSum
        self.sum = sum
    }
}

extension JSONReader {
    /// Reads an object holding every tensor of `layout` once, with its shape, and adds the values
    /// into `sum` at their places in the layout.
    public mutating func addTensors(_ layout: ParameterLayout, into sum: inout [Double]) throws {
        precondition(sum.count == layout.count, "a sum laid out by the layout")
        try sum.withUnsafeMutableBufferPointer { sum in
            try readTensors(layout) { entry, values in
                let target = sum.baseAddress! + entry.offset
                for k in values.indices { target[k] += Double(values[k]) }
            }
        }
    }

    /// Reads such an object as a new Float64 vector in layout order, each value v as 0 + v: what
    /// adding it to zeros gives (a -0 becomes +0), without writing the zeros first.
    public mutating func readTensorSum(_ layout: ParameterLayout) throws -> [Double] {
        try [Double](unsafeUninitializedCapacity: layout.count) { sum, initialized in
            // Every entry is written once: the layout's entries tile the vector, and `readTensors`
            // throws unless it read each of them.
            try readTensors(layout) { entry, values in
                let target = sum.baseAddress! + entry.offset
                for k in values.indices { target[k] = 0 + Double(values[k]) }
            }
            initialized = layout.count
        }
    }

    /// Reads an object holding every tensor of `layout` once, checking each one's name and shape,
    /// and hands each to `use` with its entry. The loops `use` runs go through pointers, so they
    /// vectorise.
    private mutating func readTensors(_ layout: ParameterLayout, _ use: (ParameterLayout.Entry, UnsafeBufferPointer<Float>) -> Void) throws {
        var found = 0
        try readObject { reader, name in
            guard let entry = layout.entry(named: name) else {
                throw reader.invalid("not a parameter of this model (expected one of \(layout.names.joined(separator: ", ")))")
            }
            let tensor = try reader.readTensor()
            guard tensor.shape == entry.shape else { throw reader.shapeError("expected \(entry.shape), got \(tensor.shape)") }
            tensor.data.withUnsafeBufferPointer { use(entry, $0) }
            found += 1
        }
        // The reader refuses repeated keys, so this many distinct names is every parameter.
        guard found == layout.entries.count else {
            throw invalid("expected every parameter (\(layout.names.joined(separator: ", "))), got \(found) of \(layout.entries.count)")
        }
    }
}
