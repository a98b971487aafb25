import Model
import Logging
public struct CloudConfig: Sendable { public var source: String = ""; public var secretFilesReadableByOthers: [String] = []
  public static func resolve(cloud: String?, environment: [String: String], searchPaths: [String]? = nil) throws -> CloudConfig { .init() } }
public struct ClientOptions: Sendable { public var pageSize = 1000; public var requestTimeout: Duration = .seconds(30); public init() {} }
public final class NeutronClient: Sendable {
  public init(config: CloudConfig, options: ClientOptions = .init(), logger: Logger) throws {}
  public func readSnapshot() async throws -> CloudSnapshot { .init() }
  public func shutdown() async throws {}
  public var statistics: ClientStatistics { .init() }
}
public struct ClientStatistics: Sendable { public var requests = 0; public var keystoneRequests = 0; public var bytesRead = 0 }
