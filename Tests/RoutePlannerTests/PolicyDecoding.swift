import Model
@testable import RoutePlanner

/// Policies in the tests are written as JSON too. The product never reads a policy from JSON (the agent builds
/// it from its settings), so the decoder lives here.
extension Policy: Decodable {
    /// Decodes a policy; every key is optional and falls back to the default.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        var d = Policy()
        d.proto = try c.decodeIfPresent(UInt8.self, forKey: .proto) ?? d.proto
        d.table = try c.decodeIfPresent(UInt32.self, forKey: .table) ?? d.table
        d.allowedPrefixes = try c.decodeIfPresent([IPPrefix].self, forKey: .allowedPrefixes) ?? d.allowedPrefixes
        d.minPrefixLengthV4 = try c.decodeIfPresent(Int.self, forKey: .minPrefixLengthV4) ?? d.minPrefixLengthV4
        d.minPrefixLengthV6 = try c.decodeIfPresent(Int.self, forKey: .minPrefixLengthV6) ?? d.minPrefixLengthV6
        d.protectedPrefixes = try c.decodeIfPresent([IPPrefix].self, forKey: .protectedPrefixes) ?? d.protectedPrefixes
        d.externalNetworks = try c.decodeIfPresent([String].self, forKey: .externalNetworks) ?? d.externalNetworks
        d.projects = try c.decodeIfPresent([String].self, forKey: .projects) ?? d.projects
        d.routerTags = try c.decodeIfPresent([String].self, forKey: .routerTags) ?? d.routerTags
        d.requireSNATDisabled = try c.decodeIfPresent(Bool.self, forKey: .requireSNATDisabled) ?? d.requireSNATDisabled
        d.addressScopeMode = try c.decodeIfPresent(Bool.self, forKey: .addressScopeMode) ?? d.addressScopeMode
        d.useNexthopObjects = try c.decodeIfPresent(Bool.self, forKey: .useNexthopObjects) ?? d.useNexthopObjects
        self = d
    }
}
