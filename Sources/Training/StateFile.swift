import Checksums
import Model
import Wire

/// The training state on disk: what a server needs to resume exactly where it was.
///
///     "GRADSERVE STATE\n"            16 bytes
///     format                          UInt32 LE (1)
///     header length H                 UInt32 LE
///     header                          H bytes of JSON: model, layers, readout, activation, outputs, loss, output_bias,
///                                     optimizer, version, step, parameters, floats
///     floats                          Float32 LE: parameters, then the optimizer's first and second moments
///     CRC-32 of all bytes above       UInt32 LE
public struct StateFile: Sendable, Equatable {
    /// Which model and optimizer the state belongs to; a server refuses state of another.
    public struct Identity: Sendable, Equatable {
        public var model: String
        public var layers: [Int]
        public var readout: String?
        public var options: NetworkOptions
        public var optimizer: OptimizerConfiguration.Kind
        public var layout: ParameterLayout

        public init(model: String, layers: [Int], readout: String?, options: NetworkOptions,
                    optimizer: OptimizerConfiguration.Kind, layout: ParameterLayout) {
            self.model = model
            self.layers = layers
            self.readout = readout
            self.options = options
            self.optimizer = optimizer
            self.layout = layout
        }

        /// Such as "mlp 3,3,3 model trained with sgd"; the head is named when it is not the model's default.
        public var description: String {
            let usual = model == "gcn" ? GCN.defaultOptions : NetworkOptions()
            return "\(model) \(layers.map(String.init).joined(separator: ","))\(readout.map { " (\($0) readout)" } ?? "") model "
                + (options == usual ? "" : "(\(options.description)) ") + "trained with \(optimizer.rawValue)"
        }
    }

    public var identity: Identity
    public var version: Int
    public var parameters: TensorSet
    public var optimizerState: OptimizerState

    static let magic = Array("GRADSERVE STATE\n".utf8)
    static let format: UInt32 = 1

    public func encoded() -> [UInt8] {
        var header = JSONWriter()
        header.object { w in
            w.key("model"); w.string(identity.model)
            w.key("layers"); w.array { w in for size in identity.layers { w.number(size) } }
            w.key("readout"); if let readout = identity.readout { w.string(readout) } else { w.null() }
            w.key("activation"); w.string(identity.options.activation.rawValue)
            w.key("outputs"); w.number(identity.options.outputs)
            w.key("loss"); w.string(identity.options.loss.rawValue)
            w.key("output_bias"); w.bool(identity.options.outputBias)
            w.key("optimizer"); w.string(identity.optimizer.rawValue)
            w.key("version"); w.number(version)
            w.key("step"); w.number(optimizerState.step)
            w.key("parameters"); w.layout(identity.layout)
            w.key("floats"); w.number(floatCount)
        }
        var bytes = Self.magic
        bytes.reserveCapacity(28 + header.bytes.count + 4 * floatCount)
        append(Self.format, to: &bytes)
        append(UInt32(header.bytes.count), to: &bytes)
        bytes += header.bytes
        for values in [parameters.storage, optimizerState.first, optimizerState.second] {
            values.withUnsafeBytes { raw in
                // Float32 is stored little-endian, which is how x86-64 and arm64 hold it in memory.
                bytes.append(contentsOf: raw)
            }
        }
        let crc = bytes.withUnsafeBytes { CRC32.ieee.checksum($0) }
        append(crc, to: &bytes)
        return bytes
    }

    private var floatCount: Int { parameters.storage.count + optimizerState.first.count + optimizerState.second.count }

    private func append(_ value: UInt32, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Why a state file cannot be used.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case notAStateFile(String)
        case truncated(String)
        case corrupt(String)
        case otherModel(String)

        public var description: String {
            switch self {
            case .notAStateFile(let m), .truncated(let m), .corrupt(let m), .otherModel(let m): m
            }
        }
    }

    /// Reads a state file, checking its length, checksum and that it belongs to `expected`.
    public init(decoding bytes: [UInt8], expected: Identity) throws(Failure) {
        let minimum = Self.magic.count + 12
        guard bytes.count >= Self.magic.count, bytes.starts(with: Self.magic) else {
            throw .notAStateFile("not a gradserve state file (it does not start with the state header)")
        }
        guard bytes.count >= minimum else { throw .truncated("truncated: \(bytes.count) bytes, shorter than any state") }
        let format = Self.uint32(bytes, at: 16), headerLength = Int(Self.uint32(bytes, at: 20))
        guard format == Self.format else { throw .notAStateFile("format \(format) is not the format \(Self.format) this server reads") }
        guard 24 + headerLength + 4 <= bytes.count else {
            throw .truncated("truncated: the header alone needs \(24 + headerLength + 4) bytes, the file has \(bytes.count)")
        }
        let header: (identity: Identity, version: Int, step: Int, floats: Int)
        do {
            header = try JSONReader.read(Array(bytes[24..<(24 + headerLength)])) { try Self.readHeader(&$0) }
        } catch {
            throw .corrupt("corrupt header: \(error)")
        }
        let expectedLength = 24 + headerLength + 4 * header.floats + 4
        guard bytes.count >= expectedLength else {
            throw .truncated("truncated: \(bytes.count) bytes, the header promises \(expectedLength)")
        }
        guard bytes.count == expectedLength else {
            throw .corrupt("corrupt: \(bytes.count) bytes, the header promises \(expectedLength)")
        }
        let stored = Self.uint32(bytes, at: expectedLength - 4)
        let computed = bytes.withUnsafeBytes { CRC32.ieee.checksum(UnsafeRawBufferPointer(rebasing: $0[..<(expectedLength - 4)])) }
        guard stored == computed else {
            throw .corrupt("corrupt: checksum \(String(computed, radix: 16)) does not match the stored \(String(stored, radix: 16))")
        }
        guard header.identity == expected else {
            throw .otherModel("it holds the state of an \(header.identity.description), but this server was started for an \(expected.description)")
        }
        let p = expected.layout.count
        let moments = switch expected.optimizer { case .sgd: 0; case .momentum: 1; case .adam: 2 }
        guard header.floats == p * (1 + moments) else {
            throw .corrupt("corrupt: \(header.floats) values where \(p * (1 + moments)) were expected")
        }
        let floats = bytes.withUnsafeBytes { raw in
            (0..<header.floats).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 24 + headerLength + 4 * $0, as: UInt32.self))) }
        }
        identity = header.identity
        version = header.version
        parameters = TensorSet(layout: expected.layout, storage: Array(floats[0..<p]))
        optimizerState = OptimizerState(step: header.step,
                                        first: moments >= 1 ? Array(floats[p..<(2 * p)]) : [],
                                        second: moments == 2 ? Array(floats[(2 * p)...]) : [])
    }

    public init(identity: Identity, version: Int, parameters: TensorSet, optimizerState: OptimizerState) {
        self.identity = identity
        self.version = version
        self.parameters = parameters
        self.optimizerState = optimizerState
    }

    private static func uint32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    }

    private static func readHeader(_ reader: inout JSONReader) throws -> (Identity, Int, Int, Int) {
        var model: String?, layers: [Int]?, readout: String?, optimizer: OptimizerConfiguration.Kind?
        var version: Int?, step: Int?, floats: Int?, layout = ParameterLayout([])
        var options = NetworkOptions(), outputBias: Bool?
        try reader.readObject { reader, key in
            switch key {
            case "model": model = try reader.readString()
            case "layers": layers = try reader.readShape()
            case "readout": readout = try reader.readNullIfPresent() ? nil : try reader.readString()
            case "optimizer": optimizer = try reader.readEnum(OptimizerConfiguration.Kind.self)
            case "activation": options.activation = try reader.readEnum(Activation.self)
            case "outputs": options.outputs = try reader.readInt(in: 1...65_536)
            case "loss": options.loss = try reader.readEnum(Loss.self)
            case "output_bias": outputBias = try reader.readBool()
            case "version": version = try reader.readInt(in: 0...Int.max)
            case "step": step = try reader.readInt(in: 0...Int.max)
            case "floats": floats = try reader.readInt(in: 0...(1 << 40))
            case "parameters": layout = try reader.readLayout()
            default: try reader.skipValue()
            }
        }
        guard let model, let layers, let optimizer, let version, let step, let floats else {
            throw reader.invalid("missing model, layers, optimizer, version, step or floats")
        }
        // Files from before the configurable heads have no such fields: their graph networks had an output bias.
        options.outputBias = outputBias ?? (model == "gcn")
        let identity = Identity(model: model, layers: layers, readout: readout, options: options, optimizer: optimizer, layout: layout)
        return (identity, version, step, floats)
    }
}
