#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The process's Linux capabilities, read from `/proc/self/status`.
public enum Privileges {
    /// `CAP_NET_ADMIN`'s bit number.
    static let netAdminBit = 12

    /// True when the effective capability set holds `CAP_NET_ADMIN` (root normally does).
    public static func hasNetAdmin(status: String? = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) -> Bool {
        guard let status else { return false }
        for line in status.split(separator: "\n") where line.hasPrefix("CapEff:") {
            let hex = line.dropFirst("CapEff:".count).trimmingWhitespace
            guard let mask = UInt64(hex, radix: 16) else { return false }
            return mask & (1 << UInt64(netAdminBit)) != 0
        }
        return false
    }

    /// The sentence printed when a command that writes routes lacks the capability.
    public static let missingNetAdmin =
        "this command changes kernel routes and needs CAP_NET_ADMIN, which this process lacks; run it as root, or give the service user the capability (systemd: AmbientCapabilities=CAP_NET_ADMIN; shell: setpriv --ambient-caps +net_admin)"
}
