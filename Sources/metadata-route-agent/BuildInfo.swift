// What `metadata-route-agent --version` prints: the version and the commit the binary was built from.
//
// `make release` (scripts/build-info.sh) writes BuildInfo+Generated.swift beside this file (gitignored)
// with the commit, and builds with MRA_BUILD_INFO=1 in the environment, which Package.swift turns into
// the MRA_BUILD_INFO condition: the generated file replaces this fallback. A plain `swift build` of a
// fresh clone compiles this one. The version below is the package's: the Makefile reads it from here.
#if !MRA_BUILD_INFO
enum BuildInfo {
    static let version = "0.1.0"
    static let commit = "unknown (built without make)"
}
#endif

extension BuildInfo {
    /// `0.1.0 (commit 54a3858c1f2a)`
    static var versionLine: String { "\(version) (commit \(commit))" }
}
