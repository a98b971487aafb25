// swift-tools-version: 6.1
import PackageDescription

// `make release` writes Sources/metadata-route-agent/BuildInfo+Generated.swift (the commit it builds from) and
// builds with MRA_BUILD_INFO=1, which compiles that file instead of BuildInfo.swift's fallback.
let buildInfo: [SwiftSetting] = Context.environment["MRA_BUILD_INFO"] == "1" ? [.define("MRA_BUILD_INFO")] : []

let package = Package(
    name: "metadata-route-agent",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "metadata-route-agent", targets: ["metadata-route-agent"]),
        .executable(name: "neutron-standin", targets: ["neutron-standin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        // Linux UAPI headers (netlink, rtnetlink, nexthop) for Swift.
        .target(name: "CNetlink", exclude: ["README.md"]),
        // IP addresses, prefixes, the Neutron snapshot and the kernel view: value types shared by every module.
        .target(name: "Model", exclude: ["README.md"]),
        // The YAML that configuration files use, without Foundation (Yams would link ICU: +40 MB).
        .target(name: "SimpleYAML"),
        .target(name: "Netlink", dependencies: ["CNetlink", "Model"], exclude: ["README.md"]),
        // Benchmark of the Netlink write and dump paths against `ip -batch` (root; see its header).
        // `mra-bench plan` times the planner (full and incremental) on a generated cloud, without root;
        // `mra-bench read` times NeutronClient.readSnapshotIfChanged (the daemon's read of unchanged pages).
        .executableTarget(name: "mra-bench", dependencies: ["Netlink", "Model", "RoutePlanner", "OpenStack",
                                                            .product(name: "Logging", package: "swift-log")]),
        .target(name: "RoutePlanner", dependencies: ["Model"], exclude: ["README.md"]),
        .target(name: "OpenStack", dependencies: [
            "Model", "SimpleYAML",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        // AMQP 0-9-1 consumer over swift-nio (and publish, for tests), the oslo notification envelope.
        .target(name: "Events", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], exclude: ["README.md"]),
        .target(name: "Agent", dependencies: [
            "Model", "Netlink", "OpenStack", "RoutePlanner", "Events",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            "SimpleYAML",
        ], exclude: ["README.md"]),
        .executableTarget(name: "metadata-route-agent", dependencies: [
            "Agent", "Model", "OpenStack", "RoutePlanner", "Events",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        ], exclude: ["README.md"], swiftSettings: buildInfo),
        // The Neutron stand-in as a process (benchmark, metadata scenario): TestSupport's NeutronStandIn
        // serving a generated cloud or a snapshot file.
        .executableTarget(name: "neutron-standin", dependencies: ["TestSupport"]),
        // Test support: a scripted HTTP server, the Neutron stand-in (its JSON from OpenStack's
        // NeutronWire), namespace helpers, scripted netlink.
        .target(name: "TestSupport", dependencies: [
            "Model", "Netlink", "OpenStack", "Events",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], path: "Tests/TestSupport", exclude: ["README.md"]),
        .testTarget(name: "ModelTests", dependencies: ["Model"]),
        .testTarget(name: "SimpleYAMLTests", dependencies: ["SimpleYAML"]),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "Model", "TestSupport"]),
        .testTarget(name: "RoutePlannerTests", dependencies: [
            "RoutePlanner", "Model",
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        .testTarget(name: "OpenStackTests", dependencies: [
            "OpenStack", "Model", "TestSupport",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "MetricsTestKit", package: "swift-metrics"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // The command-line contract: runs the built metadata-route-agent in network namespaces (root).
        .testTarget(name: "CLITests", dependencies: ["TestSupport"]),
        // The command line's options against SettingTable (the executable's module, @testable).
        .testTarget(name: "CommandLineOptionsTests", dependencies: [
            "metadata-route-agent", "Agent",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "EventsTests", dependencies: [
            "Events", "TestSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
        .testTarget(name: "AgentTests", dependencies: [
            "Agent", "Model", "OpenStack", "TestSupport", "RoutePlanner", "Netlink", "Events",
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
    ]
)
