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
banner "1/4: hv_kvp_daemon (Data Exchange) on a simulated host"
"$sim" run --netns --os-release demo/os-release --script demo/kvp.scenario -- \
  build/src/kvp/hv_kvp_daemon --device @DEVICE@ --state-dir @STATE@ \
  --config /dev/null --config-dir /nonexistent

banner "2/4: hv_vss_daemon (live backup) on a simulated host"
"$sim" run --service vss --script demo/vss.scenario -- \
  build/src/vss/hv_vss_daemon --device @DEVICE@ --run-dir @STATE@/run \
  --hooks-dir @STATE@/vss.d --config /dev/null --config-dir /nonexistent

banner "3/4: hv_fcopy_daemon (Copy-VMFile) on a simulated host, uio ring (kernel >= 6.10)"
demo_dir=$(mktemp -d /tmp/hvguest-demo.XXXXXX)
trap 'rm -rf "$demo_dir"' EXIT
head -c 300000 /dev/urandom >"$demo_dir/payload.bin"
sed "s|@DEMO@|$demo_dir|g" demo/fcopy.scenario >"$demo_dir/fcopy.scenario"
"$sim" run --service fcopy --fcopy-transport uio --script "$demo_dir/fcopy.scenario" -- \
  build/src/fcopy/hv_fcopy_daemon --uio-fds=@UIO_FDS@ --run-dir @STATE@/run \
  --config /dev/null --config-dir /nonexistent

banner "4/4: hv_timesync_daemon disciplining a simulated clock (Hyper-V PTP sawtooth)"
cat <<'TEXT'
==> No Hyper-V PTP clock exists here and this machine's clock must never be changed, so the
    real hv_timesync_daemon binary runs under an LD_PRELOAD clock simulator (the technique of
    chrony's and linuxptp's test suites): its clock_gettime, clock_adjtime and PTP_SYS_OFFSET
    calls reach a seeded model of a guest whose clock starts 3 ms off and runs 13 ppm fast,
    and whose "hyperv" PTP clock only refreshes every 5 s and drifts 10 ppm in between (the
    sawtooth that leaves chrony ~25 us off). CAP_SYS_TIME is dropped first, so nothing can reach the real clock.
    600 simulated seconds take well under a second.
TEXT
clock_log="$demo_dir/clock.log"
setpriv --bounding-set=-sys_time --inh-caps=-sys_time --no-new-privs -- \
  env LD_PRELOAD="$PWD/build/tests/timesync/libclocksim-preload.so" \
  CLOCKSIM_SEED=1 CLOCKSIM_SCENARIO=saw10 CLOCKSIM_DURATION_S=600 CLOCKSIM_LOG="$clock_log" \
  "build/src/timesync/hv_timesync_daemon" --mode=discipline --phc=/clocksim/ptp0 \
  --run-dir="$demo_dir/run" --config=/dev/null --config-dir=/nonexistent 2>&1 |
  sed 's/^/      | /'
echo "==> Offset of the guest clock from host time (simulated seconds):"
awk '$1 ~ /^[0-9]+$/ && ($1 <= 10 || $1 % 60 == 0) {
       printf "      t=%4d s  offset %+10.3f us  frequency %+9.3f ppm  steps %d\n",
              $1, $2 / 1000, $3 / 1000, $5 }
     $1 ~ /^[0-9]+$/ && $1 >= 300 { n++; s += $2 * $2 }
     END { if (n) printf "==> RMS offset over 300-600 s: %.2f us (target 2.5 us; chrony ~25 us)\n", sqrt(s / n) / 1000 }' \
  "$clock_log"
