// mra-bench read: the daemon's periodic read through NeutronClient.readSnapshotIfChanged, timed.
//
//   mra-bench read --url http://127.0.0.1:PORT/ [--rounds 3]
//
// Round 1 is a full read (decoded); the following rounds find every page byte-identical and return nil
// without decoding (the daemon then skips planning too). Prints one Markdown row per round: whether the
// snapshot changed, the process's CPU time (user + system) and wall time for the read, the requests.
import Foundation
import Logging
import OpenStack
#if canImport(Glibc)
import Glibc
#endif

func cpuSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
}

func readBenchmark(_ args: [String]) async throws {
    var url: String?
    var rounds = 3
    var i = 0
    while i < args.count {
        switch args[i] {
        case "--url": i += 1; url = i < args.count ? args[i] : nil
        case "--rounds": i += 1; rounds = i < args.count ? Int(args[i]) ?? 3 : 3
        default: usage()
        }
        i += 1
    }
    guard let url else { usage() }
    var config = CloudConfig(authType: .none)
    config.networkEndpointOverride = url
    var logger = Logger(label: "mra-bench")
    logger.logLevel = .warning
    let client = try NeutronClient(config: config, logger: logger)
    print("| round | result | CPU ms | wall ms | requests | routers | peak RSS MiB |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    var routers = 0
    for round in 1...max(1, rounds) {
        let before = client.statistics.requests
        let cpu = cpuSeconds()
        let start = ContinuousClock.now
        let snapshot = try await client.readSnapshotIfChanged()
        let wall = ContinuousClock.now - start
        let used = cpuSeconds() - cpu
        if let snapshot { routers = snapshot.routers.count }
        let ms = Double(wall.components.seconds) * 1000 + Double(wall.components.attoseconds) / 1e15
        print("| \(round) | \(snapshot == nil ? "unchanged (nil, nothing decoded)" : "snapshot") | \(String(format: "%.0f", used * 1000)) | "
              + "\(String(format: "%.0f", ms)) | \(client.statistics.requests - before) | \(routers) | \(String(format: "%.1f", peakRSSMiB())) |")
    }
    try await client.shutdown()
}
