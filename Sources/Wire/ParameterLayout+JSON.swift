import Model

extension JSONReader {
    /// `[{"name": "W1", "shape": [3, 3]}, ...]`, as `/model` and state files list parameters.
    public mutating func readLayout() throws -> ParameterLayout {
        var specs: [(name: String, shape: [Int])] = []
        try readArray { reader, _ in
            var name: String?, shape: [Int]?
            try reader.readObject { reader, key in
                switch key {
                case "name": name = try reader.readString()
                case "shape": shape = try reader.readShape()
                default: try reader.skipValue()
                }
            }
            guard let name, let shape else { throw reader.invalid("a parameter needs name and shape") }
            specs.append((name, shape))
        }
        return ParameterLayout(specs)
    }
}

extension JSONWriter {
    public mutating func layout(_ layout: ParameterLayout) {
        array { w in
            for entry in layout.entries {
                w.object { w in
                    w.key("name"); w.string(entry.name)
                    w.key("shape"); w.array { w in for size in entry.shape { w.number(size) } }
                }
            }
        }
    }
}
