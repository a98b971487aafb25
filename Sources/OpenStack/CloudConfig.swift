#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SimpleYAML

/// The Keystone authentication method (`auth_type` in clouds.yaml, `OS_AUTH_TYPE`).
public enum AuthType: String, Sendable, CaseIterable {
    /// User name or ID plus password (keystoneauth's generic `password`; here always Keystone v3).
    case password
    case v3password
    /// Application credential: ID + secret, or name + secret + user.
    case v3applicationcredential
    /// An existing token, exchanged for a scoped one.
    case token
    case v3token
    /// No Keystone at all: requests go to `network_endpoint_override` without a token.
    case none
}

/// Where and how to reach the cloud, resolved as openstacksdk resolves it.
///
/// ## Sources and precedence (follows `openstack.config.loader.OpenStackConfig`, no argparse)
/// - **Files.** `clouds.yaml` (also `clouds.yml`, `clouds.json`) is searched in `./`,
///   `~/.config/openstack/`, `/etc/openstack/` (`OS_CLIENT_CONFIG_FILE` is tried before them);
///   the **first file found wins**, later ones are not merged. `secure.yaml` is searched the
///   same way (`OS_CLIENT_SECURE_FILE` first) and its `clouds:` are deep-merged over clouds.yaml,
///   so secrets may live in a separate, tighter-moded file.
/// - **Environment.** The `OS_*` variables form one more cloud of their own, named `envvars`
///   (or `OS_CLOUD_NAME`). It exists only when some `OS_*` variable other than the selectors
///   `OS_CLOUD`, `OS_REGION_NAME`, `OS_CLOUD_NAME`, `OS_CLIENT_CONFIG_FILE`, `OS_CLIENT_SECURE_FILE` is set.
/// - **Selection.** The `cloud` argument (`--os-cloud`), else `OS_CLOUD`, names a cloud; otherwise
///   the `envvars` cloud is used if it exists; otherwise the only cloud of clouds.yaml.
/// - **No mixing.** When a clouds.yaml cloud is selected, `OS_*` variables (including
///   `OS_PASSWORD` and `OS_REGION_NAME`) are **not** merged into it: openstacksdk's
///   `openstack.connect(cloud=…)`/`get_one()` does the same; only the `openstack` CLI's argparse
///   layer lets `OS_*` override a named cloud. The region of a named cloud is its `region_name`
///   (or the first of `regions:`).
/// - Inside a cloud, keys may be under `auth:` or at the top level. For most keys `auth:` wins;
///   for project, domain and token keys the top-level value wins (openstacksdk's
///   `_fix_backwards_auth`). `tenant_name`/`tenant_id` are aliases of `project_name`/`project_id`,
///   `auth_token` of `token`, `endpoint_type` of `interface`. With a project scope, `domain_id`/
///   `domain_name` fill in missing user and project domains; without one they make a domain scope.
/// - `verify: false` or `insecure: true` turns TLS verification off; like openstacksdk only the
///   word `true` (any case) is true for string values.
///
/// Deviations, on purpose: an unreadable or unparsable clouds.yaml is an error here (openstacksdk
/// logs a warning and moves on to the next file, which silently picks up another cloud); vendor
/// `profile:` entries are not expanded; when `auth_type` is not given, a token alone selects
/// `token` and an application-credential secret selects `v3applicationcredential` (as the
/// `openstack` CLI does), otherwise it is `password`.
public struct CloudConfig: Sendable {
    public var authType: AuthType
    public var authURL: String?
    public var username: String?
    public var userID: String?
    public var password: Secret?
    public var projectName: String?
    public var projectID: String?
    public var userDomainName: String?
    public var userDomainID: String?
    public var projectDomainName: String?
    public var projectDomainID: String?
    /// Domain scope (used when no project is given).
    public var domainName: String?
    public var domainID: String?
    public var regionName: String?
    /// Catalog interface: `public` (default), `internal` or `admin`.
    public var interface: String
    /// A CA bundle (PEM) that replaces the system trust store.
    public var cacert: String?
    /// TLS certificate verification off. Never the default.
    public var insecure: Bool
    /// Network endpoint to use instead of the catalog's (required with `auth_type: none`).
    public var networkEndpointOverride: String?
    public var applicationCredentialID: String?
    public var applicationCredentialName: String?
    public var applicationCredentialSecret: Secret?
    public var token: Secret?
    /// Where the values came from, for `check` output, e.g. `clouds.yaml /etc/openstack/clouds.yaml cloud 'prod'`.
    public var source: String
    /// clouds.yaml/secure.yaml files that hold a secret of this cloud and are readable by others (mode & 0o004).
    public var secretFilesReadableByOthers: [String]

    public init(authType: AuthType = .password, authURL: String? = nil, source: String = "in-code configuration") {
        self.authType = authType
        self.authURL = authURL
        self.interface = "public"
        self.insecure = false
        self.source = source
        self.secretFilesReadableByOthers = []
    }

    /// The default directories, in openstacksdk's order: the current directory, `~/.config/openstack`, `/etc/openstack`.
    public static func defaultSearchPaths(environment: [String: String]) -> [String] {
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? homeDirectory()
        return [FileManager.default.currentDirectoryPath, home + "/.config/openstack", "/etc/openstack"]
    }

    /// Resolves the configuration for `cloud` (or `OS_CLOUD`, or the `OS_*` variables) and validates it.
    ///
    /// ```swift
    /// let config = try CloudConfig.resolve(cloud: "prod", environment: ProcessInfo.processInfo.environment)
    /// ```
    /// - Throws: `OpenStackError.configuration` naming the missing or wrong key.
    /// - Parameter warn: told, in one line naming the file, about a clouds.yaml or secure.yaml that exists but
    ///   cannot be read (skipped, as openstacksdk skips it).
    public static func resolve(cloud: String?, environment: [String: String], searchPaths: [String]? = nil,
                               warn: (String) -> Void = { _ in }) throws -> CloudConfig {
        let dirs = searchPaths ?? defaultSearchPaths(environment: environment)
        var cloudFiles = dirs.flatMap { d in ["clouds.yaml", "clouds.yml", "clouds.json"].map { join(d, $0) } }
        var secureFiles = dirs.flatMap { d in ["secure.yaml", "secure.yml", "secure.json"].map { join(d, $0) } }
        if let f = environment["OS_CLIENT_CONFIG_FILE"], !f.isEmpty { cloudFiles.insert(f, at: 0) }
        if let f = environment["OS_CLIENT_SECURE_FILE"], !f.isEmpty { secureFiles.insert(f, at: 0) }

        let cloudsFile = try loadFirst(cloudFiles, warn: warn)
        let secureFile = try loadFirst(secureFiles, warn: warn)
        let fileClouds = cloudsFile?.clouds ?? [:]
        let secureClouds = secureFile?.clouds ?? [:]

        let envKey = environment["OS_CLOUD_NAME"].flatMap { $0.isEmpty ? nil : $0 } ?? "envvars"
        let envCloud = environmentCloud(environment)
        if envCloud != nil, fileClouds[envKey] != nil {
            throw OpenStackError.configuration("\(cloudsFile?.path ?? "clouds.yaml") defines a cloud named '\(envKey)', which is also the name of the OS_* environment cloud; rename one of them (OS_CLOUD_NAME)")
        }

        let requested = cloud.flatMap { $0.isEmpty ? nil : $0 } ?? environment["OS_CLOUD"].flatMap { $0.isEmpty ? nil : $0 }
        let searched = cloudFiles.joined(separator: ", ")

        if let name = requested {
            if name == envKey, let envCloud {
                return try build(from: envCloud, source: "OS_* environment", filesWithSecrets: [])
            }
            guard let base = fileClouds[name] ?? secureClouds[name] else {
                if let file = cloudsFile {
                    let known = fileClouds.keys.sorted().map { "'\($0)'" }.joined(separator: ", ")
                    throw OpenStackError.configuration("cloud '\(name)' is not defined in \(file.path) (it defines \(known.isEmpty ? "no clouds" : known)); fix --os-cloud/OS_CLOUD or the file")
                }
                throw OpenStackError.configuration("cloud '\(name)' was asked for but no clouds.yaml was found (searched \(searched)); create one or use OS_* variables without OS_CLOUD")
            }
            return try fromFiles(name: name, base: base, cloudsFile: cloudsFile, secureFile: secureFile)
        }
        if let envCloud {
            return try build(from: envCloud, source: "OS_* environment", filesWithSecrets: [])
        }
        let names = Set(fileClouds.keys).union(secureClouds.keys)
        if names.count == 1, let only = names.first {
            return try fromFiles(name: only, base: fileClouds[only] ?? secureClouds[only] ?? [:], cloudsFile: cloudsFile, secureFile: secureFile)
        }
        if names.count > 1 {
            throw OpenStackError.configuration("\(cloudsFile?.path ?? "clouds.yaml") defines several clouds (\(names.sorted().joined(separator: ", "))); choose one with --os-cloud or OS_CLOUD")
        }
        throw OpenStackError.configuration("no cloud configured: set OS_CLOUD (or --os-cloud) with a clouds.yaml, or OS_AUTH_URL and the other OS_* variables (searched \(searched))")
    }

    // MARK: - Validation

    /// Checks that every piece the authentication method needs is present.
    /// - Throws: `OpenStackError.configuration` naming the missing key.
    public func validate() throws {
        let fromFile = source.hasPrefix("clouds.yaml")
        func missing(_ key: String, _ env: String, _ why: String) -> OpenStackError {
            // OS_* variables are not merged into a named cloud (see the type's documentation).
            let whereToSet = fromFile ? "set it in the cloud's entry or in secure.yaml; OS_* variables do not apply to a named cloud" : env
            return .configuration("\(source): missing \(key) (\(whereToSet)) \(why)")
        }
        let via = "for auth_type \(authType.rawValue)"
        if authType == .none {
            guard let override = networkEndpointOverride, !override.isEmpty else {
                throw missing("network_endpoint_override", "OS_NETWORK_ENDPOINT_OVERRIDE", "required with auth_type none: without Keystone there is no catalog")
            }
            try Self.checkURL(override, key: "network_endpoint_override", source: source)
            return
        }
        guard let url = authURL, !url.isEmpty else { throw missing("auth.auth_url", "OS_AUTH_URL", via) }
        try Self.checkURL(url, key: "auth_url", source: source)
        if let override = networkEndpointOverride, !override.isEmpty {
            try Self.checkURL(override, key: "network_endpoint_override", source: source)
        }
        switch authType {
        case .password, .v3password:
            if userID == nil {
                guard username != nil else { throw missing("auth.username or auth.user_id", "OS_USERNAME/OS_USER_ID", via) }
                guard userDomainName != nil || userDomainID != nil else {
                    throw missing("auth.user_domain_name or auth.user_domain_id", "OS_USER_DOMAIN_NAME/OS_USER_DOMAIN_ID", "to qualify username '\(username ?? "")'")
                }
            }
            guard password != nil else { throw missing("auth.password", "OS_PASSWORD", via) }
            try checkProjectScope()
        case .v3applicationcredential:
            guard applicationCredentialSecret != nil else {
                throw missing("auth.application_credential_secret", "OS_APPLICATION_CREDENTIAL_SECRET", via)
            }
            if applicationCredentialID == nil {
                guard applicationCredentialName != nil else {
                    throw missing("auth.application_credential_id or auth.application_credential_name", "OS_APPLICATION_CREDENTIAL_ID/_NAME", via)
                }
                if userID == nil {
                    guard username != nil else {
                        throw missing("auth.user_id or auth.username", "OS_USER_ID/OS_USERNAME", "to find application credential '\(applicationCredentialName ?? "")' by name")
                    }
                    guard userDomainName != nil || userDomainID != nil else {
                        throw missing("auth.user_domain_name or auth.user_domain_id", "OS_USER_DOMAIN_NAME/OS_USER_DOMAIN_ID", "to qualify username '\(username ?? "")'")
                    }
                }
            }
        case .token, .v3token:
            guard token != nil else { throw missing("auth.token", "OS_TOKEN", via) }
            try checkProjectScope()
        case .none:
            break
        }
        guard ["public", "internal", "admin"].contains(interface) else {
            throw OpenStackError.configuration("\(source): interface '\(interface)' is not one of public, internal, admin (interface/OS_INTERFACE)")
        }
        if let cacert, !insecure, !FileManager.default.isReadableFile(atPath: cacert) {
            throw OpenStackError.configuration("\(source): cacert '\(cacert)' (cacert/OS_CACERT) is not a readable file")
        }
    }

    private func checkProjectScope() throws {
        if projectID == nil, projectName != nil, projectDomainName == nil, projectDomainID == nil {
            throw OpenStackError.configuration("\(source): missing auth.project_domain_name or auth.project_domain_id (OS_PROJECT_DOMAIN_NAME/OS_PROJECT_DOMAIN_ID) to qualify project '\(projectName ?? "")'")
        }
    }

    static func checkURL(_ text: String, key: String, source: String) throws {
        guard let c = URLComponents(string: text), let scheme = c.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = c.host, !host.isEmpty else {
            throw OpenStackError.configuration("\(source): \(key) '\(redactURL(text))' is not an http(s) URL")
        }
    }

    // MARK: - Building from a dictionary of keys

    private static func fromFiles(name: String, base: [String: ConfigValue], cloudsFile: LoadedFile?, secureFile: LoadedFile?) throws -> CloudConfig {
        var merged = base
        if let secure = secureFile?.clouds[name] {
            merged = ConfigValue.deepMerge(base, secure)
        }
        var files: [(path: String, mode: Int, cloud: [String: ConfigValue])] = []
        if let f = cloudsFile, let c = f.clouds[name] { files.append((f.path, f.mode, c)) }
        if let f = secureFile, let c = f.clouds[name] { files.append((f.path, f.mode, c)) }
        let leaky = files.filter { $0.mode & 0o004 != 0 && containsSecret($0.cloud) }.map(\.path)
        var source = "clouds.yaml \(cloudsFile?.path ?? secureFile?.path ?? "?") cloud '\(name)'"
        if let s = secureFile, s.clouds[name] != nil { source += " (+ \(s.path))" }
        return try build(from: merged, source: source, filesWithSecrets: leaky)
    }

    private static func containsSecret(_ cloud: [String: ConfigValue]) -> Bool {
        let secretKeys: Set<String> = ["password", "application_credential_secret", "token", "auth_token"]
        for (k, v) in cloud {
            if secretKeys.contains(normalizeKey(k)), v.scalar != nil { return true }
            if case .map(let m) = v, containsSecret(m) { return true }
        }
        return false
    }

    /// The `OS_*` cloud, as openstacksdk's `_get_os_environ` builds it (keys without `OS_`, lower-cased).
    static func environmentCloud(_ env: [String: String]) -> [String: ConfigValue]? {
        let keys = env.keys.filter { $0.hasPrefix("OS_") && !$0.hasPrefix("OS_TEST") && !$0.hasPrefix("OS_STD") && !$0.hasPrefix("OS_LOG") }
        let selectors: Set<String> = ["OS_CLOUD", "OS_REGION_NAME", "OS_CLIENT_CONFIG_FILE", "OS_CLIENT_SECURE_FILE", "OS_CLOUD_NAME"]
        guard !Set(keys).subtracting(selectors).isEmpty else { return nil }
        var out: [String: ConfigValue] = [:]
        for k in keys {
            out[String(k.dropFirst(3)).lowercased()] = .string(env[k] ?? "")
        }
        return out
    }

    private static func build(from raw: [String: ConfigValue], source: String, filesWithSecrets: [String]) throws -> CloudConfig {
        var top: [String: String] = [:]
        var auth: [String: String] = [:]
        var regions: [String] = []
        for (k, v) in raw {
            let key = normalizeKey(k)
            if key == "auth" {
                guard case .map(let m) = v else {
                    throw OpenStackError.configuration("\(source): 'auth' must be a mapping")
                }
                for (ak, av) in m {
                    if let s = av.scalar { auth[normalizeKey(ak)] = s }
                }
            } else if key == "regions" {
                if case .list(let items) = v {
                    for item in items {
                        if let s = item.scalar { regions.append(s) }
                        else if case .map(let m) = item, let n = m["name"]?.scalar { regions.append(n) }
                    }
                }
            } else if let s = v.scalar {
                top[key] = s
            }
        }
        // Keys where a top-level value wins over `auth:` (openstacksdk `_fix_backwards_auth`).
        func topFirst(_ names: [String]) -> String? {
            for n in names { if let v = top[n], !v.isEmpty { return v } }
            for n in names { if let v = auth[n], !v.isEmpty { return v } }
            return nil
        }
        // Keys where `auth:` wins (keystoneauth plugin options, `_validate_auth`).
        func authFirst(_ names: [String]) -> String? {
            for n in names { if let v = auth[n], !v.isEmpty { return v } }
            for n in names { if let v = top[n], !v.isEmpty { return v } }
            return nil
        }
        func plain(_ names: [String]) -> String? {
            for n in names { if let v = top[n], !v.isEmpty { return v } }
            return nil
        }

        var c = CloudConfig(source: source)
        c.secretFilesReadableByOthers = filesWithSecrets
        c.authURL = authFirst(["auth_url"])
        c.username = authFirst(["username", "user_name"])
        c.userID = authFirst(["user_id"])
        c.password = authFirst(["password"]).map(Secret.init)
        c.projectID = topFirst(["project_id", "tenant_id"])
        c.projectName = topFirst(["project_name", "tenant_name"])
        c.userDomainID = topFirst(["user_domain_id"])
        c.userDomainName = topFirst(["user_domain_name"])
        c.projectDomainID = topFirst(["project_domain_id"])
        c.projectDomainName = topFirst(["project_domain_name"])
        let domainID = topFirst(["domain_id"])
        let domainName = topFirst(["domain_name"])
        if c.projectID != nil || c.projectName != nil {
            // `_handle_domain_id`: one domain for both user and project.
            c.userDomainID = c.userDomainID ?? domainID
            c.projectDomainID = c.projectDomainID ?? domainID
            c.userDomainName = c.userDomainName ?? domainName
            c.projectDomainName = c.projectDomainName ?? domainName
        } else {
            c.domainID = domainID
            c.domainName = domainName
        }
        c.applicationCredentialID = authFirst(["application_credential_id"])
        c.applicationCredentialName = authFirst(["application_credential_name"])
        c.applicationCredentialSecret = authFirst(["application_credential_secret"]).map(Secret.init)
        c.token = topFirst(["token", "auth_token"]).map(Secret.init)
        c.regionName = plain(["region_name"]).map { $0.split(separator: ",").first.map(String.init) ?? $0 } ?? regions.first
        if let iface = plain(["interface", "endpoint_type", "network_interface", "network_endpoint_type"]) {
            var i = iface.lowercased()
            if i.hasSuffix("url") { i = String(i.dropLast(3)) }   // publicURL → public
            c.interface = i
        }
        c.networkEndpointOverride = plain(["network_endpoint_override"])
        c.cacert = plain(["cacert"])
        var insecure = plain(["insecure"]).map(isTrue) ?? false
        if let verify = plain(["verify"]) {
            let v = verify.lowercased()
            if v == "false" { insecure = true }
            else if v != "true", c.cacert == nil { c.cacert = verify }   // requests-style: verify may name a CA bundle
        }
        c.insecure = insecure

        if let type = plain(["auth_type", "auth_plugin"]) {
            let t = type.lowercased()
            if t == "none" || t == "noauth" || t == "" {
                c.authType = .none
            } else if let a = AuthType(rawValue: t) {
                c.authType = a
            } else if t == "applicationcredential" || t == "v3applicationcredentials" {
                c.authType = .v3applicationcredential
            } else {
                let valid = AuthType.allCases.map(\.rawValue).joined(separator: ", ")
                throw OpenStackError.configuration("\(source): auth_type '\(type)' is not supported (auth_type/OS_AUTH_TYPE); use one of \(valid)")
            }
        } else if c.applicationCredentialSecret != nil {
            c.authType = .v3applicationcredential
        } else if c.token != nil, c.password == nil {
            c.authType = .token
        } else {
            c.authType = .password
        }
        try c.validate()
        return c
    }

    static func isTrue(_ s: String) -> Bool { s.lowercased() == "true" }

    static func normalizeKey(_ k: String) -> String { k.replacing("-", with: "_").lowercased() }

    private static func join(_ dir: String, _ name: String) -> String {
        dir.hasSuffix("/") ? dir + name : dir + "/" + name
    }

    // MARK: - Files

    struct LoadedFile {
        var path: String
        var mode: Int
        var clouds: [String: [String: ConfigValue]]
    }

    private static func loadFirst(_ paths: [String], warn: (String) -> Void) throws -> LoadedFile? {
        let fm = FileManager.default
        for path in paths {
            guard fm.fileExists(atPath: path) else { continue }
            guard fm.isReadableFile(atPath: path), let data = fm.contents(atPath: path) else {
                // openstacksdk: EACCES → next file; but say so, or a wrong owner or mode is a silent mystery.
                warn("\(path) exists but this process cannot read it (check its owner and mode); skipped, as openstacksdk does")
                continue
            }
            var st = stat()
            let mode = stat(path, &st) == 0 ? Int(st.st_mode & 0o7777) : 0
            guard let text = String(data: data, encoding: .utf8) else {
                throw OpenStackError.configuration("\(path) is not UTF-8 text")
            }
            let node: YAMLNode?
            do {
                node = try YAMLNode.parse(text)
            } catch {
                throw OpenStackError.configuration("\(path) is not valid YAML/JSON: \(String(describing: error).prefix(200)); fix or remove the file")
            }
            guard let node else { throw OpenStackError.configuration("\(path) is empty; add a 'clouds:' mapping or remove the file") }
            guard case .map(let doc) = ConfigValue(node) else {
                throw OpenStackError.configuration("\(path) is not a mapping; it must start with 'clouds:'")
            }
            var clouds: [String: [String: ConfigValue]] = [:]
            if let cs = doc["clouds"] {
                guard case .map(let m) = cs else { throw OpenStackError.configuration("\(path): 'clouds' must be a mapping of cloud names") }
                for (name, v) in m {
                    guard case .map(let cloud) = v else {
                        throw OpenStackError.configuration("\(path): cloud '\(name)' must be a mapping")
                    }
                    clouds[name] = cloud
                }
            }
            return LoadedFile(path: path, mode: mode, clouds: clouds)
        }
        return nil
    }
}

/// A YAML/JSON value with scalars kept as their text.
enum ConfigValue: Sendable, Equatable {
    case string(String)
    case map([String: ConfigValue])
    case list([ConfigValue])
    case null

    init(_ node: YAMLNode) {
        switch node {
        case .scalar(let s, _):
            self = node.isNull ? .null : .string(s)
        case .mapping(let entries):
            var out: [String: ConfigValue] = [:]
            for e in entries { out[e.key] = ConfigValue(e.value) }
            self = .map(out)
        case .sequence(let items):
            self = .list(items.map(ConfigValue.init))
        }
    }

    var scalar: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// `b` merged over `a`; mappings merge recursively (openstacksdk `merge_clouds`).
    static func deepMerge(_ a: [String: ConfigValue], _ b: [String: ConfigValue]) -> [String: ConfigValue] {
        var out = a
        for (k, v) in b {
            if case .map(let bm) = v, case .map(let am)? = out[k] {
                out[k] = .map(deepMerge(am, bm))
            } else {
                out[k] = v
            }
        }
        return out
    }
}

/// A URL for messages: user info removed, query kept.
func redactURL(_ text: String) -> String {
    guard var c = URLComponents(string: text) else { return "<unparsable URL>" }
    c.user = nil
    c.password = nil
    return c.string ?? "<unparsable URL>"
}

/// The user's home directory from the password database (HOME unset), else "/".
private func homeDirectory() -> String {
    guard let pw = getpwuid(getuid()), let dir = pw.pointee.pw_dir else { return "/" }
    return String(cString: dir)
}
