/// Everything that can go wrong between the configuration and a complete `CloudSnapshot`.
///
/// Each description is one line that says what is wrong and what to do about it. None of them
/// ever contains a password, token or application-credential secret: messages are built from
/// key names, URLs without user info, HTTP status codes and the server's own error message.
public enum OpenStackError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The configuration is incomplete or contradictory (the text names the missing key and where to set it).
    case configuration(String)
    /// Keystone refused or failed the token request.
    case authentication(status: Int?, detail: String)
    /// The token's catalog has no network endpoint for the configured region and interface.
    case endpointNotFound(String)
    /// An HTTP status outside 2xx that the retries did not cure.
    case httpStatus(service: String, method: String, path: String, status: Int, message: String?, attempts: Int)
    /// The server could not be reached or did not answer in time (after the retries).
    case transport(service: String, method: String, path: String, detail: String, attempts: Int)
    /// The response does not match the API (broken JSON, HTML, a missing or wrongly typed field).
    case invalidResponse(service: String, path: String, detail: String)
    /// Pagination misbehaved (a link loop, too many pages, a link to somewhere else).
    case pagination(path: String, detail: String)

    public var description: String {
        switch self {
        case .configuration(let text):
            return "OpenStack configuration: \(text)"
        case .authentication(let status, let detail):
            let code = status.map { " (HTTP \($0))" } ?? ""
            return "Keystone authentication failed\(code): \(detail)"
        case .endpointNotFound(let text):
            return "no network endpoint: \(text)"
        case .httpStatus(let service, let method, let path, let status, let message, let attempts):
            let msg = message.map { ": \($0)" } ?? ""
            let tries = attempts > 1 ? " after \(attempts) attempts" : ""
            return "\(service) \(method) \(path) answered HTTP \(status)\(tries)\(msg); \(Self.hint(status: status, service: service))"
        case .transport(let service, let method, let path, let detail, let attempts):
            let tries = attempts > 1 ? " after \(attempts) attempts" : ""
            return "\(service) \(method) \(path) failed\(tries): \(detail); check that the endpoint is reachable from this host (address, port, TLS, proxy)"
        case .invalidResponse(let service, let path, let detail):
            return "\(service) \(path) returned an unusable response: \(detail); check that the endpoint really is the \(service) API"
        case .pagination(let path, let detail):
            return "Neutron \(path) pagination failed: \(detail)"
        }
    }

    static func hint(status: Int, service: String) -> String {
        switch status {
        case 401: return "\(service) refused the credentials (with Keystone: also after one re-authentication); check the credentials, their project and roles, or auth_type none against a Neutron that needs Keystone"
        case 403: return "the credentials lack permission: the agent needs a role that may list routers, ports, subnets and networks of all projects (admin or a reader role)"
        case 404: return "check the endpoint URL (network_endpoint_override or the catalog entry)"
        case 400: return "the server rejected the query; report this with the server's version"
        case 429: return "the server is rate limiting; lengthen the agent's interval"
        case 500...599: return "the server is failing; the agent keeps the installed routes and retries next cycle"
        default: return "unexpected status"
        }
    }
}
