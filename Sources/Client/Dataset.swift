import Foundation
import Model
import Wire

/// Training or evaluation samples, with where each came from for error messages.
public struct Dataset: Sendable {
    public var samples: [Sample]
    /// The line of `source` each sample was read from (1-based); empty for generated data.
    public var lines: [Int]
    public var source: String

    public init(samples: [Sample], lines: [Int] = [], source: String) {
        self.samples = samples
        self.lines = lines
        self.source = source
    }

    /// Where sample `index` came from, such as "train.csv:12" or "synthetic sample 12".
    public func location(of index: Int) -> String {
        index < lines.count ? "\(source):\(lines[index])" : "\(source) sample \(index)"
    }

    /// The reference task: x uniform in [0, 1)^dimension, t = |x|.
    public static func synthetic(count: Int, dimension: Int, seed: UInt64) -> Dataset {
        var generator = SeededGenerator(seed: seed)
        let samples = (0..<count).map { _ in
            let x = (0..<dimension).map { _ in Float.random(in: 0..<1, using: &generator) }
            return Sample(x: x, t: x.reduce(0) { $0 + $1 * $1 }.squareRoot())
        }
        return Dataset(samples: samples, source: "synthetic")
    }

    /// Reads CSV (input columns, then `targets` target columns; a header line is allowed) or
    /// JSON Lines (`{"x": [...], "t": ...}` or graph samples, `t` a number, a class index or a
    /// list), chosen by the file's first character. One target column is a number (or a class
    /// index); several are a list. For prediction, `inputSize` lets CSV rows hold the inputs
    /// alone and JSON Lines leave out `t` (targets that are there are read and not needed).
    public static func load(path: String, inputSize: Int? = nil, targets: Int = 1) throws(DatasetError) -> Dataset {
        precondition(targets >= 1, "at least one target column")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .unreadable("\(path): cannot read the file")
        }
        let bytes = [UInt8](data)
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let firstLine = lines.first { !$0.allSatisfy(Self.isSpace) }
        let isJSON = firstLine?.first { !Self.isSpace($0) } == UInt8(ascii: "{")
        var dataset = Dataset(samples: [], source: path)
        var isFirstLine = true
        for (index, line) in lines.enumerated() where !line.allSatisfy(Self.isSpace) {
            let number = index + 1
            defer { isFirstLine = false }
            if isJSON {
                do {
                    dataset.samples.append(try line.withUnsafeBytes { try JSONReader.read($0) { try $0.readSample(requireTarget: inputSize == nil) } })
                } catch let error as WireError {
                    throw .badLine("\(path):\(number): \(error.message)")
                } catch {
                    throw .badLine("\(path):\(number): \(error)")
                }
            } else {
                let fields = String(decoding: line, as: UTF8.self).split(separator: ",", omittingEmptySubsequences: false)
                    .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                let values = fields.map { Float($0) }
                if values.contains(where: { $0 == nil }) {
                    if isFirstLine { continue }  // a header
                    let bad = values.firstIndex { $0 == nil }!
                    throw .badLine("\(path):\(number): column \(bad + 1) \"\(fields[bad].prefix(40))\" is not a number")
                }
                let numbers = values.map { $0! }
                guard numbers.allSatisfy(\.isFinite) else { throw .badLine("\(path):\(number): a value is not finite") }
                if let inputSize, numbers.count == inputSize {
                    dataset.samples.append(Sample(x: numbers, t: 0))
                } else {
                    guard numbers.count > targets else {
                        throw .badLine("\(path):\(number): expected input columns and \(targets == 1 ? "a target" : "\(targets) targets"), got \(numbers.count) column\(numbers.count == 1 ? "" : "s")")
                    }
                    if let first = dataset.samples.first, case .vector(let x) = first.input, x.count != numbers.count - targets {
                        throw .badLine("\(path):\(number): expected \(x.count + targets) columns like the first row, got \(numbers.count)")
                    }
                    let t = Array(numbers.suffix(targets))
                    dataset.samples.append(Sample(.vector(Array(numbers.dropLast(targets))), target: targets == 1 ? .number(t[0]) : .numbers(t)))
                }
            }
            dataset.lines.append(number)
        }
        guard !dataset.samples.isEmpty else { throw .empty("\(path): no samples") }
        return dataset
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0D
    }
}

public enum DatasetError: Error, Sendable, CustomStringConvertible {
    case unreadable(String)
    case badLine(String)
    case empty(String)

    public var description: String {
        switch self {
        case .unreadable(let message), .badLine(let message), .empty(let message): message
        }
    }
}
