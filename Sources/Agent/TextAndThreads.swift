// Small replacements for Foundation-only APIs (String(format:), Duration.formatted, FileHandle, Thread,
// localizedDescription), so the agent builds on FoundationEssentials alone and the self-contained binary
// carries no ICU.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `value` with exactly `places` decimals, rounded half away from zero: `fixed(2.25, 1)` is "2.3".
public func fixed(_ value: Double, _ places: Int = 1) -> String {
    guard value.isFinite else { return "\(value)" }
    var scale = 1.0
    for _ in 0..<max(0, places) { scale *= 10 }
    let scaled = (abs(value) * scale).rounded(.toNearestOrAwayFromZero)
    guard scaled < 9e15 else { return "\(value)" }
    let n = Int64(scaled)
    let whole = n / Int64(scale)
    let frac = n % Int64(scale)
    var text = (value < 0 && n != 0 ? "-" : "") + "\(whole)"
    if places > 0 {
        let digits = String(frac)
        text += "." + String(repeating: "0", count: places - digits.count) + digits
    }
    return text
}

/// A duration for people: "850 ms", "2.5 s", "90 s".
public func humanDuration(_ d: Duration) -> String {
    let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
    if seconds < 10 { return fixed(seconds, 1) + " s" }
    return "\(Int(seconds.rounded())) s"
}

/// `value` as `width` lower-case hexadecimal digits, zero-padded.
public func hex(_ value: UInt32, width: Int) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}

/// Writes all of `text` to a file descriptor (1 stdout, 2 stderr), retrying short writes and EINTR.
public func writeAll(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if n < 0 {
            if errno == EINTR { continue }
            return
        }
        offset += n
    }
    bytes.removeAll()
}

private final class ThreadBody {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

/// Runs `body` on a detached OS thread of its own (`name` says what for, in the caller); false when the
/// thread could not be created.
@discardableResult
public func startThread(name: String, _ body: @escaping @Sendable () -> Void) -> Bool {
    let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { arg in
        let body = Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue()
        body.run()
        return nil
    }, context)
    guard rc == 0 else {
        Unmanaged<ThreadBody>.fromOpaque(context).release()
        return false
    }
    pthread_detach(thread)
    return true
}

/// A file error in a few words ("no such file", "permission denied"), for messages that name the file.
/// With `path`, a path that is a pipe or a device (`/dev/stdin`, `<(…)`) says so: Foundation reads regular files only
/// and calls anything else "permission denied", even for root.
public func fileErrorText(_ error: any Error, path: String? = nil) -> String {
    var st = stat()
    if let path, stat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG, (st.st_mode & S_IFMT) != S_IFDIR {
        return "not a regular file (a pipe, socket or device cannot be read); save the content to a file and name that file"
    }
    if let e = error as? CocoaError {
        switch e.code {
        case .fileReadNoSuchFile, .fileNoSuchFile: return "no such file"
        case .fileReadNoPermission, .fileWriteNoPermission: return "permission denied"
        case .fileReadInapplicableStringEncoding: return "not UTF-8 text"
        case .fileWriteOutOfSpace: return "no space left on the device"
        case .fileWriteVolumeReadOnly: return "read-only file system"
        case .fileReadCorruptFile: return "not UTF-8 text"
        default: break
        }
        // Anything else ("is a directory", "too many open files"): the system's words, not Foundation's dump.
        if let posix = e.userInfo["NSUnderlyingError"] as? POSIXError {
            let words = String(cString: strerror(posix.code.rawValue))
            return words.prefix(1).lowercased() + words.dropFirst()
        }
    }
    return "\(error)"
}
