extension StringProtocol {
    /// Without leading and trailing whitespace (spaces, tabs, line breaks): FoundationEssentials has no
    /// `trimmingCharacters(in:)`.
    public var trimmingWhitespace: String {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }
}
