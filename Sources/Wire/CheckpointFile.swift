import Model

/// A server's whole training state as a file: the model it belongs to, as `GET /model` describes
/// it, and the checkpoint (parameters, optimizer state, version) in the compact tensor form:
///
///     {"format": "gradserve-checkpoint-1", "model": {...}, "checkpoint": {...}}
///
/// `gradctl checkpoint save|restore` and `gradserve --init-from` read and write it.
public struct CheckpointFile: Sendable {
    public static let format = "gradserve-checkpoint-1"

    public var model: ModelDescription
    public var checkpoint: Checkpoint

    public init(model: ModelDescription, checkpoint: Checkpoint) {
        self.model = model
        self.checkpoint = checkpoint
    }

    public func encoded() -> [UInt8] {
        var writer = JSONWriter()
        writer.object { w in
            w.key("format"); w.string(Self.format)
            w.key("model"); model.encode(to: &w)
            w.key("checkpoint"); checkpoint.encode(to: &w, format: .b64)
        }
        return writer.bytes
    }

    /// Reads the model first, then the checkpoint against the model's layout (two passes, so
    /// the keys may come in any order).
    public init(decoding bytes: [UInt8]) throws {
        var format: String?, model: ModelDescription?
        try JSONReader.read(bytes) { reader in
            try reader.readObject { reader, key in
                switch key {
                case "format": format = try reader.readString()
                case "model": model = try ModelDescription(reading: &reader)
                default: try reader.skipValue()
                }
            }
        }
        guard format == Self.format else {
            throw WireError.invalidField(path: "format", message: "expected \"\(Self.format)\", got \(format.map { "\"\($0)\"" } ?? "none"): not a gradserve checkpoint file")
        }
        guard let model else { throw WireError.invalidField(path: "model", message: "missing field model") }
        var checkpoint: Checkpoint?
        try JSONReader.read(bytes) { reader in
            try reader.readObject { reader, key in
                if key == "checkpoint" { checkpoint = try Checkpoint(reading: &reader, layout: model.layout) } else { try reader.skipValue() }
            }
        }
        guard let checkpoint else { throw WireError.invalidField(path: "checkpoint", message: "missing field checkpoint") }
        self.init(model: model, checkpoint: checkpoint)
    }

    /// What keeps this state from going to a server that trains `other`, or nil when it fits:
    /// the same model, sizes, readout, parameters and optimizer.
    public func mismatch(with other: ModelDescription) -> String? {
        // The head (activation, outputs, loss, output bias) is named only where it differs.
        let showOptions = model.options != other.options
        func describe(_ m: ModelDescription) -> String {
            "\(m.model) \(m.layers.map(String.init).joined(separator: ","))\(m.readout.map { " (\($0) readout)" } ?? "")"
                + (showOptions ? " (\(m.options.description))" : "") + " with \(m.optimizer.configuration.kind.rawValue)"
        }
        guard model.model == other.model, model.layers == other.layers, model.readout == other.readout, model.options == other.options,
              model.layout == other.layout, model.optimizer.configuration.kind == other.optimizer.configuration.kind else {
            return "the checkpoint holds a \(describe(model)), the server trains a \(describe(other))"
        }
        return nil
    }
}
