import Locking
import Prometheus

/// The server's Prometheus metrics: requests by path and status, latency by path,
/// samples processed, applies and the current version.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let requestCounters = Locked([:] as [CounterKey: Counter])
    private let latency: [String: DurationHistogram]
    private let knownPaths: Set<String>
    let samples: Counter
    let applies: Counter
    let version: Gauge

    init(paths: [String]) {
        knownPaths = Set(paths)
        let buckets: [Duration] = [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
            .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(10),
        ]
        var latency: [String: DurationHistogram] = [:]
        for path in paths + ["other"] {
            latency[path] = registry.makeDurationHistogram(
                descriptor: Self.name("request_duration", unit: "seconds", "Time from a complete request to its response, by path"),
                labels: [("path", path)], buckets: buckets)
        }
        self.latency = latency
        samples = registry.makeCounter(descriptor: Self.name("samples", unit: "total", "Samples processed by /forward and /gradients"))
        applies = registry.makeCounter(descriptor: Self.name("applies", unit: "total", "Optimizer steps applied"))
        version = registry.makeGauge(descriptor: Self.name("version", unit: "", "Current parameter version"))
    }

    private static func name(_ metric: String, unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "gradserve", metricName: metric, unitName: unit, helpText: help)
    }

    /// Unknown paths share the label "other", so a scan of random URLs cannot grow the registry.
    func label(for path: Substring) -> String {
        knownPaths.contains(String(path)) ? String(path) : "other"
    }

    private struct CounterKey: Hashable {
        let path: String
        let status: Int
    }

    func record(path: String, status: Int, duration: Duration) {
        let key = CounterKey(path: path, status: status)
        let counter = requestCounters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = registry.makeCounter(
                descriptor: Self.name("requests", unit: "total", "HTTP requests answered, by path and status"),
                labels: [("path", path), ("status", String(status))])
            counters[key] = counter
            return counter
        }
        counter.increment()
        latency[path]?.record(duration)
    }
}
