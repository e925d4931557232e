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
banner() {
  echo
  echo "================================================================"
  echo " hvguest demo $1"
  echo "================================================================"
}
banner "1/2: hv_kvp_daemon (Data Exchange) on a simulated host"
"$sim" run --netns --os-release demo/os-release --script demo/kvp.scenario -- \
  build/src/kvp/hv_kvp_daemon --device @DEVICE@ --state-dir @STATE@ \
  --config /dev/null --config-dir /nonexistent

banner "2/2: hv_vss_daemon (live backup) on a simulated host"
"$sim" run --service vss --script demo/vss.scenario -- \
  build/src/vss/hv_vss_daemon --device @DEVICE@ --run-dir @STATE@/run \
  --hooks-dir @STATE@/vss.d --config /dev/null --config-dir /nonexistent
