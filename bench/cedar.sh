#!/usr/bin/env bash
# mcpgw's policy engine against cedar-policy on an equivalent policy (issue 7, "Policy
# decisions"): DecisionTable::decide, reference_decide and Cedar's Authorizer::is_authorized,
# after checking that they agree on every request of a large sample (the program aborts on
# any mismatch before timing anything).
#
# The comparison lives in its own crate, bench/cedar/ (an empty [workspace] table keeps it out
# of the main build, so cedar-policy never slows the main build or CI); it builds into
# bench/cedar/target. Results: target/bench/cedar.md (tables) and target/bench/cedar.log
# (progress, and the Cedar text of one agent block in both encodings).
#
# Arguments are passed to the program: --sizes 100x20,1000x50 (agents x rules per agent),
# --rounds 11, --sample-ms 40. BENCH_NO_BUILD=1 skips the build.
source "$(dirname "$0")/common.sh"

CRATE="$ROOT/bench/cedar"
BIN="$CRATE/target/release/mcpgw-cedar-bench"
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  log "cargo build --release (bench/cedar)"
  (cd "$CRATE" && cargo build --release --locked --quiet)
fi
[ -x "$BIN" ] || die "no $BIN: build it first"
mkdir -p "$OUT"
machine_json >/dev/null
"$BIN" "$@" 2> >(tee "$OUT/cedar.log" >&2) | tee "$OUT/cedar.md"
log "tables in $OUT/cedar.md"
