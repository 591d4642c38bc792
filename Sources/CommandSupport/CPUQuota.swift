import Foundation

/// The CPU share a cgroup quota gives this process (a container's or Kubernetes pod's CPU limit,
/// or `cpu.cfs_quota_us` set by hand), in cores; nil when there is none or it cannot be read.
///
/// A server uses it to choose defaults: on a fraction of a core, time spent polling for the next
/// request comes out of the quota the work needs.
public enum CPUQuota {
    /// The quota of this process's cgroup, read from `/proc/self/cgroup` and the cgroup file
    /// system under `root` (cgroup v2's `cpu.max`, or v1's `cpu.cfs_quota_us` and `cpu.cfs_period_us`).
    public static func cores(root: String = "/sys/fs/cgroup", membership: String? = nil) -> Double? {
        guard let membership = membership ?? (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) else { return nil }
        for (controllers, path) in groups(membership) {
            if controllers == [""] {
                // v2: one hierarchy; cpu.max is "QUOTA PERIOD" or "max PERIOD". A container without
                // its own cgroup namespace lists the host's path, but mounts its own group at the root.
                if let text = read("\(root)\(path)/cpu.max") ?? read("\(root)/cpu.max"), let cores = v2(text) { return cores }
            } else if controllers.contains("cpu") {
                for mount in ["cpu", "cpu,cpuacct", "cpuacct,cpu"] {
                    let folder = "\(root)/\(mount)\(path == "/" ? "" : path)"
                    if let quota = read("\(folder)/cpu.cfs_quota_us"), let period = read("\(folder)/cpu.cfs_period_us") {
                        return v1(quota: quota, period: period)
                    }
                }
            }
        }
        return nil
    }

    /// The lines of `/proc/self/cgroup`, "ID:CONTROLLERS:PATH", as controllers and path.
    static func groups(_ membership: String) -> [(controllers: [String], path: String)] {
        membership.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { return nil }
            return (fields[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init), String(fields[2]))
        }
    }

    /// "25000 100000" is a quarter of a core; "max 100000" is no limit.
    static func v2(_ text: String) -> Double? {
        let fields = text.split(whereSeparator: \.isWhitespace)
        return fields.count == 2 ? share(quota: fields[0], period: fields[1]) : nil
    }

    /// A quota of -1 is no limit.
    static func v1(quota: String, period: String) -> Double? {
        share(quota: quota.trimmingCharacters(in: .whitespacesAndNewlines), period: period.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Quota over period, both positive numbers; nil for anything else (no limit).
    private static func share(quota: some StringProtocol, period: some StringProtocol) -> Double? {
        guard let quota = Double(String(quota)), let period = Double(String(period)), quota > 0, period > 0 else { return nil }
        return quota / period
    }

    private static func read(_ path: String) -> String? {
        try? String(contentsOfFile: path, encoding: .utf8)
    }
}
