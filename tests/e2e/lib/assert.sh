# shellcheck shell=bash
# Tiny assertion helpers for the bash end-to-end tests: each check prints one PASS/FAIL line with a
# reason; e2e_summary prints "N passed, N failed" and returns non-zero when anything failed.

E2E_PASSED=0
E2E_FAILED=0

pass() {
    E2E_PASSED=$((E2E_PASSED + 1))
    printf 'PASS  %s\n' "$1"
}

# fail DESCRIPTION REASON
fail() {
    E2E_FAILED=$((E2E_FAILED + 1))
    printf 'FAIL  %s\n      reason: %s\n' "$1" "$2"
}

skip() {
    printf 'SKIP  %s (%s)\n' "$1" "$2"
}

# expect_success DESCRIPTION CMD...: PASS when CMD exits 0.
expect_success() {
    local what=$1; shift
    local out rc=0
    out=$("$@" 2>&1) || rc=$?
    if ((rc == 0)); then pass "$what"; else fail "$what" "exit $rc from '$*': $(head -c 300 <<<"$out")"; fi
}

# expect_failure DESCRIPTION CMD...: PASS when CMD exits non-zero.
expect_failure() {
    local what=$1; shift
    local out rc=0
    out=$("$@" 2>&1) || rc=$?
    if ((rc != 0)); then pass "$what"; else fail "$what" "'$*' succeeded, output: $(head -c 300 <<<"$out")"; fi
}

# expect_eq DESCRIPTION EXPECTED ACTUAL
expect_eq() {
    if [[ $2 == "$3" ]]; then pass "$1"; else fail "$1" "expected '$2', got '$3'"; fi
}

# expect_contains DESCRIPTION NEEDLE HAYSTACK
expect_contains() {
    if grep -qF -- "$2" <<<"$3"; then pass "$1"; else fail "$1" "'$2' not found in: $(head -c 400 <<<"$3")"; fi
}

# expect_empty DESCRIPTION ACTUAL
expect_empty() {
    if [[ -z $2 ]]; then pass "$1"; else fail "$1" "expected nothing, got: $(head -c 300 <<<"$2")"; fi
}

# re TEXT: TEXT as a literal inside an extended regex (dots in addresses must not match anything).
# shellcheck disable=SC2001  # one sed is clearer than a loop of ${var//x/y} per character
re() { sed 's/[].[*^$+?(){}|\\]/\\&/g' <<<"$1"; }

# expect_line DESCRIPTION PATTERN TEXT: PASS when a whole line of TEXT matches the extended regex.
expect_line() {
    if grep -qxE -- "$2" <<<"$3"; then pass "$1"; else fail "$1" "no line matching '$2' in: $(tr '\n' ';' <<<"$3")"; fi
}

e2e_summary() {
    echo "$E2E_PASSED passed, $E2E_FAILED failed"
    ((E2E_FAILED == 0))
}
