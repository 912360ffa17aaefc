#!/usr/bin/env bash
# Soak test: an hour (by default) of mixed calls and reloads against the release gateway,
# with its memory, descriptors and child processes sampled every minute. Not run in CI.
#
#   bench/soak.sh                      # one hour
#   SOAK_SECONDS=300 bench/soak.sh     # five minutes
#
# Settings (environment):
#   SOAK_SECONDS         how long to run (default 3600)
#   SOAK_SAMPLE_SECONDS  how often to sample the gateway (default 60)
#   SOAK_WORKERS         concurrent callers (default 4)
#   SOAK_PAUSE_MS        pause of each caller between calls (default 2)
#   SOAK_RELOAD_SECONDS  how often the rules are rewritten; every third time .mcp.json too (default 10)
#   SOAK_CRASH_SECONDS   how often the `flaky` server is crashed on purpose (default 30)
#   SOAK_OUT             where the report goes (default target/soak)
#   SOAK_NO_BUILD=1      use the binaries already built (same as BENCH_NO_BUILD=1; BENCH_BIN_DIR
#                        picks another directory than target/release, as in bench/common.sh)
#
# The driver is examples/soak.rs; see its header for what it checks. It writes
# $SOAK_OUT/report.md, report.json, samples.csv and the gateway's log, and exits non-zero
# if there was any error, the memory grew, the audit log missed a call, or the gateway did
# not exit cleanly.

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
OUT="${SOAK_OUT:-$ROOT/target/soak}"

# SOAK_NO_BUILD is the older name of common.sh's BENCH_NO_BUILD.
if [ "${SOAK_NO_BUILD:-0}" = 1 ]; then BENCH_NO_BUILD=1; fi
build_release
[ -x "$REL/examples/soak" ] || die "no $REL/examples/soak: build it first"

mkdir -p "$OUT"
log "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') (+ working tree)"
log "soaking for ${SOAK_SECONDS:-3600} s; report in $OUT"

status=0
"$REL/examples/soak" \
  --gateway "$REL/mcpgw" \
  --fixture "$REL/mcpgw-fixture" \
  --out "$OUT" \
  --seconds "${SOAK_SECONDS:-3600}" \
  --sample-seconds "${SOAK_SAMPLE_SECONDS:-60}" \
  --workers "${SOAK_WORKERS:-4}" \
  --pause-ms "${SOAK_PAUSE_MS:-2}" \
  --reload-seconds "${SOAK_RELOAD_SECONDS:-10}" \
  --crash-seconds "${SOAK_CRASH_SECONDS:-30}" || status=$?

cat "$OUT/report.md" 2>/dev/null || true
if [ "$status" -eq 0 ]; then
  log "soak passed"
else
  log "soak FAILED (exit $status); see $OUT/report.json and $OUT/gateway.log"
fi
exit "$status"
