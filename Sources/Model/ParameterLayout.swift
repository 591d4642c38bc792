/// The named tensors of a model and where each lives in one flat Float32 vector.
///
/// Parameters, gradients and optimizer moments all use the same layout, so that
/// averaging, clipping and optimizer steps are loops over one contiguous vector
/// (as `llm.c` keeps all parameters in one allocation).
public struct ParameterLayout: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
        public var range: Range<Int> { offset..<(offset + count) }
    }

    public let entries: [Entry]
    /// Total number of scalars.
    public let count: Int

    public init(_ specs: [(name: String, shape: [Int])]) {
        var offset = 0
        var entries: [Entry] = []
        for spec in specs {
            let entry = Entry(name: spec.name, shape: spec.shape, offset: offset)
            entries.append(entry)
            offset += entry.count
        }
        self.entries = entries
        self.count = offset
    }

    public var names: [String] { entries.map(\.name) }

    public func index(of name: String) -> Int? { entries.firstIndex { $0.name == name } }

    public func entry(named name: String) -> Entry? { index(of: name).map { entries[$0] } }
}
