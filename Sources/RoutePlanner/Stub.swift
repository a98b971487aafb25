import Model
public struct Policy: Hashable, Sendable, Codable {
  public var proto: UInt8 = 200; public var table: UInt32 = 254
  public var allowedPrefixes: [IPPrefix] = []
  public var minPrefixLengthV4 = 16; public var minPrefixLengthV6 = 48
  public var protectedPrefixes: [IPPrefix] = []
  public var externalNetworks: [String] = []
  public var projects: [String] = []
  public var routerTags: [String] = []
  public var requireSNATDisabled = false
  public var addressScopeMode = false
  public var useNexthopObjects = true
  public init() {}
}
public struct DesiredRoute: Hashable, Sendable, Codable { public var destination: IPPrefix }
public enum RefusalReason: String, Hashable, Sendable, Codable, CaseIterable { case a }
public struct Conflict: Hashable, Sendable, Codable { public var subnetID: String; public var routerID: String }
public struct Refusal: Hashable, Sendable, Codable { public var reason: RefusalReason; public var destination: IPPrefix?; public var nextHop: IPAddress?; public var routerID: String; public var subnetID: String?; public var projectID: String; public var message: String; public var lostTo: Conflict? }
public struct PlannedChange: Hashable, Sendable, Codable { public enum Action: String, Hashable, Sendable, Codable { case add, replace, delete }; public var action: Action; public var destination: IPPrefix; public var nextHop: IPAddress?; public var previousNextHop: IPAddress?; public var routerID: String?; public var subnetID: String? }
public struct RoutePlan: Hashable, Sendable, Codable { public var desired: [DesiredRoute]; public var refused: [Refusal]; public var changes: [PlannedChange]; public var operations: [KernelOperation] }
public func makePlan(snapshot: CloudSnapshot, kernel: KernelView, policy: Policy) -> RoutePlan { fatalError() }
public func simulate(_ ops: [KernelOperation], on view: KernelView) -> KernelView { view }
