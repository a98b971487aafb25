import Model

extension Settings {
    /// What the agent owns under these settings: routes of `proto` in `table`, and nexthops of `proto`
    /// in its ID range. Every "is this ours?" in the Agent and the command line asks this value.
    public var ownership: Ownership { Ownership(proto: self.proto, table: self.table) }
}
