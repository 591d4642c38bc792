import ArgumentParser
import Wire

/// Checks the JSON writer's float printer against Swift's `description` on a range of Float32
/// bit patterns: all 2^32 by default (about 11 minutes in a release build). The tests check the
/// boundaries and millions of random patterns; this is the whole range, run by hand.
struct Floats: ParsableCommand {
    @Option(help: "First bit pattern.") var start: UInt32 = 0
    @Option(help: "Last bit pattern.") var end: UInt32 = .max

    func run() throws {
        var buffer = [UInt8](repeating: 0, count: ShortestFloat.room)
        var checked = 0
        var differences: [String] = []
        for bits in start...end {
            let value = Float(bitPattern: bits)
            guard value.isFinite else { continue }
            let count = buffer.withUnsafeMutableBufferPointer { ShortestFloat.write(value, to: $0.baseAddress!) }
            checked += 1
            if !buffer[..<count].elementsEqual(value.description.utf8) {
                differences.append("\(bits): \(String(decoding: buffer[..<count], as: UTF8.self)) instead of \(value.description)")
            }
        }
        emit([("bench", "floats"), ("checked", checked), ("differences", differences.count)])
        for difference in differences.prefix(20) { print(difference) }
        if !differences.isEmpty { throw ExitCode.failure }
    }
}
