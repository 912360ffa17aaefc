#!/usr/bin/env bash
# Summarizes `cargo bench --bench policy` (see docs/PERFORMANCE.md): the median time per
# decision in ns (criterion's median per batch divided by the batch size: 1000 requests for
# decide/* and baseline/*, 32 for side_by_side/*) and the median compile time in ms, each with
# criterion's 95% confidence interval. Needs jq.
# Usage: scripts/policy-bench-summary.sh [TARGET_DIR]
set -euo pipefail
cd "${1:-${CARGO_TARGET_DIR:-target}}/criterion"

# show NAME DIVISOR UNIT: the median of NAME and its interval, divided by DIVISOR.
show() {
    jq -r --arg name "$1" --argjson div "$2" --arg unit "$3" \
        '.median | [$name, .point_estimate / $div, .confidence_interval.lower_bound / $div,
                    .confidence_interval.upper_bound / $div, $unit]
         | "\(.[0] | . + " " * (36 - length)) \(.[1] * 10 | round / 10) \(.[4])  [\(.[2] * 10 | round / 10), \(.[3] * 10 | round / 10)]"' \
        "$1/new/estimates.json"
}

for d in decide/* baseline/*; do
    [ -f "$d/new/estimates.json" ] && show "$d" 1000 ns
done
for d in side_by_side/*; do
    [ -f "$d/new/estimates.json" ] && show "$d" 32 ns
done
for d in compile/*; do
    [ -f "$d/new/estimates.json" ] && show "$d" 1000000 ms
done
exit 0
