#if canImport(Glibc)
import Glibc
#endif
import Foundation
#if FUZZING
import CFuzzer
#endif

/// The entry point of a fuzz executable. Built with `-D FUZZING -sanitize=fuzzer` (`make fuzz`)
/// it hands `check` to libFuzzer with the command line's options; otherwise it runs `check`
/// once on each file named on the command line, to replay a corpus or a crash.
public enum FuzzDriver {
    nonisolated(unsafe) private static var check: ((UnsafeRawBufferPointer) -> Void)?

    public static func main(_ check: @escaping (UnsafeRawBufferPointer) -> Void) -> Never {
        #if FUZZING
        Self.check = check
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            FuzzDriver.check?(UnsafeRawBufferPointer(start: data, count: size))
            return 0
        })
        #else
        for path in CommandLine.arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("cannot read \(path)")
                exit(1)
            }
            data.withUnsafeBytes(check)
        }
        print("replayed \(CommandLine.arguments.count - 1) input(s)")
        exit(0)
        #endif
    }
}
