import Model
public struct NetlinkStatistics: Sendable { public var messagesSent = 0; public var messagesReceived = 0; public var bytesReceived = 0 }
public struct NetlinkError: Error, Hashable, Sendable, CustomStringConvertible { public var errno: Int32; public var extendedMessage: String?; public var operation: String?; public var description: String { "" } }
public final class RouteSocket: @unchecked Sendable {
  public init(namespace: String? = nil) throws {}
  public func routes(family: AddressFamily?, table: UInt32) throws -> [KernelRoute] { [] }
  public func connectedNetworks() throws -> [ConnectedNetwork] { [] }
  public func nexthops() throws -> [KernelNexthop] { [] }
  public func supportsNexthopObjects() -> Bool { true }
  public func apply(_ ops: [KernelOperation]) throws -> [NetlinkError?] { [] }
  public var statistics: NetlinkStatistics { .init() }
}
public enum RouteEvent: Hashable, Sendable { case routeAdded(KernelRoute), routeDeleted(KernelRoute), nexthopAdded(KernelNexthop), nexthopDeleted(KernelNexthop), overflow }
public final class RouteEventMonitor: @unchecked Sendable {
  public init(namespace: String? = nil) throws {}
  public func next(timeout: Duration?) throws -> [RouteEvent] { [] }
  public func close() {}
}
