import Model
import HTTP
import Wire

/// What the fuzzers check on each input: no crash, and the invariants a valid parse promises.
/// The fuzz executables call these; the tests call them on every input kept in `Tests/FuzzCorpus`.
public enum FuzzTargets {
    /// The HTTP head parser: a parsed head never claims more bytes than it was given, and its
    /// body length respects the limit.
    public static func httpHead(_ bytes: UnsafeRawBufferPointer) {
        let limits = HTTPParser.Limits()
        switch HTTPParser.parseHead(bytes, limits: limits) {
        case .head(let head, let length):
            precondition(length <= bytes.count, "head longer than its input")
            precondition((0...limits.maxBodyBytes).contains(head.contentLength), "content length outside the limit")
            precondition(head.path.hasPrefix("/") || head.target == "*", "target not normalised")
        case .failure(let failure):
            precondition((400..<600).contains(failure.status.code), "failure without an error status")
        case .incomplete:
            precondition(bytes.count < limits.maxHeadBytes + 4 * 1024, "incomplete beyond the head limit")
        }
    }

    /// The JSON request decoders: the first byte picks one; a decoded request that is written
    /// again must read back the same.
    public static func jsonRequest(_ input: UnsafeRawBufferPointer) {
        guard let selector = input.first else { return }
        let bytes = UnsafeRawBufferPointer(rebasing: input.dropFirst())
        switch selector % 5 {
        case 0:
            guard let request = try? JSONReader.read(bytes, { try GradientsRequest(reading: &$0, sampleLimit: 1000) }) else { return }
            var writer = JSONWriter()
            request.encode(to: &writer)
            let again = try? JSONReader.read(writer.bytes) { try GradientsRequest(reading: &$0, sampleLimit: 1000) }
            precondition(again?.samples == request.samples, "samples changed in a round trip")
        case 1:
            guard let request = try? JSONReader.read(bytes, { try TensorsRequest(reading: &$0, field: "gradients") }) else { return }
            // Number arrays hold finite values only; base64 carries any bit pattern (the model refuses non-finite ones).
            let finite = request.tensors.values.allSatisfy { $0.data.allSatisfy(\.isFinite) }
            for format in TensorFormat.allCases where format == .b64 || finite {
                var writer = JSONWriter()
                request.encode(to: &writer, field: "gradients", format: format)
                let again = try? JSONReader.read(writer.bytes) { try TensorsRequest(reading: &$0, field: "gradients") }
                precondition(again?.tensors.mapValues { $0.data.map(\.bitPattern) } == request.tensors.mapValues { $0.data.map(\.bitPattern) },
                             "tensors changed in a round trip")
            }
        case 2:
            _ = try? JSONReader.read(bytes) { try ForwardRequest(reading: &$0, sampleLimit: 1000) }
        case 3:
            _ = try? JSONReader.read(bytes) { try StepsRequest(reading: &$0, sampleLimit: 1000) }
        default:
            let layout = ParameterLayout([("W1", [2, 2]), ("b1", [2])])
            _ = try? JSONReader.read(bytes) { try Checkpoint(reading: &$0, layout: layout) }
        }
    }
}
