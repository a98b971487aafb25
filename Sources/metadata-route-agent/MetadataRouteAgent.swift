import ArgumentParser

@main
struct MetadataRouteAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metadata-route-agent",
        abstract: "Keeps kernel routes from OpenStack tenant subnets back to their Neutron routers' gateways.",
        discussion: """
        For every Neutron router with an external gateway, and every subnet attached to it (IPv4 and IPv6), \
        the agent keeps a kernel route '<subnet> via <router gateway IP>' on this host, so replies to tenant \
        instances (the metadata service's among them) find their way back. It owns only routes that carry its \
        protocol number (default 200) in its table (default main) and never touches any other route. Tenant \
        prefixes that are too wide, outside the allowed ranges, or overlap the host's own networks or the \
        operator's routes are refused with a reason.

        Credentials are read as openstacksdk reads them: --os-cloud/OS_CLOUD with clouds.yaml, or OS_* variables.

        Exit codes:
          0   the kernel matches the plan (refusals are policy, not failure)
          1   some route writes failed, or deletions were held (--max-delete)
          2   Neutron/Keystone/kernel unreadable (nothing changed), or another
              agent holds the lock on this table
          64  usage or configuration error (names the option and its range)

        Examples:
          metadata-route-agent plan --os-cloud prod
          metadata-route-agent sync --snapshot examples/demo-snapshot.json
          metadata-route-agent run --config /etc/metadata-route-agent/config.yaml --metrics-address 127.0.0.1:9100
        """,
        version: BuildInfo.versionLine,
        subcommands: [Run.self, Sync.self, Plan.self, Routes.self, Cleanup.self, Check.self]
    )
}
