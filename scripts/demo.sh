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
banner "1/3: hv_kvp_daemon (Data Exchange) on a simulated host"
"$sim" run --netns --os-release demo/os-release --script demo/kvp.scenario -- \
  build/src/kvp/hv_kvp_daemon --device @DEVICE@ --state-dir @STATE@ \
  --config /dev/null --config-dir /nonexistent

banner "2/3: hv_vss_daemon (live backup) on a simulated host"
"$sim" run --service vss --script demo/vss.scenario -- \
  build/src/vss/hv_vss_daemon --device @DEVICE@ --run-dir @STATE@/run \
  --hooks-dir @STATE@/vss.d --config /dev/null --config-dir /nonexistent

banner "3/3: hv_fcopy_daemon (Copy-VMFile) on a simulated host, uio ring (kernel >= 6.10)"
demo_dir=$(mktemp -d /tmp/hvguest-demo.XXXXXX)
trap 'rm -rf "$demo_dir"' EXIT
head -c 300000 /dev/urandom >"$demo_dir/payload.bin"
sed "s|@DEMO@|$demo_dir|g" demo/fcopy.scenario >"$demo_dir/fcopy.scenario"
"$sim" run --service fcopy --fcopy-transport uio --script "$demo_dir/fcopy.scenario" -- \
  build/src/fcopy/hv_fcopy_daemon --uio-fds=@UIO_FDS@ --run-dir @STATE@/run \
  --config /dev/null --config-dir /nonexistent
