import Foundation
import Model
import TestSupport
import Testing
@testable import Client

/// DP-SGD in the client: the noise, the sampling, and whole private runs against real servers.
@Suite struct PrivateTrainingTests {
    /// Zero gradients over many steps: the applied mean is the noise alone. Each coordinate is
    /// N(0, s²) with s = σC / B; over n = 200 steps x 500 coordinates = 100,000 draws the sample
    /// mean has standard error s/√n and the sample deviation s/√(2n); both are expected within 5
    /// standard errors (a false alarm about once in 3.5 million runs).
    @Test func theNoiseHasMeanZeroAndDeviationSigmaCOverB() {
        let privacy = Trainer.Privacy(clipNorm: 2, noiseMultiplier: 1.5, delta: 1e-5)
        var random = PrivacyRandom(seed: nil)
        var values: [Double] = []
        for _ in 0..<200 { values += privacy.noisyMean([Double](repeating: 0, count: 500), expectedBatch: 64, random: &random).map(Double.init) }
        let n = Double(values.count), s = 1.5 * 2 / 64
        let mean = values.reduce(0, +) / n
        let deviation = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (n - 1)).squareRoot()
        #expect(abs(mean) <= 5 * s / n.squareRoot(), "mean \(mean)")
        #expect(abs(deviation - s) <= 5 * s / (2 * n).squareRoot(), "deviation \(deviation) against \(s)")
    }

    @Test func noiseDiffersBetweenRunsUnlessSeeded() {
        let privacy = Trainer.Privacy(clipNorm: 1, noiseMultiplier: 1, delta: 1e-5)
        func draw(_ seed: UInt64?) -> [Float] {
            var random = PrivacyRandom(seed: seed)
            return privacy.noisyMean([Double](repeating: 0, count: 16), expectedBatch: 1, random: &random)
        }
        #expect(draw(nil) != draw(nil))
        #expect(draw(7) == draw(7))
        #expect(draw(7) != draw(8))
    }

    /// Batch sizes of Poisson sampling are Binomial(N, q): mean Nq, variance Nq(1 − q). Over 2,000
    /// batches the mean is expected within 5 standard errors, the variance within 15% (its
    /// relative standard error here is about 3.3%).
    @Test func poissonBatchSizesAreBinomial() {
        var random = PrivacyRandom(seed: nil)
        let n = 1000, q = 0.03
        let sizes = (0..<2000).map { _ in Double(random.poissonSample(count: n, rate: q).count) }
        let mean = sizes.reduce(0, +) / 2000, variance = sizes.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 1999
        let expectedVariance = Double(n) * q * (1 - q)
        #expect(abs(mean - Double(n) * q) <= 5 * (expectedVariance / 2000).squareRoot(), "mean \(mean)")
        #expect(abs(variance / expectedVariance - 1) <= 0.15, "variance \(variance) against \(expectedVariance)")
        // Indices are distinct and in order, each drawn at most once.
        let one = random.poissonSample(count: n, rate: 0.5)
        #expect(one == one.sorted() && Set(one).count == one.count)
    }

    /// Whole private runs over HTTP: the same seed repeats a run bit for bit, including steps with an
    /// empty batch (q = 1/50 over 50 samples leaves about a third of the batches empty); the ε
    /// printed at the end is the accountant's for the steps taken; a run stops before exceeding
    /// --dp-max-epsilon.
    @Test func seededPrivateRunsRepeatAndStopAtTheBudget() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("private-\(UUID()).csv").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try (0..<50).map { i in
            let x = [Double(i % 5) / 5, Double(i % 7) / 7, Double(i % 3) / 3]
            return (x + [x.map { $0 * $0 }.reduce(0, +).squareRoot()]).map { String($0) }.joined(separator: ",")
        }.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let gradctl = ServerProcess.binary("gradctl").path
        func train(_ extra: [String]) throws -> (output: String, state: String) {
            let server = try ServerProcess(["--layers", "3,4", "--lr", "0.05"])
            let result = try run(gradctl, ["train", "--server", server.url, "--data", file, "--batch", "1", "--epochs", "2",
                                           "--dp-clip", "0.5", "--dp-noise-multiplier", "1.2", "--dp-delta", "1e-3"] + extra)
            #expect(result.status == 0, "\(result.stderr)")
            return (result.stdout, try curl(["-s", "\(server.url)/health"]).body)
        }
        let first = try train(["--dp-seed", "5", "--reduce-sum"]), again = try train(["--dp-seed", "5"])
        #expect(first.state == again.state, "the same seed: the same samples and noise, per-sample answers or sums")
        #expect(first.state.hasPrefix(#"{"status":"ok","version":100,"#))
        #expect(first.output.contains("warning: --dp-seed fixes the sampling and the noise"))
        let epsilon = PrivacyAccountant(samplingRate: 1.0 / 50, noiseMultiplier: 1.2).epsilon(steps: 100, delta: 1e-3).epsilon
        #expect(first.output.contains(String(format: "ε = %.4f", epsilon)), "\(first.output)")
        #expect(try train([]).state != first.state, "without a seed the noise differs")

        // The budget: stop before the step that would cross it, with the steps taken so far applied.
        let budget = PrivacyAccountant(samplingRate: 1.0 / 50, noiseMultiplier: 1.2).epsilon(steps: 60, delta: 1e-3).epsilon
        let stopped = try train(["--dp-max-epsilon", String(budget + 1e-9)])
        #expect(stopped.output.contains("stopped before step 61: it would spend ε"), "\(stopped.output)")
        #expect(stopped.state.hasPrefix(#"{"status":"ok","version":60,"#), "\(stopped.state)")
    }

    @Test func optionsThatCannotGiveAPrivateRunAreRefused() throws {
        let gradctl = ServerProcess.binary("gradctl").path
        let base = ["train", "--synthetic", "100"]
        for (arguments, message) in [
            (["--dp-clip=0", "--dp-delta", "1e-5", "--dp-noise-multiplier", "1"], "--dp-clip must be a finite number above 0, got 0.0"),
            (["--dp-clip", "1", "--dp-delta", "1", "--dp-noise-multiplier", "1"], "--dp-delta must be in (0, 1), got 1.0"),
            (["--dp-clip", "1", "--dp-noise-multiplier", "1"], "private training needs --dp-clip C and --dp-delta DELTA"),
            (["--dp-clip", "1", "--dp-delta", "1e-5"], "private training needs exactly one of --dp-noise-multiplier SIGMA and --dp-target-epsilon E"),
            (["--dp-clip", "1", "--dp-delta", "1e-5", "--dp-noise-multiplier", "1", "--dp-target-epsilon", "2"], "exactly one of"),
        ] {
            let result = try run(gradctl, base + arguments)
            #expect(result.status == 64, "\(arguments)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        // A target no σ can reach is known once the data is: before any step.
        let server = try ServerProcess(["--layers", "3,3"])
        let unreachable = try run(gradctl, base + ["--server", server.url, "--batch", "100", "--epochs", "1000",
                                                   "--dp-clip", "1", "--dp-delta", "1e-9", "--dp-target-epsilon", "0.0001"])
        #expect(unreachable.status != 0)
        #expect(unreachable.stderr.contains("no noise multiplier up to 10,000 keeps 1000 steps at q = 1.0 within"), "\(unreachable.stderr)")
        #expect(try curl(["-s", "\(server.url)/health"]).body.hasPrefix(#"{"status":"ok","version":0,"#))
    }
}
