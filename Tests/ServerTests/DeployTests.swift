import Foundation
import TestSupport
import Testing

/// `deploy/`: the Kubernetes manifests validate against the Kubernetes schemas, the training Job
/// names every replica the StatefulSet makes, and every flag they pass is one the binaries have.
/// (No container engine or cluster runs here: the image build itself is not exercised.)
@Suite struct DeployTests {
    static let root = Repository.root
    static let manifests = ["service.yaml", "statefulset.yaml", "train-job.yaml"].map { root.appendingPathComponent("deploy/k8s/\($0)").path }
    static let bin = root.appendingPathComponent(".venv/bin")

    func tool(_ name: String) throws -> String {
        let path = Self.bin.appendingPathComponent(name).path
        try #require(FileManager.default.isExecutableFile(atPath: path), "\(path) is missing: run make test, which installs the Python test tools")
        return path
    }

    @Test func everyManifestValidatesStrictlyAgainstTheKubernetesSchemas() throws {
        let result = try run(try tool("kubernetes-validate"), ["--strict"] + Self.manifests)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.components(separatedBy: " passed for resource ").count - 1 == 4, "\(result.stdout)")
    }

    /// The Job's --server list is exactly the StatefulSet's replicas by their stable names.
    @Test func theJobTrainsOnEveryReplicaByName() throws {
        let script = """
            import sys, yaml
            docs = [d for f in sys.argv[1:] for d in yaml.safe_load_all(open(f))]
            sts = next(d for d in docs if d['kind'] == 'StatefulSet')
            svc = next(d for d in docs if d['kind'] == 'Service')
            job = next(d for d in docs if d['kind'] == 'Job')
            port = svc['spec']['ports'][0]['port']
            expected = ['http://%s-%d.%s:%d' % (sts['metadata']['name'], i, sts['spec']['serviceName'], port) for i in range(sts['spec']['replicas'])]
            args = job['spec']['template']['spec']['containers'][0]['args']
            servers = [a.split('=', 1)[1] for a in args if a.startswith('--server=')]
            assert svc['metadata']['name'] == sts['spec']['serviceName'], 'the Service is not the StatefulSet serviceName'
            assert servers == expected, 'job servers %s, statefulset makes %s' % (servers, expected)
            print(len(servers))
            """
        let result = try run(try tool("python"), ["-c", script] + Self.manifests)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "3\n")
    }

    /// A renamed option would leave a manifest passing a flag the binary refuses.
    @Test func everyFlagInTheManifestsIsAnOptionOfTheBinary() throws {
        let text = try Self.manifests.map { try String(contentsOfFile: $0, encoding: .utf8) }.joined()
        let flags = Set(text.matches(of: /- (--[a-z-]+)=/).map { String($0.1) })
        #expect(flags.count >= 15)
        let serve = try run(ServerProcess.binary("gradserve").path, ["--help"]).stdout
        let train = try run(ServerProcess.binary("gradctl").path, ["train", "--help"]).stdout
        for flag in flags {
            #expect(serve.contains(flag + " ") || train.contains(flag + " "), "\(flag) is an option of neither gradserve nor gradctl train")
        }
    }
}
