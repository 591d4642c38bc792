/// A graph sample: `nodeCount` rows of `featureCount` features, and undirected edges listed once.
public struct Graph: Sendable, Equatable {
    public struct Edge: Sendable, Equatable, Hashable {
        public var a: Int
        public var b: Int
        public init(_ a: Int, _ b: Int) { self.a = a; self.b = b }
    }

    public let nodeCount: Int
    public let featureCount: Int
    /// Node features, `nodeCount x featureCount`, row-major.
    public var features: [Float]
    public var edges: [Edge]

    public init(nodeCount: Int, featureCount: Int, features: [Float], edges: [Edge]) throws(ModelError) {
        guard nodeCount >= 0, featureCount >= 0, features.count == nodeCount * featureCount else {
            throw .invalidGraph("nodes: \(features.count) feature values do not fill \(nodeCount) rows of \(featureCount)")
        }
        self.nodeCount = nodeCount
        self.featureCount = featureCount
        self.features = features
        self.edges = edges
    }
}
