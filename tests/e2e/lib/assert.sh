# shellcheck shell=bash
# The one assertion vocabulary of the shell suites (tests/e2e/metadata-scenario.sh, tests/bgp/bgp-announce.sh).
# Source it, assert, and end with `summary`:
#
#   check "sync exits 0" "$AGENT" sync --snapshot cloud.json   # PASS when the command exits 0
#   ok "what held"                                              # an outcome the caller decided
#   bad "what did not hold" "why"                               #   (the reason is optional)
#   expect_eq "what" EXPECTED ACTUAL      expect_contains "what" NEEDLE HAYSTACK
#   expect_line "what" REGEX TEXT         expect_empty "what" ACTUAL
#   expect_success "what" CMD...          expect_failure "what" CMD...   (CMD's output is kept for the reason)
#   skip "what" "why"                     cannot_run "why"   (exits: 77, or 1 when CI is set)
#   summary                               # "N passed, N failed"; returns non-zero when anything failed
#
# Every assertion prints one line, `PASS  <what>` or `FAIL  <what>`, a failure followed by `      reason: …`.
# ASSERT_TAG, when set, is put in front of every description (e.g. "[bird/objects] " for a repeated scenario).
# pass, fail and e2e_summary are the older names of ok, bad and summary and stay usable.

E2E_PASSED=0
E2E_FAILED=0
ASSERT_TAG=${ASSERT_TAG:-}

# ok DESCRIPTION
ok() {
    E2E_PASSED=$((E2E_PASSED + 1))
    printf 'PASS  %s%s\n' "$ASSERT_TAG" "$1"
}

# bad DESCRIPTION [REASON]
bad() {
    E2E_FAILED=$((E2E_FAILED + 1))
    printf 'FAIL  %s%s\n' "$ASSERT_TAG" "$1"
    if [[ -n ${2:-} ]]; then printf '      reason: %s\n' "$2"; fi
    return 0
}

pass() { ok "$@"; }
fail() { bad "$@"; }

skip() {
    printf 'SKIP  %s%s (%s)\n' "$ASSERT_TAG" "$1" "$2"
}

# check DESCRIPTION CMD...: PASS when CMD exits 0. CMD runs in this shell (functions and variables it sets
# stay visible) and its output goes where the suite's goes.
check() {
    local what=$1; shift
    local rc=0
    "$@" || rc=$?
    if ((rc == 0)); then ok "$what"; else bad "$what" "exit $rc from: $*"; fi
}

# cannot_run REASON: the suite cannot run on this machine. A skip (exit 77) by hand; with CI set, a failure.
cannot_run() {
    if [[ -n ${CI:-} ]]; then
        bad "the suite can run" "$1 (CI is set, so this is a failure, not a skip)"
        summary
        exit 1
    fi
    printf 'SKIP  %s\n' "$1"
    exit 77
}

# expect_success DESCRIPTION CMD...: PASS when CMD exits 0.
expect_success() {
    local what=$1; shift
    local out rc=0
    out=$("$@" 2>&1) || rc=$?
    if ((rc == 0)); then ok "$what"; else bad "$what" "exit $rc from '$*': $(head -c 300 <<<"$out")"; fi
}

# expect_failure DESCRIPTION CMD...: PASS when CMD exits non-zero.
expect_failure() {
    local what=$1; shift
    local out rc=0
    out=$("$@" 2>&1) || rc=$?
    if ((rc != 0)); then ok "$what"; else bad "$what" "'$*' succeeded, output: $(head -c 300 <<<"$out")"; fi
}

# expect_eq DESCRIPTION EXPECTED ACTUAL
expect_eq() {
    if [[ $2 == "$3" ]]; then ok "$1"; else bad "$1" "expected '$2', got '$3'"; fi
}

# expect_contains DESCRIPTION NEEDLE HAYSTACK
expect_contains() {
    if grep -qF -- "$2" <<<"$3"; then ok "$1"; else bad "$1" "'$2' not found in: $(head -c 400 <<<"$3")"; fi
}

# expect_empty DESCRIPTION ACTUAL
expect_empty() {
    if [[ -z $2 ]]; then ok "$1"; else bad "$1" "expected nothing, got: $(head -c 300 <<<"$2")"; fi
}

# re TEXT: TEXT as a literal inside an extended regex (dots in addresses must not match anything).
# shellcheck disable=SC2001  # one sed is clearer than a loop of ${var//x/y} per character
re() { sed 's/[].[*^$+?(){}|\\]/\\&/g' <<<"$1"; }

# expect_line DESCRIPTION PATTERN TEXT: PASS when a whole line of TEXT matches the extended regex.
expect_line() {
    if grep -qxE -- "$2" <<<"$3"; then ok "$1"; else bad "$1" "no line matching '$2' in: $(tr '\n' ';' <<<"$3")"; fi
}

# summary: prints "N passed, N failed"; returns non-zero when anything failed.
summary() {
    echo "$E2E_PASSED passed, $E2E_FAILED failed"
    ((E2E_FAILED == 0))
}

e2e_summary() { summary; }
