import Model

/// The full training state as JSON (`GET`/`PUT /checkpoint`): parameters, optimizer state and version.
public struct Checkpoint: Sendable {
    public var version: Int
    public var parameters: TensorSet
    public var optimizer: OptimizerConfiguration.Kind
    public var optimizerState: OptimizerState

    public init(version: Int, parameters: TensorSet, optimizer: OptimizerConfiguration.Kind, optimizerState: OptimizerState) {
        self.version = version
        self.parameters = parameters
        self.optimizer = optimizer
        self.optimizerState = optimizerState
    }

    public func encode(to writer: inout JSONWriter, format: TensorFormat) {
        let layout = parameters.layout
        writer.object { w in
            w.key("version"); w.number(version)
            w.key("parameters"); w.tensors(parameters, format: format)
            w.key("optimizer_state")
            w.object { w in
                w.key("name"); w.string(optimizer.rawValue)
                w.key("step"); w.number(optimizerState.step)
                if !optimizerState.first.isEmpty {
                    w.key("first_moment"); w.tensors(layout: layout, storage: optimizerState.first[...], format: format)
                }
                if !optimizerState.second.isEmpty {
                    w.key("second_moment"); w.tensors(layout: layout, storage: optimizerState.second[...], format: format)
                }
            }
        }
    }

    /// Reads a checkpoint for a model of `layout`; every tensor must match it.
    public init(reading reader: inout JSONReader, layout: ParameterLayout) throws {
        var version: Int?, parameters: TensorSet?
        var name: OptimizerConfiguration.Kind?, step: Int?
        var first: TensorSet?, second: TensorSet?
        /// Shapes that do not fit the model are the model's error (422), named by field.
        func tensorSet(_ reader: inout JSONReader) throws -> TensorSet {
            let tensors = try reader.readTensorMap()
            do { return try TensorSet(layout: layout, tensors: tensors) } catch { throw error.prefixed(reader.currentPath) }
        }
        try reader.readObject { reader, key in
            switch key {
            case "version": version = try reader.readInt(in: 0...Int.max)
            case "parameters": parameters = try tensorSet(&reader)
            case "optimizer_state":
                try reader.readObject { reader, key in
                    switch key {
                    case "name": name = try reader.readEnum(OptimizerConfiguration.Kind.self)
                    case "step": step = try reader.readInt(in: 0...Int.max)
                    case "first_moment": first = try tensorSet(&reader)
                    case "second_moment": second = try tensorSet(&reader)
                    default: try reader.skipValue()
                    }
                }
            default: try reader.skipValue()
            }
        }
        guard let version, let parameters, let name, let step else {
            throw reader.invalid("expected version, parameters and optimizer_state with name and step")
        }
        self.init(version: version, parameters: parameters, optimizer: name,
                  optimizerState: OptimizerState(step: step, first: first?.storage ?? [], second: second?.storage ?? []))
    }
}
