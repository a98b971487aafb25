// swift-tools-version: 6.1
import PackageDescription

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
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        // Linux UAPI headers (netlink, rtnetlink, nexthop) for Swift.
        .target(name: "CNetlink"),
        // IP addresses, prefixes, the Neutron snapshot and the kernel view: value types shared by every module.
        .target(name: "Model"),
        .target(name: "Netlink", dependencies: ["CNetlink", "Model"]),
        // Benchmark of the Netlink write and dump paths against `ip -batch` (root; see its header).
        .executableTarget(name: "mra-bench", dependencies: ["Netlink", "Model"]),
        .target(name: "RoutePlanner", dependencies: ["Model"], exclude: ["README.md"]),
        .target(name: "OpenStack", dependencies: [
            "Model",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Yams", package: "Yams"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        .target(name: "Agent", dependencies: [
            "Model", "Netlink", "OpenStack", "RoutePlanner",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Yams", package: "Yams"),
        ]),
        .executableTarget(name: "metadata-route-agent", dependencies: [
            "Agent", "Model", "OpenStack", "RoutePlanner",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        ]),
        // A generated-cloud Neutron for the benchmark (scripts/bench.sh), serving TestSupport's NeutronStandIn.
        .executableTarget(name: "neutron-standin", dependencies: ["TestSupport"]),
        // Test support: a scripted HTTP server (fixtures, Neutron stand-in) and namespace helpers.
        .target(name: "TestSupport", dependencies: [
            "Model",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], path: "Tests/TestSupport"),
        .testTarget(name: "ModelTests", dependencies: ["Model"]),
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
        .testTarget(name: "AgentTests", dependencies: [
            "Agent", "Model", "TestSupport", "RoutePlanner", "Netlink",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
    ]
)
