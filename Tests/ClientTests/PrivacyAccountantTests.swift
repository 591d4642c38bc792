import Client
import Foundation
import TestSupport
import Testing

/// The accountant against Google's dp-accounting (PyPI, in the test venv; Tests/Python/dp_epsilon.py).
@Suite struct PrivacyAccountantTests {
    static let root = Repository.root

    /// A grid of sampling rates, noise multipliers, steps and deltas, with the MNIST runs of Abadi et
    /// al. (2016): q = 600/60,000, σ = 2, 4 and 8, δ = 1e-5, over 100 epochs (10,000 steps).
    static let grid: [[Double]] = {
        var points: [[Double]] = []
        for q in [0.001, 0.01, 0.05, 0.27] {
            for sigma in [0.7, 1.1, 2, 4, 8] {
                for steps in [1.0, 100, 10_000] { points.append([q, sigma, steps, q < 0.1 ? 1e-5 : 1e-7]) }
            }
        }
        return points
    }()

    @Test func epsilonAgreesWithDPAccountingWithinOnePercent() throws {
        let python = Self.root.appendingPathComponent(".venv/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "run make test, which creates .venv")
        let input = "[" + Self.grid.map { "[\($0[0]), \($0[1]), \(Int($0[2])), \($0[3])]" }.joined(separator: ", ") + "]"
        let result = try run(python, [Self.root.appendingPathComponent("Tests/Python/dp_epsilon.py").path], stdin: input)
        try #require(result.status == 0, "\(result.stderr)")
        let expected = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [Double])
        #expect(expected.count == Self.grid.count)
        for (point, reference) in zip(Self.grid, expected) {
            let epsilon = PrivacyAccountant(samplingRate: point[0], noiseMultiplier: point[1]).epsilon(steps: Int(point[2]), delta: point[3]).epsilon
            #expect(abs(epsilon - reference) <= 0.01 * reference + 1e-12, "q \(point[0]), σ \(point[1]), \(Int(point[2])) steps, δ \(point[3]): \(epsilon) vs dp-accounting's \(reference)")
        }
    }

    @Test func theNoiseForATargetEpsilonIsTheSmallestThatReachesIt() throws {
        let sigma = try #require(PrivacyAccountant.noiseMultiplier(forEpsilon: 2, delta: 1e-5, samplingRate: 0.01, steps: 5000))
        #expect(PrivacyAccountant(samplingRate: 0.01, noiseMultiplier: sigma).epsilon(steps: 5000, delta: 1e-5).epsilon <= 2)
        #expect(PrivacyAccountant(samplingRate: 0.01, noiseMultiplier: sigma / 1.002).epsilon(steps: 5000, delta: 1e-5).epsilon > 2)
        // Every step sampled (q = 1) a million times within ε = 0.01: no σ up to 10,000 does it.
        #expect(PrivacyAccountant.noiseMultiplier(forEpsilon: 0.01, delta: 1e-9, samplingRate: 1, steps: 1_000_000) == nil)
    }
}
