import Foundation

/// Rényi differential privacy of the sampled Gaussian mechanism, the accountant of DP-SGD: each
/// step takes every sample independently with probability q (Poisson sampling), clips each
/// sample's gradient to norm C and adds Gaussian noise of standard deviation σC to their sum.
///
/// For an order α the step's RDP is log(A_α) / (α − 1) (Mironov, Talwar and Zhang, "Rényi
/// Differential Privacy of the Sampled Gaussian Mechanism", 2019: section 3.3, A_α as a finite sum
/// for integer α and as two converging series for fractional α); steps compose by adding their RDP
/// (Mironov 2017). The (ε, δ) of a run is the best over the orders of the conversion
/// ε = RDP + log(1 − 1/α) − log(δα) / (α − 1) (Balle et al. 2020, Proposition 12; Canonne, Kamath
/// and Steinke 2020). The orders and the conversion are the ones Google's dp-accounting uses, so
/// the two agree (make test checks it against that package).
public struct PrivacyAccountant: Sendable {
    public let samplingRate: Double
    public let noiseMultiplier: Double
    public let orders: [Double]
    /// The RDP of one step at each order.
    public let stepRDP: [Double]

    /// dp-accounting's DEFAULT_RDP_ORDERS: 1.1 to 10.9 by 0.1, 11 to 63, 128, 256, 512, 1024.
    public static let defaultOrders: [Double] = {
        let fractional: [Double] = (1..<100).map { (k: Int) -> Double in 1 + Double(k) / 10 }
        let integers: [Double] = (11..<64).map { (k: Int) -> Double in Double(k) }
        return fractional + integers + [128, 256, 512, 1024]
    }()

    public init(samplingRate q: Double, noiseMultiplier sigma: Double, orders: [Double] = PrivacyAccountant.defaultOrders) {
        precondition((0...1).contains(q) && sigma >= 0, "q in [0, 1] and σ ≥ 0")
        samplingRate = q
        noiseMultiplier = sigma
        self.orders = orders
        stepRDP = orders.map { alpha in
            if q == 0 { return 0 }
            if sigma == 0 || alpha.isInfinite { return .infinity }
            if q == 1 { return alpha / (2 * sigma * sigma) }
            let logA = alpha == alpha.rounded() ? Self.logAInteger(q, sigma, Int(alpha)) : Self.logAFractional(q, sigma, alpha)
            return logA / (alpha - 1)
        }
    }

    /// ε after `steps` steps at `delta`, with the order that gives it.
    public func epsilon(steps: Int, delta: Double) -> (epsilon: Double, order: Double) {
        precondition(delta > 0 && delta < 1, "δ in (0, 1)")
        var best = (epsilon: Double.infinity, order: orders.first ?? 0)
        for (alpha, perStep) in zip(orders, stepRDP) {
            let rdp = perStep * Double(steps)
            let epsilon: Double
            if rdp < 0 || delta * delta + expm1(-rdp) > 0 {
                epsilon = 0  // bounded through the KL divergence: δ ≤ sqrt(1 − e^−RDP)
            } else if alpha > 1.01 {
                epsilon = rdp + log1p(-1 / alpha) - log(delta * alpha) / (alpha - 1)
            } else {
                epsilon = .infinity
            }
            if epsilon < best.epsilon { best = (epsilon, alpha) }
        }
        return (max(0, best.epsilon), best.order)
    }

    /// The smallest σ (to 0.1%) for which `steps` steps at sampling rate q stay within (ε, δ); nil
    /// when even σ = 10,000 does not.
    public static func noiseMultiplier(forEpsilon target: Double, delta: Double, samplingRate q: Double, steps: Int) -> Double? {
        func epsilon(_ sigma: Double) -> Double { PrivacyAccountant(samplingRate: q, noiseMultiplier: sigma).epsilon(steps: steps, delta: delta).epsilon }
        var high = 10_000.0, low = 0.01
        guard epsilon(high) <= target else { return nil }
        if epsilon(low) <= target { return low }
        while high / low > 1.001 {
            let middle = (low * high).squareRoot()
            if epsilon(middle) <= target { high = middle } else { low = middle }
        }
        return high
    }

    // MARK: log A_α

    private static func logAdd(_ a: Double, _ b: Double) -> Double {
        let (low, high) = (min(a, b), max(a, b))
        if low == -.infinity { return high }
        return log1p(exp(low - high)) + high
    }

    private static func logBinomial(_ n: Double, _ k: Double) -> Double {
        lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1)
    }

    /// log A_α = log Σ_{i=0}^{α} C(α, i) q^i (1 − q)^(α−i) e^((i² − i) / 2σ²)
    private static func logAInteger(_ q: Double, _ sigma: Double, _ alpha: Int) -> Double {
        var logA = -Double.infinity
        let log1mq = log1p(-q)
        for i in 0...alpha {
            let coefficient = logBinomial(Double(alpha), Double(i)) + Double(i) * log(q) + Double(alpha - i) * log1mq
            logA = logAdd(logA, coefficient + Double(i * i - i) / (2 * sigma * sigma))
        }
        return logA
    }

    /// The two series of section 3.3, summed until both terms fall and are below e^−30 of the total.
    private static func logAFractional(_ q: Double, _ sigma: Double, _ alpha: Double) -> Double {
        var logA0 = -Double.infinity, logA1 = -Double.infinity
        let z0 = sigma * sigma * log(1 / q - 1) + 0.5
        let log1mq = log1p(-q)
        var last0 = -Double.infinity, last1 = -Double.infinity
        for step in 0..<1000 {
            let i = Double(step), j = alpha - i
            let coefficient = logBinomial(alpha, i)
            let t0 = coefficient + i * log(q) + j * log1mq
            let t1 = coefficient + j * log(q) + i * log1mq
            let e0 = log(0.5) + logErfc((i - z0) / (2.0.squareRoot() * sigma))
            let e1 = log(0.5) + logErfc((z0 - j) / (2.0.squareRoot() * sigma))
            let s0 = t0 + (i * i - i) / (2 * sigma * sigma) + e0
            let s1 = t1 + (j * j - j) / (2 * sigma * sigma) + e1
            logA0 = logAdd(logA0, s0)
            logA1 = logAdd(logA1, s1)
            let total = logAdd(logA0, logA1)
            if s0 < last0, s1 < last1, max(s0, s1) < total - 30 { return total }
            (last0, last1) = (s0, s1)
        }
        return .infinity  // did not converge: this order is left out (its ε is infinite)
    }

    /// log erfc(x), accurate where erfc underflows (the asymptotic series at infinity).
    static func logErfc(_ x: Double) -> Double {
        let r = erfc(x)
        if r > 1e-300 { return log(r) }
        let x2 = x * x
        return -log(Double.pi) / 2 - log(x) - x2 - 0.5 / x2 + 0.625 / (x2 * x2) - 37.0 / 24.0 / (x2 * x2 * x2) + 353.0 / 64.0 / (x2 * x2 * x2 * x2)
    }
}
