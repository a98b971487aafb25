import Agent
import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Model
import OpenStack

/// Exit codes of the command-line contract.
enum Exit {
    /// The kernel matches the plan.
    static let ok: Int32 = 0
    /// Some route writes failed (each is named), or deletions were held by the deletion brake.
    static let writeFailed: Int32 = 1
    /// Neutron, Keystone or the kernel could not be read (nothing was changed), or another agent holds the lock.
    static let readFailed: Int32 = 2
    /// Usage or configuration error.
    static let usage: Int32 = 64
}

/// Prints one line to stderr and ends the command with `code`.
func fail(_ message: String, code: Int32) -> ExitCode {
    writeAll(2, "metadata-route-agent: error: \(TextReport.visible(message))\n")
    return ExitCode(code)
}

/// What every command sets up: settings, logging, and on demand the kernel and the Neutron source.
struct Runtime {
    let settings: Settings
    let logger: Logger
    let configFile: String?
    let overrides: SettingsOverrides

    init(_ options: AgentOptions, extra: SettingsOverrides = SettingsOverrides()) throws {
        ThreadBudget.fix()
        var o = options.overrides()
        for (k, v) in extra.values { o[k] = v }
        do {
            settings = try Settings.load(configFile: options.config, overrides: o)
        } catch {
            throw fail("\(error)", code: Exit.usage)
        }
        configFile = options.config
        overrides = o
        let format = settings.logFormat
        let level = Logger.Level(rawValue: settings.logLevel.rawValue) ?? .info
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, format: format, level: level) }
        logger = Logger(label: "metadata-route-agent")
    }

    /// Settings read again from the same file and flags (SIGHUP).
    func reload() throws -> Settings {
        try Settings.load(configFile: configFile, overrides: overrides)
    }

    func kernel(settings: Settings? = nil) throws -> NetlinkKernel {
        do {
            return try NetlinkKernel(namespace: (settings ?? self.settings).netns)
        } catch {
            throw fail("\(error)", code: Exit.readFailed)
        }
    }

    /// The snapshot file, or Neutron's API with credentials as openstacksdk reads them; a failure prints one
    /// error line and ends the command with exit 64.
    static func source(settings: Settings, logger: Logger) throws -> any SnapshotSource {
        do {
            return try buildSource(settings: settings, logger: logger)
        } catch {
            throw fail("\(error)", code: Exit.usage)
        }
    }

    /// The same, throwing what went wrong (for a daemon's reload, which logs it and keeps running).
    static func buildSource(settings: Settings, logger: Logger) throws -> any SnapshotSource {
        if let path = settings.snapshot { return SnapshotFileSource(path: path) }
        let config = try CloudConfig.resolve(cloud: settings.osCloud, environment: ProcessInfo.processInfo.environment) { warning in
            logger.warning("\(warning)")
        }
        for file in config.secretFilesReadableByOthers {
            logger.warning("file holding a secret is readable by other users; run chmod 600 on it", metadata: ["file": "\(file)"])
        }
        var options = ClientOptions()
        options.pageSize = settings.pageSize
        options.requestTimeout = .seconds(clamping: settings.requestTimeout)
        options.externalNetworksOnly = !settings.addressScope
        let client = try NeutronClient(config: config, options: options, logger: logger)
        return DeadlineSource(NeutronAPISource(client: client, label: config.source), timeout: .seconds(clamping: settings.readTimeout))
    }

    func source() throws -> any SnapshotSource { try Runtime.source(settings: settings, logger: logger) }

    func reconciler(kernel: any RoutingKernel, metrics: AgentMetrics? = nil) throws -> Reconciler {
        do {
            return try Reconciler(kernel: kernel, settings: settings, logger: logger, metrics: metrics)
        } catch {
            throw fail("\(error)", code: Exit.usage)
        }
    }

    /// Fails at once with the sentence about CAP_NET_ADMIN when the process cannot write routes.
    func requireNetAdmin() throws {
        if !Privileges.hasNetAdmin() { throw fail(Privileges.missingNetAdmin, code: Exit.readFailed) }
    }

    /// Reads the snapshot; on failure, says that nothing was changed and exits 2.
    func read(_ source: any SnapshotSource) async throws -> CloudSnapshot {
        do {
            return try await source.read()
        } catch {
            await source.close()
            throw fail("\(error); nothing was changed", code: Exit.readFailed)
        }
    }
}

func printOut(_ text: String) {
    writeAll(1, text)
}
