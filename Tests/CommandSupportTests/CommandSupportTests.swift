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
