import Foundation
import TestSupport

// neutron-standin --routers N [--port P] [--max-page M]
// Serves a generated cloud of N routers as Neutron's API on 127.0.0.1:P (see NeutronStandIn).
// Prints one line "listening http://127.0.0.1:P routers=N routes=R nexthops=H" once ready.

let usage = "usage: neutron-standin --routers N [--port P (default 9696, 0 = any)] [--max-page M (default 1000, 0 = none)]"
var routers: Int?
var port = 9696
var maxPage = 1000
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    func value() -> Int {
        guard let v = args.popFirst(), let n = Int(v), n >= 0 else {
            FileHandle.standardError.write(Data("neutron-standin: \(a) needs a non-negative number\n\(usage)\n".utf8))
            exit(64)
        }
        return n
    }
    switch a {
    case "--routers": routers = value()
    case "--port": port = value()
    case "--max-page": maxPage = value()
    case "-h", "--help": print(usage); exit(0)
    default:
        FileHandle.standardError.write(Data("neutron-standin: unknown argument \(a)\n\(usage)\n".utf8))
        exit(64)
    }
}
guard let routers, routers <= 60_000 else {
    FileHandle.standardError.write(Data("neutron-standin: --routers N (at most 60000) is required\n\(usage)\n".utf8))
    exit(64)
}

let standIn = NeutronStandIn(routers: routers, maxPageSize: maxPage == 0 ? nil : maxPage)
let server: ScriptedHTTPServer
do {
    server = try await standIn.start(port: port)
} catch {
    FileHandle.standardError.write(Data("neutron-standin: cannot listen on 127.0.0.1:\(port): \(error)\n".utf8))
    exit(1)
}
let cloud = standIn.cloud
FileHandle.standardOutput.write(Data(
    "listening \(server.baseURL) routers=\(cloud.routers.count) routes=\(cloud.expectedRoutes) nexthops=\(cloud.expectedNexthops)\n".utf8))
while true {
    try? await Task.sleep(for: .seconds(3600))
}
