#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Model

/// A swift-log handler that writes one line per event to stderr, as logfmt
/// (`ts=… level=info msg="route added" dst=10.0.0.0/24 via=203.0.113.10 router=…`) or as JSON.
public struct LineLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public let format: LogFormat
    private let label: String
    private let sink: @Sendable (String) -> Void

    public init(label: String, format: LogFormat, level: Logger.Level,
                sink: @escaping @Sendable (String) -> Void = LineLogHandler.stderr) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.sink = sink
    }

    public static let stderr: @Sendable (String) -> Void = { line in
        writeAll(2, line + "\n")
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        sink(Self.render(date: Date(), level: event.level, message: "\(event.message)", fields: fields, format: format))
    }

    static func render(date: Date, level: Logger.Level, message: String, fields: Logger.Metadata, format: LogFormat) -> String {
        let ts = date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
        let keys = fields.keys.sorted()
        switch format {
        case .logfmt:
            var line = "ts=\(ts) level=\(level.rawValue) msg=\(logfmtValue(message))"
            for k in keys { line += " \(k)=\(logfmtValue(flatten(fields[k]!)))" }
            return line
        case .json:
            var line = "{\"ts\":\(jsonString(ts)),\"level\":\(jsonString(level.rawValue)),\"msg\":\(jsonString(message))"
            for k in keys { line += ",\(jsonString(k)):\(jsonString(flatten(fields[k]!)))" }
            return line + "}"
        }
    }

    static func flatten(_ v: Logger.Metadata.Value) -> String {
        switch v {
        case .string(let s): return s
        case .stringConvertible(let c): return c.description
        case .array(let a): return a.map(flatten).joined(separator: ",")
        case .dictionary(let d): return d.keys.sorted().map { "\($0):\(flatten(d[$0]!))" }.joined(separator: ",")
        }
    }

    static func logfmtValue(_ s: String) -> String {
        // By Unicode scalar, not Character: "\r\n" is one Character and would slip through a Character switch.
        let needsQuotes = s.isEmpty || s.unicodeScalars.contains { $0 == " " || $0 == "=" || $0 == "\"" || $0 == "\\" || TextReport.isControl($0) }
        guard needsQuotes else { return s }
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if TextReport.isControl(u) { out += "\\u" + hex(u.value, width: 4) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    static func jsonString(_ s: String) -> String { jsonQuoted(s) }
}
