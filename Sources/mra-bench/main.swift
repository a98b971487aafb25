// mra-bench: measures the Netlink module against `ip -batch` in throwaway network namespaces, and the planner
// (`mra-bench plan`, PlanBenchmark.swift, no root).
//
//   mra-bench kernel [--counts 1000,10000,100000] [--all] [--batch-bytes 65536] [--batch-messages 1024]
//
// For each count N, every variant runs in a fresh namespace with a veth uplink on 198.18.0.1/15
// (RFC 2544 benchmark range: 131,070 host addresses, enough for N distinct gateways up to 100,000)
// and programs N routes to distinct /25s of 10.0.0.0/8, each through its own gateway 198.18.0.2 + i:
//   ours-nh       N nexthop objects + N routes `nhid`, via RouteSocket.apply
//   ip-batch-nh   the same as `ip -batch` lines (`nexthop add …` / `route add … nhid …`)
//   ip-batch-via  classic `route add … via …` with `ip -batch` (skipped above 20,000 unless --all)
//   ours-via      classic routes via RouteSocket.apply (also skipped above 20,000 unless --all:
//                 the kernel's cost for N distinct classic gateways grows quadratically)
// and times a dump of the table after `ours-nh`. Needs root and iproute2. Imports Netlink and Model, RoutePlanner
// (for `plan`) and OpenStack (for `mra-bench read`, Read.swift: the daemon's read of unchanged pages, timed).
import Foundation
import Model
import Netlink
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

struct Options {
    var counts = [1000, 10_000, 100_000]
    var all = false
    var batchBytes: [Int] = [64 * 1024]
    var batchMessages = 1024
}

func usage() -> Never {
    FileHandle.standardError.write(Data("""
        usage: mra-bench kernel [--counts 1000,10000,100000] [--all] [--batch-bytes 65536[,…]] [--batch-messages 1024]
               mra-bench plan [--routers 10000] [--updates 1000] [--seed 1]
               mra-bench read --url http://127.0.0.1:PORT/ [--rounds 3]

        """.utf8))
    exit(2)
}

func parseList(_ s: String) -> [Int] {
    let v = s.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    if v.isEmpty || v.contains(where: { $0 <= 0 }) { usage() }
    return v
}

func parseOptions(_ args: [String]) -> Options {
    var o = Options()
    var i = 0
    while i < args.count {
        let a = args[i]
        func value() -> String {
            i += 1
            guard i < args.count else { usage() }
            return args[i]
        }
        switch a {
        case "--counts": o.counts = parseList(value())
        case "--all": o.all = true
        case "--batch-bytes": o.batchBytes = parseList(value())
        case "--batch-messages": o.batchMessages = parseList(value())[0]
        case "-h", "--help": usage()
        default:
            FileHandle.standardError.write(Data("unknown option \(a)\n".utf8))
            usage()
        }
        i += 1
    }
    return o
}

// MARK: - Namespace and commands

struct CommandFailed: Error, CustomStringConvertible {
    var description: String
}

@discardableResult
func run(_ args: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    guard p.terminationStatus == 0 else {
        throw CommandFailed(description: "`\(args.joined(separator: " "))` exited \(p.terminationStatus): \(text.prefix(400))")
    }
    return text
}

final class BenchNamespace {
    let name: String
    static let counter = Atomic<Int>(0)

    init() throws {
        let k = BenchNamespace.counter.wrappingAdd(1, ordering: .relaxed).newValue
        name = "mra-bench-\(getpid())-\(k)"
        try run(["ip", "netns", "add", name])
        do {
            for cmd in ["link set lo up",
                        "link add uplink0 type veth peer name uplink0p",
                        "link set uplink0p up",
                        "link set uplink0 up",
                        "addr add 198.18.0.1/15 dev uplink0"] {
                try run(["ip", "-n", name] + cmd.split(separator: " ").map(String.init))
            }
        } catch {
            _ = try? run(["ip", "netns", "del", name])
            throw error
        }
    }

    deinit { _ = try? run(["ip", "netns", "del", name]) }

    var uplinkIndex: Int32 {
        get throws {
            let s = try run(["ip", "netns", "exec", name, "cat", "/sys/class/net/uplink0/ifindex"])
            return Int32(s.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }
    }

    func batch(_ lines: [String]) throws -> Duration {
        let file = "/tmp/\(name).batch"
        try lines.joined(separator: "\n").appending("\n").write(toFile: file, atomically: false, encoding: .utf8)
        defer { unlink(file) }
        let start = ContinuousClock.now
        try run(["ip", "-n", name, "-batch", file])
        return ContinuousClock.now - start
    }
}

// MARK: - Workload

let proto: UInt8 = 200

func destination(_ i: Int) -> IPPrefix {
    IPPrefix(address: IPAddress(v4: 0x0a00_0000 | UInt32(i) << 7), length: 25)!
}

func gateway(_ i: Int) -> IPAddress { IPAddress(v4: 0xc612_0002 &+ UInt32(i)) }   // 198.18.0.2 + i

func peakRSSMiB() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_maxrss) / 1024
}

func seconds(_ d: Duration) -> Double {
    let (s, a) = d.components
    return Double(s) + Double(a) / 1e18
}

struct Row {
    var n: Int
    var variant: String
    var wall: Double
    var rss: Double?
    var note = ""
}

func check(_ results: [NetlinkError?], _ what: String) throws {
    let failed = results.compactMap { $0 }
    if !failed.isEmpty {
        throw CommandFailed(description: "\(what): \(failed.count) of \(results.count) failed, first: \(failed[0])")
    }
}

func oursNexthops(n: Int, batchBytes: Int, batchMessages: Int) throws -> (Row, Row, NetlinkStatistics) {
    let ns = try BenchNamespace()
    let oif = try ns.uplinkIndex
    let socket = try RouteSocket(namespace: ns.name)
    socket.maxBytesPerSend = batchBytes
    socket.maxMessagesPerSend = batchMessages
    var ops: [KernelOperation] = []
    ops.reserveCapacity(2 * n)
    for i in 0..<n {
        ops.append(.addNexthop(KernelNexthop(id: UInt32(i + 1), gateway: gateway(i), outputInterface: oif, proto: proto)))
    }
    for i in 0..<n {
        ops.append(.addRoute(RouteSpec(destination: destination(i), table: 254, proto: proto, target: .nexthop(UInt32(i + 1)))))
    }
    let start = ContinuousClock.now
    let results = try socket.apply(ops)
    let wall = ContinuousClock.now - start
    try check(results, "ours-nh")
    let stats = socket.statistics

    let dumpStart = ContinuousClock.now
    let routes = try socket.routes(family: .v4, table: 254)
    let dumpWall = ContinuousClock.now - dumpStart
    let owned = routes.filter(Ownership(proto: proto, table: 254).owns(route:)).count
    guard owned == n else { throw CommandFailed(description: "dump returned \(owned) owned routes, expected \(n)") }
    return (Row(n: n, variant: "ours-nh (\(batchBytes / 1024) KiB/send)", wall: seconds(wall), rss: peakRSSMiB(),
                note: "\(stats.sendCalls) sends"),
            Row(n: n, variant: "ours dump \(routes.count) routes", wall: seconds(dumpWall), rss: peakRSSMiB()),
            stats)
}

func oursClassic(n: Int) throws -> Row {
    let ns = try BenchNamespace()
    let socket = try RouteSocket(namespace: ns.name)
    let ops = (0..<n).map { i in
        KernelOperation.addRoute(RouteSpec(destination: destination(i), table: 254, proto: proto,
                                           target: .gateway(gateway(i), outputInterface: nil)))
    }
    let start = ContinuousClock.now
    let results = try socket.apply(ops)
    let wall = ContinuousClock.now - start
    try check(results, "ours-via")
    return Row(n: n, variant: "ours-via", wall: seconds(wall), rss: peakRSSMiB())
}

func ipBatchNexthops(n: Int) throws -> Row {
    let ns = try BenchNamespace()
    var lines: [String] = []
    lines.reserveCapacity(2 * n)
    for i in 0..<n { lines.append("nexthop add id \(i + 1) via \(gateway(i)) dev uplink0 proto \(proto)") }
    for i in 0..<n { lines.append("route add \(destination(i)) nhid \(i + 1) proto \(proto)") }
    return Row(n: n, variant: "ip-batch-nh", wall: seconds(try ns.batch(lines)), rss: nil)
}

func ipBatchClassic(n: Int) throws -> Row {
    let ns = try BenchNamespace()
    let lines = (0..<n).map { i in "route add \(destination(i)) via \(gateway(i)) proto \(proto)" }
    return Row(n: n, variant: "ip-batch-via", wall: seconds(try ns.batch(lines)), rss: nil)
}

func kernelBenchmark(_ o: Options) throws {
    guard getuid() == 0 else { throw CommandFailed(description: "mra-bench kernel needs root (network namespaces)") }
    var rows: [Row] = []
    for n in o.counts {
        guard n <= 131_000 else { throw CommandFailed(description: "at most 131000 routes fit the 198.18.0.0/15 gateways") }
        let reference = try ipBatchNexthops(n: n)
        var nRows: [Row] = [reference]
        for bytes in o.batchBytes {
            let (write, dump, _) = try oursNexthops(n: n, batchBytes: bytes, batchMessages: o.batchMessages)
            nRows += [write, dump]
        }
        if n <= 20_000 || o.all {
            nRows.append(try ipBatchClassic(n: n))
        } else {
            nRows.append(Row(n: n, variant: "ip-batch-via", wall: .nan, rss: nil, note: "skipped (quadratic; --all)"))
        }
        if n <= 20_000 || o.all {
            nRows.append(try oursClassic(n: n))
        } else {
            nRows.append(Row(n: n, variant: "ours-via", wall: .nan, rss: nil, note: "skipped (kernel cost is quadratic too; --all)"))
        }
        for var r in nRows {
            if !r.variant.hasPrefix("ours dump"), r.wall.isFinite, reference.wall > 0 {
                r.note = String(format: "%.2fx", r.wall / reference.wall) + (r.note.isEmpty ? "" : ", " + r.note)
            }
            rows.append(r)
            printRow(r)
        }
    }
    print("")
    print("| N | variant | wall (s) | vs ip-batch-nh / notes | peak RSS (MiB) |")
    print("|---:|---|---:|---|---:|")
    for r in rows {
        let wall = r.wall.isFinite ? String(format: "%.3f", r.wall) : "-"
        let rss = r.rss.map { String(format: "%.1f", $0) } ?? "(ip)"
        print("| \(r.n) | \(r.variant) | \(wall) | \(r.note) | \(rss) |")
    }
}

func printRow(_ r: Row) {
    let wall = r.wall.isFinite ? String(format: "%8.3f s", r.wall) : "       -  "
    let rss = r.rss.map { String(format: "%7.1f MiB", $0) } ?? "       (ip)"
    let name = r.variant.padding(toLength: 30, withPad: " ", startingAt: 0)
    FileHandle.standardError.write(Data("N=\(r.n)\t\(name) \(wall)  \(rss)  \(r.note)\n".utf8))
}

let args = Array(CommandLine.arguments.dropFirst())
guard let sub = args.first else { usage() }
switch sub {
case "read":
    do {
        try await readBenchmark(Array(args.dropFirst()))
    } catch {
        FileHandle.standardError.write(Data("mra-bench: \(error)\n".utf8))
        exit(1)
    }
case "kernel":
    do {
        try kernelBenchmark(parseOptions(Array(args.dropFirst())))
    } catch {
        FileHandle.standardError.write(Data("mra-bench: \(error)\n".utf8))
        exit(1)
    }
case "plan":
    planBenchmark(parsePlanOptions(Array(args.dropFirst())))
default:
    usage()
}
