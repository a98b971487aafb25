import Foundation
import TestSupport

// neutron-standin (--routers N | --snapshot FILE) [--port P] [--max-page M]
//                 [--notify-url amqp://USER@HOST:PORT/VHOST --notify-password-file FILE [--notify-exchange neutron]]
// Serves a generated cloud of N routers, or a snapshot file (read again whenever it changes), as
// Neutron's API on 127.0.0.1:P (see TestSupport's NeutronStandIn, also for its /_control/ endpoints).
// With --notify-url, `POST /_control/change` publishes Neutron's notifications of each change to that
// RabbitMQ (exchange `neutron`, routing key `notifications.info`, oslo messagingv2 envelopes); the broker
// must answer at start. Prints one line "listening http://127.0.0.1:P …" once ready.

let usage = """
    usage: neutron-standin (--routers N | --snapshot FILE) [--port P (default 9696, 0 = any)] [--max-page M (default 1000, 0 = none)]
                           [--notify-url amqp://USER@HOST:PORT/VHOST --notify-password-file FILE [--notify-exchange NAME (default neutron)]]
    """
func fail(_ message: String, _ status: Int32 = 64) -> Never {
    FileHandle.standardError.write(Data("neutron-standin: \(message)\n".utf8))
    exit(status)
}

var routers: Int?
var snapshotPath: String?
var port = 9696
var maxPage = 1000
var notifyURL: String?
var notifyPasswordFile: String?
var notifyExchange = "neutron"
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    func value() -> Int {
        guard let v = args.popFirst(), let n = Int(v), n >= 0 else { fail("\(a) needs a non-negative number\n\(usage)") }
        return n
    }
    switch a {
    case "--routers": routers = value()
    case "--snapshot":
        guard let v = args.popFirst() else { fail("--snapshot needs a file\n\(usage)") }
        snapshotPath = v
    case "--port": port = value()
    case "--max-page": maxPage = value()
    case "--notify-url", "--notify-password-file", "--notify-exchange":
        guard let v = args.popFirst(), !v.isEmpty else { fail("\(a) needs a value\n\(usage)") }
        if a == "--notify-url" { notifyURL = v } else if a == "--notify-exchange" { notifyExchange = v } else { notifyPasswordFile = v }
    case "-h", "--help": print(usage); exit(0)
    default: fail("unknown argument \(a)\n\(usage)")
    }
}

let standIn: NeutronStandIn
switch (routers, snapshotPath) {
case (let n?, nil):
    guard n <= StandInCloud.maxRouters else { fail("--routers is at most \(StandInCloud.maxRouters)\n\(usage)") }
    standIn = NeutronStandIn(routers: n, maxPageSize: maxPage == 0 ? nil : maxPage)
case (nil, let path?):
    guard FileManager.default.isReadableFile(atPath: path) else { fail("cannot read the snapshot file \(path)", 66) }
    standIn = NeutronStandIn(snapshotFile: path, maxPageSize: maxPage == 0 ? nil : maxPage)
default:
    fail("give either --routers N or --snapshot FILE\n\(usage)")
}

var notifier: AMQPNotifier?
if let url = notifyURL {
    guard let file = notifyPasswordFile else { fail("--notify-url needs --notify-password-file\n\(usage)") }
    guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { fail("cannot read the password file \(file)", 66) }
    let password = String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
    do {
        let n = try AMQPNotifier(url: url, password: password, exchange: notifyExchange)
        try await n.connect()
        notifier = n
    } catch {
        fail("cannot publish to \(url) (exchange \(notifyExchange)): \(error)", 1)
    }
    standIn.setNotifier(notifier)
} else if notifyPasswordFile != nil {
    fail("--notify-password-file needs --notify-url\n\(usage)")
}

let server: ScriptedHTTPServer
do {
    server = try await standIn.start(port: port)
} catch {
    fail("cannot listen on 127.0.0.1:\(port): \(error)", 1)
}
let ready = if let cloud = standIn.cloud {
    "routers=\(cloud.routers.count) routes=\(cloud.expectedRoutes) nexthops=\(cloud.expectedNexthops)"
} else {
    "snapshot=\(snapshotPath ?? "")"
}
let notifying = notifier.map { " notify=\($0.endpoint.description)/\($0.exchange)" } ?? ""
FileHandle.standardOutput.write(Data("listening \(server.baseURL) \(ready)\(notifying)\n".utf8))
while true {
    try? await Task.sleep(for: .seconds(3600))
}
