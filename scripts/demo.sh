#!/bin/bash
# The hvguest demo: every daemon built so far against hv-hostsim, the simulated Hyper-V
# host, narrated. Needs root (namespaces, FUSE); changes nothing outside its namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
if [ ! -f build/build.ninja ]; then
  meson setup build >/dev/null
fi
ninja -C build >/dev/null

sim=build/src/hostsim/hv-hostsim
echo "================================================================"
echo " hvguest demo 1/1: hv_kvp_daemon (Data Exchange) on a simulated host"
echo "================================================================"
"$sim" run --netns --os-release demo/os-release --script demo/kvp.scenario -- \
  build/src/kvp/hv_kvp_daemon --device @DEVICE@ --state-dir @STATE@
