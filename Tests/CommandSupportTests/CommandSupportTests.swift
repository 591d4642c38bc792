import Foundation
import Testing
@testable import CommandSupport

@Suite struct CommandSupportTests {
    @Test func theTokenComesFromTheFileElseTheEnvironmentTrimmed() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID())").path
        try "  from-file\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        #expect(try BearerToken.load(file: file, environment: ["GRADSERVE_TOKEN": "from-env"]) == "from-file")
        #expect(try BearerToken.load(file: nil, environment: ["GRADSERVE_TOKEN": " from-env \n"]) == "from-env")
        #expect(try BearerToken.load(file: nil, environment: [:]) == nil)
    }

    @Test(arguments: ["", "\n", "two words", "tab\tinside", "caf\u{e9}"])
    func anUnusableTokenIsRefused(token: String) {
        #expect(throws: (any Error).self) { try BearerToken.load(file: nil, environment: ["GRADSERVE_TOKEN": token]) }
    }

    @Test func aMissingTokenFileIsNamed() {
        #expect(throws: (any Error).self) { try BearerToken.load(file: "/nonexistent/token", environment: [:]) }
    }

    @Test func sizeListsAreParsedOrRefusedWithTheOptionNamed() throws {
        #expect(try SizeList.parse("3,3,3", option: "--layers") == [3, 3, 3])
        #expect(try SizeList.parse("64, 64", option: "--hidden") == [64, 64])
        for bad in ["", "3,,3", "3,x", "0,3", "-1,3"] {
            #expect(throws: (any Error).self, "\(bad)") { try SizeList.parse(bad, option: "--layers") }
        }
    }
}

/// The CPU quota is read the way a container shows it, from a cgroup tree built here.
@Suite struct CPUQuotaTests {
    func tree(_ files: [String: String]) throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cgroup-\(UUID())").path
        for (path, text) in files {
            let file = root + path
            try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: file, atomically: true, encoding: .utf8)
        }
        return root
    }

    @Test func cgroupV1QuotaOverPeriodIsTheShareOfACore() throws {
        let membership = "9:name=systemd:/\n4:memory:/x\n1:cpu:/bench/h1\n0::/\n"
        let root = try tree(["/cpu/bench/h1/cpu.cfs_quota_us": "25000\n", "/cpu/bench/h1/cpu.cfs_period_us": "100000\n",
                             "/cpu/open/cpu.cfs_quota_us": "-1\n", "/cpu/open/cpu.cfs_period_us": "100000\n",
                             "/cpu,cpuacct/both/cpu.cfs_quota_us": "150000\n", "/cpu,cpuacct/both/cpu.cfs_period_us": "100000\n"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(CPUQuota.cores(root: root, membership: membership) == 0.25)
        #expect(CPUQuota.cores(root: root, membership: "1:cpu:/open\n") == nil)
        #expect(CPUQuota.cores(root: root, membership: "2:cpu,cpuacct:/both\n") == 1.5)
        #expect(CPUQuota.cores(root: root, membership: "1:cpu:/missing\n") == nil)
    }

    @Test func cgroupV2CpuMaxGivesTheShareOrNoLimit() throws {
        let root = try tree(["/pod/cpu.max": "50000 100000\n", "/free/cpu.max": "max 100000\n"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(CPUQuota.cores(root: root, membership: "0::/pod\n") == 0.5)
        #expect(CPUQuota.cores(root: root, membership: "0::/free\n") == nil)
        #expect(CPUQuota.cores(root: root, membership: "0::/none\n") == nil)
        #expect(CPUQuota.cores(root: root, membership: "garbage") == nil)
    }
}

/// `LargeBlocks.keep`: blocks of megabytes freed by a step are reused by the next, instead of being
/// given back to the kernel and faulted in again page by page.
@Suite struct LargeBlocksTests {
    /// Minor page faults this thread has taken so far.
    static func faults() -> Int {
        var usage = rusage()
        getrusage(__rusage_who_t(1), &usage)  // RUSAGE_THREAD, which Glibc's module leaves out (it needs _GNU_SOURCE)
        return usage.ru_minflt
    }

    /// Faults taken to allocate three 6 MiB blocks at once, write them, and free them (one step's
    /// worth of large buffers), twice, on a thread of its own.
    static func twoSteps() -> (first: Int, second: Int) {
        @Sendable func step() -> Int {
            let before = faults()
            var blocks = (0..<3).map { _ in [UInt8](repeating: 1, count: 6 << 20) }
            precondition(blocks.allSatisfy { $0[$0.count - 1] == 1 })
            blocks = []
            return faults() - before
        }
        final class Result: @unchecked Sendable { var faults = (first: 0, second: 0) }  // written, then signalled
        let result = Result(), done = DispatchSemaphore(value: 0)
        Thread {
            result.faults = (step(), step())
            done.signal()
        }.start()
        done.wait()
        return result.faults
    }

    @Test func aStepsFreedBlocksServeTheNextWithoutPageFaults() {
        LargeBlocks.keep(oneArena: false)
        // 18 MiB is 4,608 pages. With glibc's defaults each block of the first step is mapped and
        // unmapped, which raises the threshold to 6 MiB and the trim threshold to 12 MiB; the second
        // step's blocks then come from the heap and its 18 MiB free top is given back: it faults all
        // its pages in again (checked by leaving out `keep`). Kept, they are faulted in once.
        // A new thread has an arena of its own while the process has fewer than 8 per core; other
        // tests' threads may still share it, so three tries are allowed. Without `keep` all fail.
        let tries = (0..<3).map { _ in Self.twoSteps() }
        #expect(tries.contains { $0.second < 1_000 }, "faults of the second step, for blocks freed just before: \(tries)")
    }

    /// The count the test above relies on: writing 256 fresh pages faults each in.
    @Test func faultsAreCountedPerPage() throws {
        let size = 256 * 4096
        let pages = try #require(mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        try #require(pages != UnsafeMutableRawPointer(bitPattern: -1), "mmap failed: errno \(errno)")
        defer { munmap(pages, size) }
        let before = Self.faults()
        for page in 0..<256 { pages.storeBytes(of: 1, toByteOffset: page * 4096, as: UInt8.self) }
        #expect(Self.faults() - before >= 256)
    }
}
