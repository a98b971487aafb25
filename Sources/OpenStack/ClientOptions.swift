/// Timeouts, retries and paging of the OpenStack client.
public struct ClientOptions: Sendable {
    /// Time to establish a TCP (and TLS) connection.
    public var connectTimeout: Duration
    /// Time for one whole request: connect, send, and read the complete response body.
    public var requestTimeout: Duration
    /// Retries after a connection error, a timeout, a 5xx or a 429 (so at most `maxRetries + 1` attempts).
    public var maxRetries: Int
    /// Exponential backoff with full jitter: attempt n waits a random time in [0, min(cap, base·2ⁿ)].
    public var backoffBase: Duration
    public var backoffCap: Duration
    /// The longest `Retry-After` (429/503) that is honoured; longer values are cut to this.
    public var retryAfterCap: Duration
    /// `limit=` of every Neutron list request. The server may force a smaller page (`pagination_max_limit`).
    public var pageSize: Int
    /// Pages per collection before the read is abandoned as runaway pagination.
    public var maxPages: Int
    /// The largest response body accepted (32 MiB: four at once, decoded, fit the unit's MemoryMax).
    public var maxResponseBytes: Int
    /// Renew the Keystone token this long before `expires_at` (at most half the token's lifetime).
    public var tokenRenewalMargin: Duration
    /// List only the external networks (`router:external=True`); off when the planner needs the
    /// tenant networks too (address-scope mode).
    public var externalNetworksOnly = true

    public init(connectTimeout: Duration = .seconds(5), requestTimeout: Duration = .seconds(30), maxRetries: Int = 4,
                backoffBase: Duration = .milliseconds(500), backoffCap: Duration = .seconds(8),
                retryAfterCap: Duration = .seconds(30), pageSize: Int = 1000, maxPages: Int = 10_000,
                maxResponseBytes: Int = 32 << 20, tokenRenewalMargin: Duration = .seconds(300)) {
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.maxRetries = maxRetries
        self.backoffBase = backoffBase
        self.backoffCap = backoffCap
        self.retryAfterCap = retryAfterCap
        self.pageSize = pageSize
        self.maxPages = maxPages
        self.maxResponseBytes = maxResponseBytes
        self.tokenRenewalMargin = tokenRenewalMargin
    }
}

/// Counters of one client since it was created.
public struct ClientStatistics: Sendable, Equatable {
    /// Neutron HTTP requests sent, retries and re-sent requests included.
    public var requests: Int = 0
    /// Neutron requests by outcome: the status code as text, or `"error"` for no response.
    public var requestsByStatus: [String: Int] = [:]
    /// Keystone token requests sent (retries included).
    public var keystoneRequests: Int = 0
    /// Response body bytes read from Neutron and Keystone.
    public var bytesRead: Int = 0
    /// Requests repeated after a connection error, timeout, 5xx or 429.
    public var retries: Int = 0
    /// New tokens fetched because Neutron answered 401.
    public var reauths: Int = 0
    /// Tokens fetched in all (first, renewals before expiry, re-authentications).
    public var tokensIssued: Int = 0

    public init() {}
}
