import CNetlink
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs `body` with the calling context switched into the network namespace `/var/run/netns/<name>`,
/// or directly when `name` is nil.
///
/// `setns` changes the namespace of one thread only, so the body runs on a short-lived dedicated
/// thread that enters the namespace, runs it (typically: opens a socket, which stays bound to that
/// namespace for its whole life), switches back and ends. The caller's thread never moves.
public func inNetworkNamespace<T>(_ name: String?, _ body: () throws -> T) throws -> T {
    guard let name else { return try body() }
    guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
        throw NetlinkError(errno: EINVAL, extendedMessage: "not a namespace name: \(name.prefix(64))",
                           operation: "enter network namespace")
    }
    let op = "enter network namespace \(name)"
    let target = open("/var/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
    guard target >= 0 else { throw lastError(op) }
    defer { close(target) }

    return try withoutActuallyEscaping(body) { body in
        let job = NamespaceJob<T>(namespaceFD: target, operation: op, body: body)
        let work = ThreadWork { job.run() }
        var thread = pthread_t()
        let ctx = Unmanaged.passRetained(work).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            Unmanaged<ThreadWork>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, ctx)
        guard rc == 0 else {
            Unmanaged<ThreadWork>.fromOpaque(ctx).release()
            throw NetlinkError(errno: rc, operation: "start namespace thread")
        }
        pthread_join(thread, nil)
        return try job.result!.get()
    }
}

/// A closure handed to a pthread.
private final class ThreadWork: @unchecked Sendable {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// The work done in the namespace; its result is read only after `pthread_join`.
private final class NamespaceJob<T>: @unchecked Sendable {
    let namespaceFD: Int32
    let operation: String
    let body: () throws -> T
    var result: Result<T, any Error>?

    init(namespaceFD: Int32, operation: String, body: @escaping () throws -> T) {
        self.namespaceFD = namespaceFD
        self.operation = operation
        self.body = body
    }

    func run() {
        let original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard original >= 0 else { result = .failure(lastError(operation)); return }
        defer { close(original) }
        guard cnetlink_setns_net(namespaceFD) == 0 else { result = .failure(lastError(operation)); return }
        result = Result { try body() }
        // Back to where the thread started; it ends right after, so a failure here cannot leak.
        _ = cnetlink_setns_net(original)
    }
}
