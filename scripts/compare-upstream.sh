#!/bin/bash
# Plays tests/compare/kvp-compare.scenario against our hv_kvp_daemon and Debian's
# /usr/sbin/hv_kvp_daemon on the same simulated host and prints what the host saw
# differently. Needs root; run after a build (build/).
set -euo pipefail
cd "$(dirname "$0")/.."
sim=${BUILD:-build}/src/hostsim/hv-hostsim
out=$(mktemp -d)
# Timings and pids differ on every run; drop them before comparing.
clean() { sed -E 's/\([0-9.]+ ms\)//; s/pid [0-9]+/pid N/; s/after [0-9.]+ ms//; s#/tmp/hv-hostsim\.[A-Za-z0-9]+#SCRATCH#g' ; }
"$sim" run --netns --var-lib-tmpfs --state-dir /var/lib/hyperv --os-release demo/os-release \
  --script tests/compare/kvp-compare.scenario -- /usr/sbin/hv_kvp_daemon -n 2>&1 | clean > "$out/upstream.txt" || true
"$sim" run --netns --os-release demo/os-release --script tests/compare/kvp-compare.scenario -- \
  ${BUILD:-build}/src/kvp/hv_kvp_daemon --device @DEVICE@ --state-dir @STATE@ --config /nonexistent \
  --config-dir /nonexistent 2>&1 | clean > "$out/hvguest.txt" || true
diff -u --label upstream --label hvguest "$out/upstream.txt" "$out/hvguest.txt" || true
rm -rf "$out"
