import Foundation
import TestSupport
import Testing

/// `openapi.yaml` is valid OpenAPI, and the live server keeps to it under schemathesis's
/// generated requests. The Python tools come from the virtual environment `make test` creates.
@Suite struct OpenAPITests {
    static let root = Repository.root
    static let venv = root.appendingPathComponent(".venv/bin")
    static let spec = root.appendingPathComponent("openapi.yaml").path

    func tool(_ name: String) throws -> String {
        let path = Self.venv.appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            Issue.record("\(path) is missing: run `make test`, which installs the Python test tools")
            throw CancellationError()
        }
        return path
    }

    @Test func specIsValidOpenAPI() throws {
        let result = try run(try tool("python"), ["-c", """
            from openapi_spec_validator import validate
            from openapi_spec_validator.readers import read_from_filename
            validate(read_from_filename('\(Self.spec)')[0])
            print('valid')
            """])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "valid\n")
    }

    @Test(.timeLimit(.minutes(5)))
    func schemathesisFindsNoServerErrorAndNoResponseOutsideTheSchema() throws {
        let server = try ServerProcess()
        // Every check, including positive_data_acceptance (the server accepts what the schema
        // allows, apart from the model-dependent 422s declared in Tests/schemathesis.toml) and
        // negative_data_rejection (it refuses what the schema forbids).
        let result = try run(try tool("schemathesis"), [
            "--config-file", Self.root.appendingPathComponent("Tests/schemathesis.toml").path,
            "run", Self.spec, "--url", server.url, "--max-examples", "60",
            // One worker: CPython 3.11's ast.parse, which hypothesis calls, is not thread-safe.
            "--workers", "1",
            "--checks", "all",
            "--seed", "1",
        ])
        #expect(result.status == 0, "\(result.stdout.suffix(4000))")
        #expect(result.stdout.contains("Tested: 12"), "every operation was exercised")
        #expect(try curl(["\(server.url)/health"]).status == 200, "still serving after the run")
    }
}
