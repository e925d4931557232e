#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Boot-log hygiene: Microsoft's Linux validation suite flags every boot-log line containing
# "fail", "error" or "warning" (any case). A machine without Hyper-V, or without one of the
# integration services, is normal operation: the daemons must say so without those words.
#
# Runs each daemon as it would start there (no device, empty sysfs and /dev, the shipped
# sample configuration), for at most 2 s, and fails if anything it prints contains one of
# the words, if it prints nothing at all, or if it does not exit 0: a Type=notify unit that
# exits non-zero, or before READY=1, is logged by systemd as "Failed with result", so every
# daemon sends READY=1 and exits 0 when its device is absent. A device that exists but
# cannot be used is still a failure (exit 1), checked last.
#
# Usage: check-log-hygiene.sh KVP_DAEMON VSS_DAEMON FCOPY_DAEMON TIMESYNC_DAEMON SAMPLE_CONF
set -u

kvp=$1 vss=$2 fcopy=$3 timesync=$4 conf=$5
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/sys" "$tmp/dev" "$tmp/run" "$tmp/state" "$tmp/conf.d" "$tmp/hooks"

# Plain "<N>message" lines on stderr, whatever the caller's environment.
unset JOURNAL_STREAM NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID LISTEN_FDS LISTEN_PID

run() {
	name=$1
	shift
	timeout -k 1 2 "$@" --config="$conf" --config-dir="$tmp/conf.d" >"$tmp/$name.out" 2>&1
	rc=$?
	# 124 (still running after 2 s) would mean it waits for a device that is not there.
	if [ "$rc" -ne 0 ]; then
		echo "check-log-hygiene: $name: exit status $rc, expected 0" >&2
		fail=1
	fi
	if [ ! -s "$tmp/$name.out" ]; then
		echo "check-log-hygiene: $name: printed nothing (did it run?)" >&2
		fail=1
	fi
	if grep -i -n -E 'fail|error|warning' "$tmp/$name.out" >"$tmp/$name.bad"; then
		echo "check-log-hygiene: $name: boot-log words in its output:" >&2
		sed 's/^/  /' "$tmp/$name.bad" >&2
		fail=1
	fi
	echo "$name (exit $rc):"
	sed 's/^/  /' "$tmp/$name.out"
}

run kvp "$kvp" --device="$tmp/nonexistent" --state-dir="$tmp/state"
run vss "$vss" --device="$tmp/nonexistent" --run-dir="$tmp/run" --hooks-dir="$tmp/hooks"
run fcopy "$fcopy" --sysfs-dir="$tmp/sys" --dev-dir="$tmp/dev" --run-dir="$tmp/run"
run timesync-monitor "$timesync" --sysfs-dir="$tmp/sys" --dev-dir="$tmp/dev" \
	--run-dir="$tmp/run" --mode=monitor
run timesync-auto "$timesync" --sysfs-dir="$tmp/sys" --dev-dir="$tmp/dev" --run-dir="$tmp/run"

# Only "absent at start-up" is a clean exit: a device node that cannot be registered with
# (here a directory) still fails the unit.
for d in kvp vss; do
	if [ "$d" = kvp ]; then
		prog=$kvp
		set -- --state-dir="$tmp/state"
	else
		prog=$vss
		set -- --run-dir="$tmp/run" --hooks-dir="$tmp/hooks"
	fi
	timeout -k 1 2 "$prog" --config="$conf" --config-dir="$tmp/conf.d" --device="$tmp/dev" \
		"$@" >"$tmp/$d-unusable.out" 2>&1
	rc=$?
	if [ "$rc" -ne 1 ]; then
		echo "check-log-hygiene: $d with an unusable device: exit status $rc, expected 1" >&2
		sed 's/^/  /' "$tmp/$d-unusable.out" >&2
		fail=1
	fi
done

exit $fail
