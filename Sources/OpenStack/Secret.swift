/// A credential (password, token, application-credential secret) that never prints itself.
///
/// `description`, `debugDescription` and the reflection mirror all say `<redacted>`, so a
/// `CloudConfig` can be logged or dumped without leaking; only `value` gives the text, and the
/// client reads it only to build a Keystone request body or the `X-Auth-Token` header.
///
/// ```swift
/// let s = Secret("hunter2")
/// "\(s)"        // "<redacted>"
/// s.value       // "hunter2"
/// ```
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let value: String

    public init(_ value: String) {
        self.value = value
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
