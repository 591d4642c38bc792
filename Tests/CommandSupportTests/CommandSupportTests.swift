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
