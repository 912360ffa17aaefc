#!/usr/bin/env bash
# Retrieval quality of the tool search: recall@1/@3/@5 over bench/search/{catalogue,queries}.json,
# overall, per server, tuning and held-out separately. Pass --misses to list tuning misses.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec cargo run --quiet --example search_eval -- "$@"
