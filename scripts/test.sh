#!/bin/bash
# Builds hvguest and runs every test: unit and integration tests (the real daemons against
# hv-hostsim), the same under ASan+UBSan, a bounded run of every fuzz target, and the
# systemd unit's hardening score. Needs root (namespaces, FUSE). Prints one closing line
# "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD

bash scripts/deps.sh || { echo "dependency installation failed"; exit 1; }

fuzz_seconds=${HVGUEST_FUZZ_SECONDS:-30}
failed_steps=()
passed=0
failed=0

step() { echo; echo "=== $*"; }

# Adds the cmocka case counts of one meson build's test log to the totals.
count_cases() {
  local log=$1/meson-logs/testlog.txt p f
  [ -f "$log" ] || return 0
  p=$(grep -aoE '\[  PASSED  \] [0-9]+ test' "$log" | awk '{s+=$4} END {print s+0}')
  f=$(grep -aoE '\[  FAILED  \] [0-9]+ test' "$log" | awk '{s+=$4} END {print s+0}')
  passed=$((passed + p))
  failed=$((failed + f))
  # A test binary can pass every case and still fail (a sanitizer report at exit).
  f=$(grep -aoE '^Fail: +[0-9]+' "$1/meson-logs/testlog.txt" | awk '{s+=$2} END {print s+0}')
  failed=$((failed + f))
}

run_suite() {
  local dir=$1; shift
  step "configure $dir $*"
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; failed_steps+=("setup $dir"); return; }
  fi
  step "build $dir"
  ninja -C "$dir" || { failed_steps+=("build $dir"); return; }
  step "test $dir"
  meson test -C "$dir" --print-errorlogs --num-processes 2 || failed_steps+=("tests in $dir")
  count_cases "$dir"
}

# The network managers' own parsers check the files SET_IP_INFO writes (netplan generate,
# ifquery, libnm's keyfile reader). Installing netplan.io or ifupdown could touch this
# machine's network, so their packages are only unpacked into the build tree.
verify_tools() {
  local dir=$top/build-verify-tools pkgs=(netplan.io libnetplan0 ifupdown gir1.2-nm-1.0 libnm0)
  if [ ! -d "$dir/root" ]; then
    mkdir -p "$dir/debs" "$dir/root"
    (cd "$dir/debs" && { apt-get download -qq "${pkgs[@]}" >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get download -qq "${pkgs[@]}" >/dev/null 2>&1; }; }) ||
      { echo "(could not download ${pkgs[*]}: those checks will skip)"; rm -rf "$dir"; return 0; }
    for deb in "$dir"/debs/*.deb; do dpkg -x "$deb" "$dir/root"; done
  fi
  export NETPLAN_GENERATE=$dir/root/usr/libexec/netplan/generate
  export IFQUERY=$dir/root/sbin/ifquery
  export LD_LIBRARY_PATH=$dir/root/usr/lib/x86_64-linux-gnu
  export GI_TYPELIB_PATH=$dir/root/usr/lib/x86_64-linux-gnu/girepository-1.0
}
verify_tools

run_suite build
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false

step "fuzz (${fuzz_seconds}s per target)"
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=disabled -Dman=disabled \
    -Db_sanitize=address,undefined -Db_lundef=false >build-fuzz.setup.log 2>&1 \
    || { cat build-fuzz.setup.log; failed_steps+=("setup fuzz"); }
fi
if ninja -C build-fuzz >/dev/null; then
  for target in $(find build-fuzz/src -type f -executable -name 'fuzz-*' | sort); do
    name=$(basename "$target")
    corpus=$(mktemp -d)
    seeds="$top/fuzz/corpus/$name"
    [ -d "$seeds" ] && cp -r "$seeds/." "$corpus/"
    # UBSan only prints and carries on unless told to stop: a parser overflow must fail.
    if UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$target" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
         -print_final_stats=1 "$corpus" >"build-fuzz/$name.log" 2>&1; then
      echo "fuzz $name: ok ($(grep -m1 -oE 'stat::number_of_executed_units: *[0-9]+' "build-fuzz/$name.log" | grep -oE '[0-9]+$') runs)"
      passed=$((passed + 1))
    else
      tail -40 "build-fuzz/$name.log"
      echo "fuzz $name: crashed"
      failed=$((failed + 1))
      failed_steps+=("fuzz $name")
    fi
    rm -rf "$corpus"
  done
else
  failed_steps+=("build fuzz")
fi

step "systemd hardening (exposure limits: KVP 2.5, fcopy 2.5, timesync 2.5, VSS 4.0 - it needs CAP_SYS_ADMIN to freeze)"
for unit in build/systemd/*.service; do
  case $(basename "$unit") in
    hv-vss-daemon.service) limit=4.0 ;;
    hv-fcopy-daemon.service) limit=2.5 ;;
    hv-timesync-daemon.service) limit=2.5 ;;
    *) limit=2.5 ;;
  esac
  score=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
  if [ -n "$score" ] && awk -v s="$score" -v l="$limit" 'BEGIN {exit !(s <= l)}'; then
    echo "$(basename "$unit"): $score (limit $limit)"
    passed=$((passed + 1))
  else
    echo "$(basename "$unit"): exposure '${score:-unknown}' is above $limit"
    failed=$((failed + 1))
    failed_steps+=("hardening $unit")
  fi
done

step "package (deb): build, lintian, install into a throw-away root"
if bash scripts/check-package.sh; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  failed_steps+=("package (deb)")
fi

step "package (rpm): rpmbuild -bb of hvguest.spec, payload, rpmlint"
if bash scripts/check-rpm.sh; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  failed_steps+=("package (rpm)")
fi

step "formatting (clang-format)"
if find src bench tests -name '*.[ch]' -print0 | xargs -0 clang-format --dry-run --Werror 2>/tmp/hvguest-format.log; then
  echo "formatting ok"
else
  head -30 /tmp/hvguest-format.log
  failed_steps+=("clang-format")
fi

echo
if [ ${#failed_steps[@]} -gt 0 ]; then
  echo "FAILED steps: ${failed_steps[*]}"
fi
echo "tests: $passed passed, $failed failed"
[ ${#failed_steps[@]} -eq 0 ] && [ "$failed" -eq 0 ]
