import Foundation
import Model

extension Trainer {
    /// DP-SGD (Abadi et al., 2016) over the service: every step takes each training sample
    /// independently with probability q = batch / N (Poisson sampling, as the accountant
    /// assumes), the servers clip each sample's gradient to `clipNorm` and sum them, Gaussian
    /// noise of standard deviation σ·C is added once here, and the sum is divided by the expected
    /// batch size q·N before it is applied on every replica.
    public struct Privacy: Sendable {
        public var clipNorm: Float
        public var noiseMultiplier: Double
        public var delta: Double
        /// Stop, with a message, before a step that would take ε above this.
        public var maxEpsilon: Double?
        /// Testing only: sampling and noise from this seed instead of the system's
        /// cryptographically secure generator, so runs repeat. A seeded run is not private.
        public var seed: UInt64?

        public init(clipNorm: Float, noiseMultiplier: Double, delta: Double, maxEpsilon: Double? = nil, seed: UInt64? = nil) {
            self.clipNorm = clipNorm
            self.noiseMultiplier = noiseMultiplier
            self.delta = delta
            self.maxEpsilon = maxEpsilon
            self.seed = seed
        }

        /// (Σ clipped gradients + noise) / (q N): noise N(0, (σC)²) on every coordinate, drawn once per
        /// step, and the division by the expected batch size B = q N, not the batch's own size
        /// (which would reveal it).
        func noisyMean(_ sum: [Double], expectedBatch: Int, random: inout PrivacyRandom) -> [Float] {
            let deviation = noiseMultiplier * Double(clipNorm), divisor = Double(expectedBatch)
            return sum.map { Float(($0 + deviation * random.gaussian()) / divisor) }
        }

        /// Options that cannot give a private run are refused before anything starts.
        public func validate() throws(TrainingError) {
            guard clipNorm.isFinite, clipNorm > 0 else { throw .invalidOption("the clipping norm C must be a finite number above 0, got \(clipNorm)") }
            guard noiseMultiplier.isFinite, noiseMultiplier > 0 else {
                throw .invalidOption("the noise multiplier σ must be a finite number above 0, got \(noiseMultiplier)")
            }
            guard delta > 0, delta < 1 else { throw .invalidOption("δ must be in (0, 1), got \(delta)") }
            if let maxEpsilon, !(maxEpsilon > 0) { throw .invalidOption("the largest ε must be above 0, got \(maxEpsilon)") }
        }
    }
}

/// The randomness of private training: the system's generator (getrandom, cryptographically
/// secure), or for tests a seeded one.
struct PrivacyRandom {
    private var system = SystemRandomNumberGenerator()
    private var seeded: SeededGenerator?

    init(seed: UInt64?) {
        seeded = seed.map(SeededGenerator.init)
    }

    mutating func next() -> UInt64 {
        if seeded != nil { return seeded!.next() }
        return system.next()
    }

    /// Uniform in (0, 1]: 53 random bits, never 0.
    mutating func uniform() -> Double {
        (Double(next() >> 11) + 1) * 0x1p-53
    }

    /// Standard normal (Box–Muller). Floating-point Gaussian sampling is the textbook method and
    /// what Opacus and TensorFlow Privacy use; it is not the discrete Gaussian that closes the
    /// floating-point attacks of Mironov (2012).
    mutating func gaussian() -> Double {
        (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform())
    }

    /// Each index of `0..<count` independently with probability `q`.
    mutating func poissonSample(count: Int, rate q: Double) -> [Int] {
        (0..<count).filter { _ in uniform() <= q && q > 0 }
    }
}
