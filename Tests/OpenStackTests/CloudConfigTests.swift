import Foundation
import Testing
@testable import OpenStack

/// A throwaway directory tree with clouds.yaml/secure.yaml files, removed afterwards.
struct ConfigDirs {
    let root: URL
    var dirs: [String] { (1...3).map { root.appendingPathComponent("d\($0)").path } }

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("mra-config-\(UUID().uuidString)")
        for d in (1...3).map({ root.appendingPathComponent("d\($0)") }) {
            try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        }
    }

    /// Writes `text` to dN/name with the given mode.
    @discardableResult
    func write(_ dir: Int, _ name: String, _ text: String, mode: Int = 0o600) throws -> String {
        let path = root.appendingPathComponent("d\(dir)/\(name)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }

    func remove() { try? FileManager.default.removeItem(at: root) }
}

let passwordEnv: [String: String] = [
    "OS_AUTH_URL": "https://keystone.example.test:5000/v3",
    "OS_USERNAME": "agent",
    "OS_PASSWORD": "env-password",
    "OS_PROJECT_NAME": "admin",
    "OS_USER_DOMAIN_NAME": "Default",
    "OS_PROJECT_DOMAIN_NAME": "Default",
]

let prodYAML = """
clouds:
  prod:
    region_name: RegionOne
    interface: internal
    auth:
      auth_url: https://prod.example.test:5000
      username: route-agent
      password: yaml-password
      project_name: service
      user_domain_name: Default
      project_domain_name: Default
  lab:
    auth_type: none
    network_endpoint_override: http://lab.example.test:9696
"""

@Suite("Cloud configuration as openstacksdk resolves it", .timeLimit(.minutes(2)))
struct CloudConfigTests {
    @Test func osVariablesAloneMakeThePasswordCloud() throws {
        var env = passwordEnv
        env["OS_REGION_NAME"] = "RegionTwo"
        env["OS_INTERFACE"] = "internal"
        env["OS_INSECURE"] = "true"
        env["OS_NETWORK_ENDPOINT_OVERRIDE"] = "http://neutron.example.test:9696"
        let c = try CloudConfig.resolve(cloud: nil, environment: env, searchPaths: [])
        #expect(c.authType == .password)
        #expect(c.authURL == "https://keystone.example.test:5000/v3")
        #expect(c.username == "agent")
        #expect(c.password?.value == "env-password")
        #expect(c.projectName == "admin")
        #expect(c.userDomainName == "Default")
        #expect(c.projectDomainName == "Default")
        #expect(c.regionName == "RegionTwo")
        #expect(c.interface == "internal")
        #expect(c.insecure)
        #expect(c.networkEndpointOverride == "http://neutron.example.test:9696")
        #expect(c.source == "OS_* environment")
    }

    @Test func tenantVariablesAreAliasesOfProjectVariables() throws {
        var env = passwordEnv
        env["OS_PROJECT_NAME"] = nil
        env["OS_TENANT_NAME"] = "legacy"
        env["OS_TENANT_ID"] = "p-123"
        let c = try CloudConfig.resolve(cloud: nil, environment: env, searchPaths: [])
        #expect(c.projectName == "legacy")
        #expect(c.projectID == "p-123")
    }

    @Test func aNamedCloudTakesNothingFromOSVariables() throws {
        let dirs = try ConfigDirs()
        defer { dirs.remove() }
        try dirs.write(1, "clouds.yaml", prodYAML)
        var env = passwordEnv
        env["OS_CLOUD"] = "prod"
        env["OS_REGION_NAME"] = "RegionTwo"
        let c = try CloudConfig.resolve(cloud: nil, environment: env, searchPaths: dirs.dirs)
        #expect(c.password?.value == "yaml-password")
        #expect(c.username == "route-agent")
        #expect(c.regionName == "RegionOne")
        #expect(c.interface == "internal")
        #expect(c.source.contains("cloud 'prod'"))
    }

    @Test func theCloudArgumentBeatsOSCloud() throws {
        let dirs = try ConfigDirs()
        defer { dirs.remove() }
        try dirs.write(1, "clouds.yaml", prodYAML)
        let c = try CloudConfig.resolve(cloud: "lab", environment: ["OS_CLOUD": "prod"], searchPaths: dirs.dirs)
        #expect(c.authType == .none)
        #expect(c.networkEndpointOverride == "http://lab.example.test:9696")
    }

    @Test func withoutANameTheEnvironmentCloudBeatsTheOnlyFileCloud() throws {
        let dirs = try ConfigDirs()
        defer { dirs.remove() }
        try dirs.write(1, "clouds.yaml", "clouds:\n  only:\n    auth_type: none\n    network_endpoint_override: http://only.example.test:9696\n")
        let fromEnv = try CloudConfig.resolve(cloud: nil, environment: passwordEnv, searchPaths: dirs.dirs)
        #expect(fromEnv.source == "OS_* environment")
        let fromFile = try CloudConfig.resolve(cloud: nil, environment: ["OS_REGION_NAME": "selector-only"], searchPaths: dirs.dirs)
        #expect(fromFile.networkEndpointOverride == "http://only.example.test:9696")
    }

    @Test func severalCloudsWithoutAChoiceIsAnErrorNamingThem() throws {
        let dirs = try ConfigDirs()
        defer { dirs.remove() }
        try dirs.write(1, "clouds.yaml", prodYAML)
        let error = #expect(throws: OpenStackError.self) { try CloudConfig.resolve(cloud: nil, environment: [:], searchPaths: dirs.dirs) }
        #expect(error?.description.contains("lab, prod") == true)
        #expect(error?.description.contains("OS_CLOUD") == true)
    }

    @Test func theFirstCloudsYamlFoundWinsAndLaterOnesAreNotMerged() throws {
        let dirs = try ConfigDirs()
        defer { dirs.remove() }
        let first = try dirs.write(1, "clouds.yaml", "clouds:\n  a:\n    auth_type: none\n    network_endpoint_override: http://a.example.test\n")
        try dirs.write(2, "clouds.yaml", prodYAML)
        let a = try CloudConfig.resolve(cloud: "a", environment: [:], searchPaths: dirs.dirs)
        #expect(a.networkEndpointOverride == "http://a.example.test")
        let error = #expect(throws: OpenStackError.self) { try CloudConfig.resolve(cloud: "prod", environment: [:], searchPaths: dirs.dirs) }
        #expect(error?.description.contains(first) == true)
    }

    @Test func secureYamlIsMergedOverCloudsYaml() throws {
        let dirs = try ConfigDirs()
        defer { dirs.remove() }
        try dirs.write(2, "clouds.yaml", prodYAML.replacingOccurrences(of: "      password: yaml-password\n", with: ""), mode: 0o644)
        try dirs.write(3, "secure.yaml", "clouds:\n  prod:\n    auth:\n      password: from-secure\n    region_name: RegionSecure\n")
        let c = try CloudConfig.resolve(cloud: "prod", environment: [:], searchPaths: dirs.dirs)
        #expect(c.password?.value == "from-secure")
        #expect(c.username == "route-agent")     // the rest of auth: stays
        #expect(c.regionName == "RegionSecure")
        #expect(c.secretFilesReadableByOthers.isEmpty)   // the world-readable file holds no secret
    }

    @Test func aWorldReadableFileHoldingASecretIsReported() throws {
        let dirs = try ConfigDirs()
        defer { dirs.remove() }
        let path = try dirs.write(1, "clouds.yaml", prodYAML, mode: 0o644)
        let open = try CloudConfig.resolve(cloud: "prod", environment: [:], searchPaths: dirs.dirs)
        #expect(open.secretFilesReadableByOthers == [path])
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        let closed = try CloudConfig.resolve(cloud: "prod", environment: [:], searchPaths: dirs.dirs)
        #expect(closed.secretFilesReadableByOthers.isEmpty)
    }

    @Test func osClientConfigFileIsSearchedFirst() throws {
        let dirs = try ConfigDirs()
        defer { dirs.remove() }
        try dirs.write(1, "clouds.yaml", prodYAML)
        let explicit = try dirs.write(3, "other.yaml", "clouds:\n  prod:\n    auth_type: none\n    network_endpoint_override: http://other.example.test\n")
        let c = try CloudConfig.resolve(cloud: "prod", environment: ["OS_CLIENT_CONFIG_FILE": explicit], searchPaths: dirs.dirs)
        #expect(c.authType == .none)
    }

    @Test(arguments: [
        ("OS_PASSWORD", "auth.password"),
        ("OS_AUTH_URL", "auth.auth_url"),
        ("OS_USER_DOMAIN_NAME", "user_domain_name"),
        ("OS_PROJECT_DOMAIN_NAME", "project_domain_name"),
    ])
    func aMissingPieceIsNamed(removed: String, named: String) throws {
        var env = passwordEnv
        env[removed] = nil
        let error = #expect(throws: OpenStackError.self) { try CloudConfig.resolve(cloud: nil, environment: env, searchPaths: []) }
        #expect(error?.description.contains(named) == true)
        #expect(error?.description.contains("env-password") == false)
    }

    @Test func authTypeNoneNeedsANetworkEndpointOverride() throws {
        let error = #expect(throws: OpenStackError.self) {
            try CloudConfig.resolve(cloud: nil, environment: ["OS_AUTH_TYPE": "none"], searchPaths: [])
        }
        #expect(error?.description.contains("network_endpoint_override") == true)
        #expect(error?.description.contains("OS_NETWORK_ENDPOINT_OVERRIDE") == true)
    }

    @Test func applicationCredentialVariablesSelectTheirAuthType() throws {
        let c = try CloudConfig.resolve(cloud: nil, environment: [
            "OS_AUTH_URL": "https://k.example.test/v3", "OS_APPLICATION_CREDENTIAL_ID": "ac-1",
            "OS_APPLICATION_CREDENTIAL_SECRET": "ac-secret",
        ], searchPaths: [])
        #expect(c.authType == .v3applicationcredential)
        #expect(c.applicationCredentialSecret?.value == "ac-secret")
        let byName = #expect(throws: OpenStackError.self) {
            try CloudConfig.resolve(cloud: nil, environment: [
                "OS_AUTH_URL": "https://k.example.test/v3", "OS_AUTH_TYPE": "v3applicationcredential",
                "OS_APPLICATION_CREDENTIAL_NAME": "ac", "OS_APPLICATION_CREDENTIAL_SECRET": "ac-secret",
            ], searchPaths: [])
        }
        #expect(byName?.description.contains("user_id or auth.username") == true)
    }

    @Test func aTokenAloneSelectsTokenAuth() throws {
        let c = try CloudConfig.resolve(cloud: nil, environment: [
            "OS_AUTH_URL": "https://k.example.test/v3", "OS_TOKEN": "tok", "OS_PROJECT_ID": "p1",
        ], searchPaths: [])
        #expect(c.authType == .token)
        #expect(c.token?.value == "tok")
    }

    @Test func verifyFalseTurnsTLSVerificationOffAndOnlyTrueIsTrue() throws {
        let dirs = try ConfigDirs()
        defer { dirs.remove() }
        try dirs.write(1, "clouds.yaml", """
        clouds:
          a: {auth_type: none, network_endpoint_override: "https://a.example.test", verify: false}
          b: {auth_type: none, network_endpoint_override: "https://b.example.test", insecure: "True"}
          c: {auth_type: none, network_endpoint_override: "https://c.example.test", insecure: "1"}
        """)
        #expect(try CloudConfig.resolve(cloud: "a", environment: [:], searchPaths: dirs.dirs).insecure)
        #expect(try CloudConfig.resolve(cloud: "b", environment: [:], searchPaths: dirs.dirs).insecure)
        #expect(try !CloudConfig.resolve(cloud: "c", environment: [:], searchPaths: dirs.dirs).insecure)
    }

    @Test func domainFillsInUserAndProjectDomainsWhenProjectScoped() throws {
        var env = passwordEnv
        env["OS_USER_DOMAIN_NAME"] = nil
        env["OS_PROJECT_DOMAIN_NAME"] = nil
        env["OS_DOMAIN_ID"] = "default"
        let scoped = try CloudConfig.resolve(cloud: nil, environment: env, searchPaths: [])
        #expect(scoped.userDomainID == "default")
        #expect(scoped.projectDomainID == "default")
        #expect(scoped.domainID == nil)
        env["OS_PROJECT_NAME"] = nil
        env["OS_USER_DOMAIN_ID"] = "default"
        let domainScoped = try CloudConfig.resolve(cloud: nil, environment: env, searchPaths: [])
        #expect(domainScoped.domainID == "default")
    }

    @Test func anUnknownAuthTypeIsRefusedWithTheChoices() throws {
        var env = passwordEnv
        env["OS_AUTH_TYPE"] = "v3oidcpassword"
        let error = #expect(throws: OpenStackError.self) { try CloudConfig.resolve(cloud: nil, environment: env, searchPaths: []) }
        #expect(error?.description.contains("v3applicationcredential") == true)
    }

    @Test func anUnparsableCloudsYamlIsAnErrorNotSkipped() throws {
        let dirs = try ConfigDirs()
        defer { dirs.remove() }
        let bad = try dirs.write(1, "clouds.yaml", "clouds:\n  prod: [unclosed\n")
        try dirs.write(2, "clouds.yaml", prodYAML)
        let error = #expect(throws: OpenStackError.self) { try CloudConfig.resolve(cloud: "prod", environment: [:], searchPaths: dirs.dirs) }
        #expect(error?.description.contains(bad) == true)
    }

    @Test func secretsNeverPrint() throws {
        let c = try CloudConfig.resolve(cloud: nil, environment: passwordEnv, searchPaths: [])
        #expect("\(Secret("hunter2"))" == "<redacted>")
        #expect(String(reflecting: Secret("hunter2")) == "<redacted>")
        #expect(!String(describing: c).contains("env-password"))
        var dumped = ""
        dump(c, to: &dumped)
        #expect(!dumped.contains("env-password"))
    }
}

@Suite("Cloud configuration: messages", .timeLimit(.minutes(2)))
struct CloudConfigMessageTests {
    @Test func aMissingPasswordInANamedCloudSaysWhereToPutIt() throws {
        let dirs = try ConfigDirs()
        defer { dirs.remove() }
        try dirs.write(1, "clouds.yaml", prodYAML.replacingOccurrences(of: "      password: yaml-password\n", with: ""))
        let error = #expect(throws: OpenStackError.self) {
            try CloudConfig.resolve(cloud: "prod", environment: ["OS_PASSWORD": "ignored"], searchPaths: dirs.dirs)
        }
        #expect(error?.description.contains("auth.password") == true)
        #expect(error?.description.contains("secure.yaml") == true)
        #expect(error?.description.contains("cloud 'prod'") == true)
    }

    // MARK: - YAML values as operators write them (SimpleYAML; the text PyYAML's parser gives)

    /// The cloud `c` of a clouds.yaml whose `auth:` holds the password line `passwordLine` plus `extra` lines;
    /// `{dir}` in `extra` stands for a directory holding the CA files `ca.pem` and `ca #1.pem`.
    func cloud(password passwordLine: String, extra: String = "") throws -> (CloudConfig, dir: String) {
        let dirs = try ConfigDirs()
        defer { dirs.remove() }
        for name in ["ca.pem", "ca #1.pem"] { try dirs.write(2, name, "not parsed here", mode: 0o644) }
        let dir = dirs.dirs[1]
        let extra = extra.replacing("{dir}", with: dir)
        try dirs.write(1, "clouds.yaml", """
        clouds:
          c:
            auth:
              auth_url: http://keystone.example.test:5000/v3#frag
              username: agent
              \(passwordLine)
              project_name: service
              user_domain_name: Default
              project_domain_name: Default
        \(extra)
        """)
        return (try CloudConfig.resolve(cloud: "c", environment: [:], searchPaths: [dirs.dirs[0]]), dir)
    }

    /// openstacksdk loads clouds.yaml with PyYAML's safe_load (YAML 1.1 types): `password: 12345` becomes the int
    /// 12345 (str() gives "12345"), `0123` the octal 83, `no` False. SimpleYAML keeps every scalar's text, so the
    /// password is exactly what the file says — the sane reading, and the one keystone needs.
    @Test(arguments: [
        ("password: 12345", "12345"),
        ("password: 0123", "0123"),
        ("password: \"yes\"", "yes"),
        ("password: no", "no"),
        ("password: 1e10", "1e10"),
        ("password: p#ss", "p#ss"),
        ("password: p #ss", "p"),
        ("password: 'p #ss'", "p #ss"),
        ("password: \"a:b: c\"", "a:b: c"),
        ("password: a:b", "a:b"),
        ("password: 'it''s \"q\"'", "it's \"q\""),
        ("password: \"tab\\t\\u00e9\\\"x\"", "tab\t\u{e9}\"x"),
        ("password: it's", "it's"),
        ("password: |-\n        multi\n        line", "multi\nline"),
    ])
    func passwordsKeepTheirText(line: String, expected: String) throws {
        let c = try cloud(password: line).0
        #expect(c.password?.value == expected)
        #expect(c.authURL == "http://keystone.example.test:5000/v3#frag")
    }

    @Test func aPasswordWithAnUnquotedColonSpaceIsAnErrorNamingTheLine() throws {
        let error = #expect(throws: OpenStackError.self) { try cloud(password: "password: a: b") }
        #expect(error?.description.contains("line 6") == true, "\(String(describing: error))")
        #expect(error?.description.contains("quote") == true)
    }

    @Test(arguments: [
        ("  verify: false", true, nil as String?),
        ("  verify: False", true, nil),
        ("  verify: true", false, nil),
        // Quoted "false" is the text false; CloudConfig reads verify's text case-insensitively, so it also
        // turns verification off (openstacksdk would hand the string to requests as a CA bundle path).
        ("  verify: \"false\"", true, nil),
        ("  verify: {dir}/ca.pem", false, "{dir}/ca.pem"),
        ("  insecure: true", true, nil),
        // YAML 1.1 spellings are text here: `insecure: yes` keeps verification on (the safe side).
        ("  insecure: yes", false, nil),
        ("  insecure: 'true'", true, nil),
        ("  cacert: {dir}/ca.pem # our CA", false, "{dir}/ca.pem"),
        ("  cacert: \"{dir}/ca #1.pem\"", false, "{dir}/ca #1.pem"),
        ("  cacert: '{dir}/ca #1.pem'", false, "{dir}/ca #1.pem"),
    ])
    func verifyInsecureAndCacert(line: String, insecure: Bool, cacert: String?) throws {
        let (c, dir) = try cloud(password: "password: x", extra: "  " + line)
        #expect(c.insecure == insecure)
        #expect(c.cacert == cacert?.replacing("{dir}", with: dir))
    }

    @Test(arguments: [
        ("  regions: [RegionTwo, RegionThree]", "RegionTwo"),
        ("  regions:\n  - RegionTwo\n  - RegionThree", "RegionTwo"),
        ("  regions: [{name: RegionTwo, values: {interface: internal}}, {name: RegionThree}]", "RegionTwo"),
        ("  regions:\n    - name: RegionTwo\n      values:\n        interface: internal\n    - name: RegionThree", "RegionTwo"),
        ("  region_name: 'Region #1'\n  regions: [a, b]", "Region #1"),
    ])
    func regionsAsListsOfNamesOrMappings(lines: String, region: String) throws {
        let c = try cloud(password: "password: x", extra: lines.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")).0
        #expect(c.regionName == region)
    }

    @Test func applicationCredentialCloudInFlowStyleWithCRLF() throws {
        let dirs = try ConfigDirs()
        defer { dirs.remove() }
        let text = "\u{FEFF}---\r\nclouds: {c: {auth_type: v3applicationcredential, identity_api_version: 3,\r\n"
            + "  auth: {auth_url: 'https://k.example.test:5000/v3', application_credential_id: \"0123\",\r\n"
            + "         application_credential_secret: \"s#cr:t \\\"x\\\"\"}, interface: internal}}\r\n...\r\n"
        try dirs.write(1, "clouds.yaml", text)
        let c = try CloudConfig.resolve(cloud: "c", environment: [:], searchPaths: dirs.dirs)
        #expect(c.authType == .v3applicationcredential)
        #expect(c.applicationCredentialID == "0123")
        #expect(c.applicationCredentialSecret?.value == "s#cr:t \"x\"")
        #expect(c.authURL == "https://k.example.test:5000/v3")
        #expect(c.interface == "internal")
    }

    @Test func anchorsInCloudsYamlAreRefusedWithTheLine() throws {
        let dirs = try ConfigDirs()
        defer { dirs.remove() }
        try dirs.write(1, "clouds.yaml", "clouds:\n  c:\n    auth: &a\n      auth_url: http://k\n  d:\n    auth: *a\n")
        let error = #expect(throws: OpenStackError.self) { try CloudConfig.resolve(cloud: "c", environment: [:], searchPaths: dirs.dirs) }
        #expect(error?.description.contains("line 3") == true, "\(String(describing: error))")
        #expect(error?.description.contains("anchors") == true)
    }
}
