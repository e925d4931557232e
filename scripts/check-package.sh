#!/bin/bash
# Builds the hvguest .deb from a copy of the working tree, runs lintian on it, unpacks it into a
# throw-away root (dpkg -x: this machine's dpkg database is never touched) and checks it the
# way a distribution would: files in place, "systemd-analyze verify" and the offline security
# exposure of every unit, enabling through the Alias= names, man pages free of groff warnings,
# and that removal leaves nothing but the KVP state in /var/lib/hyperv.
# Usage: scripts/check-package.sh [--keep]   (--keep leaves the temp dir for inspection)
# Exit status: 0 when every check passed.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
keep=no
[ "${1:-}" = --keep ] && keep=yes

work=$(mktemp -d /tmp/hvguest-pkg.XXXXXX)
cleanup() { if [ $keep = yes ]; then echo "(kept $work)"; else rm -rf "$work"; fi; }
trap cleanup EXIT

results=()
nfail=0
# record NAME ok|FAIL [detail]
record() {
	results+=("$(printf '%-44s %-4s %s' "$1" "$2" "${3:-}")")
	[ "$2" = ok ] || nfail=$((nfail + 1))
}
summary() {
	echo
	echo "=== package check summary"
	printf '%s\n' "${results[@]}"
	echo "package checks: $((${#results[@]} - nfail)) passed, $nfail failed"
	[ $nfail -eq 0 ]
}

# --- build ------------------------------------------------------------------------------------
# dpkg-buildpackage writes to the parent of the source tree: build in $work/src/hvguest.
echo "=== dpkg-buildpackage (copy of the working tree in $work)"
mkdir -p "$work/src/hvguest"
# Tracked and new (not ignored) files as they are now; without git, everything but build dirs.
if git rev-parse --git-dir >/dev/null 2>&1; then
	git ls-files -co --exclude-standard -z
else
	find . -path './build*' -prune -o -path ./.git -prune -o ! -type d -printf '%P\0'
fi | grep -zv '^build' | tar -c --null -T - -f - | tar -x -C "$work/src/hvguest" -f -
if ! (cd "$work/src/hvguest" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
	tail -40 "$work/build.log"
	record "dpkg-buildpackage -us -uc -b" FAIL "see build log above"
	[ -f "$work/stub.log" ] && sed 's/^/  stubbed: /' "$work/stub.log"
echo "(${SECONDS}s)"
summary
	exit 1
fi
deb=$(ls "$work"/src/hvguest_*.deb 2>/dev/null | grep -v dbgsym | head -1)
changes=$(ls "$work"/src/hvguest_*.changes 2>/dev/null | head -1)
record "dpkg-buildpackage -us -uc -b" ok "$(basename "$deb") (${SECONDS}s)"

# --- lintian ----------------------------------------------------------------------------------
echo "=== lintian $(basename "$changes")"
lintian --display-info --pedantic --fail-on none "$changes" "$deb" >"$work/lintian.log" 2>&1
grep -v 'running with root privileges' "$work/lintian.log" | sort -u
ew=$(grep -cE '^[EW]: ' "$work/lintian.log")
if [ "$ew" -eq 0 ]; then
	record "lintian (no E:/W:)" ok "$(grep -cE '^[IPX]: ' "$work/lintian.log") info/pedantic"
else
	record "lintian (no E:/W:)" FAIL "$ew errors/warnings"
fi

# --- unpack into a throw-away root ------------------------------------------------------------
root=$work/root
mkdir -p "$root" "$work/control"
dpkg -x "$deb" "$root"
dpkg -e "$deb" "$work/control"
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|; s|/$||; s| -> .*||' | grep -v '^$' |
	grep -vx '/' >"$work/files"
unitdir=$(dpkg-deb -c "$deb" | awk '{print $6}' | grep -oE '^\./(usr/)?lib/systemd/system/' | head -1)
unitdir=${unitdir#.}
unitdir=${unitdir%/}
rulesdir=$(dpkg-deb -c "$deb" | awk '{print $6}' | grep -oE '^\./(usr/)?lib/udev/rules.d/' | head -1)
rulesdir=${rulesdir#.}
rulesdir=${rulesdir%/}

# --- files in place ---------------------------------------------------------------------------
echo "=== files"
daemons=(kvp vss fcopy)
[ -e "$root/usr/sbin/hv_timesync_daemon" ] && daemons+=(timesync)
expected=(/usr/sbin/hvctl /usr/libexec/hypervkvpd/hv_set_ifconfig /etc/hvguest/hvguest.conf
	/usr/share/man/man8/hvctl.8.gz /usr/share/man/man5/hvguest.conf.5.gz
	/usr/share/doc/hvguest/copyright)
for d in "${daemons[@]}"; do
	expected+=("/usr/sbin/hv_${d}_daemon" "$unitdir/hv-$d-daemon.service"
		"$rulesdir/70-hv-$d-daemon.rules" "/usr/share/man/man8/hv_${d}_daemon.8.gz")
done
missing=()
for f in "${expected[@]}"; do
	if [ -e "$root$f" ]; then echo "  $f"; else missing+=("$f"); fi
done
if [ ${#missing[@]} -eq 0 ]; then
	record "files in place (${#expected[@]})" ok "daemons: ${daemons[*]}"
else
	record "files in place (${#expected[@]})" FAIL "missing: ${missing[*]}"
fi
# Everything the source tree has for the system is shipped: units, udev rules, man pages.
src=$work/src/hvguest
unshipped=()
for f in "$src"/systemd/*.service.in "$src"/systemd/*.rules "$src"/man/*.scd; do
	[ -e "$f" ] || continue
	b=$(basename "$f")
	case $b in
	*.service.in) t=$unitdir/${b%.in} ;;
	*.rules) t=$rulesdir/$b ;;
	*.scd) b=${b%.scd} && t=/usr/share/man/man${b##*.}/$b.gz ;;
	esac
	[ -e "$root$t" ] || unshipped+=("$t")
done
if [ ${#unshipped[@]} -eq 0 ]; then
	record "source units/rules/man pages all shipped" ok
else
	record "source units/rules/man pages all shipped" FAIL "${unshipped[*]}"
fi
# Every shipped unit needs its binary, every shipped binary in /usr/sbin its unit or man page.
orphans=()
for u in "$root$unitdir"/*.service; do
	exe=$(sed -n 's/^ExecStart=[-@!+:]*\([^ ]*\).*/\1/p' "$u" | head -1)
	[ -x "$root$exe" ] || orphans+=("$(basename "$u") -> $exe")
done
if [ ${#orphans[@]} -eq 0 ]; then
	record "every unit's ExecStart shipped" ok
else
	record "every unit's ExecStart shipped" FAIL "${orphans[*]}"
fi
hostsim=$(grep -E 'hostsim|/bench|fuzz-|test-' "$work/files" | tr '\n' ' ')
[ -z "$hostsim" ] && record "no test tools shipped" ok || record "no test tools shipped" FAIL "$hostsim"
grep -qx /etc/hvguest/hvguest.conf "$work/control/conffiles" 2>/dev/null &&
	record "conffile /etc/hvguest/hvguest.conf" ok ||
	record "conffile /etc/hvguest/hvguest.conf" FAIL "not in DEBIAN/conffiles"

# --- systemd-analyze verify -------------------------------------------------------------------
# "verify" has no --root= on systemd 252: it resolves ExecStart= and Documentation=man: in the
# host's file system. So the units are verified in a private mount namespace with the package's
# /usr stacked over the host's (read-only overlay, package first): the binaries' paths resolve
# to the package's files, nothing on the host changes, and the mount vanishes with the namespace.
echo "=== systemd-analyze verify"
verify_out=$(unshare -m --propagation private bash -c '
	mount -t overlay overlay -o lowerdir="$1/usr:/usr" /usr || exit 2
	for u in "$1$2"/*.service; do
		out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=yes "$u" 2>&1 | grep -v "^$")
		echo "$(basename "$u"): ${out:-ok}"
	done' _ "$root" "$unitdir" 2>&1)
echo "$verify_out"
for u in "$root$unitdir"/*.service; do
	n=$(basename "$u")
	line=$(grep -A20 "^$n: " <<<"$verify_out" | sed '/^hv-.*\.service: /{1!Q}')
	if [ "$line" = "$n: ok" ]; then record "verify $n" ok; else record "verify $n" FAIL "$(tr '\n' ' ' <<<"${line#$n: }")"; fi
done

# --- exposure ---------------------------------------------------------------------------------
# Targets of issues 2, 4, 5, 6 (the same limits as scripts/test.sh's hardening step).
echo "=== systemd-analyze security --offline=yes --root=$root"
for u in "$root$unitdir"/*.service; do
	n=$(basename "$u")
	case $n in
	hv-vss-daemon.service) limit=4.0 ;;
	*) limit=2.5 ;;
	esac
	score=$(systemd-analyze security --offline=yes --root="$root" "$n" 2>/dev/null |
		sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
	echo "$n: ${score:-unknown} (limit $limit)"
	if [ -n "$score" ] && awk -v s="$score" -v l="$limit" 'BEGIN {exit !(s <= l)}'; then
		record "exposure $n" ok "$score (<= $limit)"
	else
		record "exposure $n" FAIL "${score:-unknown} (> $limit)"
	fi
done

# --- enable the Debian way, aliases -----------------------------------------------------------
# What postinst's deb-systemd-helper does, done by systemctl on the throw-away root: enabling
# must create the multi-user.target.wants link and the Fedora-style alias names.
# On a copy, so the removal check below sees only what the package itself left.
echo "=== systemctl --root enable"
eroot=$work/enable-root
cp -a "$root" "$eroot"
en_fail=()
for u in "$root$unitdir"/*.service; do
	n=$(basename "$u")
	systemctl --root="$eroot" enable "$n" >/dev/null 2>&1 || en_fail+=("$n: enable failed")
	[ -L "$eroot/etc/systemd/system/multi-user.target.wants/$n" ] || en_fail+=("$n: no wants link")
	for a in $(sed -n 's/^Alias=//p' "$u"); do
		t=$(readlink "$eroot/etc/systemd/system/$a")
		[ "$(basename "$t")" = "$n" ] && echo "  $a -> $t" || en_fail+=("$n: alias $a missing")
	done
done
if [ ${#en_fail[@]} -eq 0 ]; then
	record "enable + Alias= names" ok "$(sed -n 's/^Alias=//p' "$root$unitdir"/*.service | tr '\n' ' ')"
else
	record "enable + Alias= names" FAIL "${en_fail[*]}"
fi

# --- man pages --------------------------------------------------------------------------------
echo "=== man pages (groff -ww)"
for m in "$root"/usr/share/man/man*/*; do
	n=$(basename "$m")
	w=$(zcat "$m" | LC_ALL=C.UTF-8 groff -ww -z -man -Tutf8 2>&1)
	w2=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$m" 2>&1 >/dev/null)
	if [ -z "$w$w2" ]; then
		record "man $n" ok
	else
		printf '%s\n' "$w" "$w2"
		record "man $n" FAIL "groff warnings"
	fi
done

# --- removal ----------------------------------------------------------------------------------
# Remove: every path the package ships (dpkg -c) is deleted, conffiles included on purge; on a
# real system, the daemons create only /var/lib/hyperv (StateDirectory=) and /run/hvguest
# (tmpfs). Simulated here on the throw-away root: add the state the daemons would have written,
# delete the shipped files (what dpkg --remove does, directories only when empty), then run the
# maintainer scripts with DPKG_ROOT pointing at the root.
echo "=== remove / purge"
mkdir -p "$root/var/lib/hyperv"
for i in 0 1 2 3 4; do : >"$root/var/lib/hyperv/.kvp_pool_$i"; done
# Files first (deepest first), then directories that became empty.
tac "$work/files" | while read -r f; do
	[ -d "$root$f" ] && [ ! -L "$root$f" ] || rm -f "$root$f"
done
tac "$work/files" | while read -r f; do
	[ -d "$root$f" ] && [ ! -L "$root$f" ] && rmdir --ignore-fail-on-non-empty "$root$f"
done
# The maintainer scripts run with DPKG_ROOT pointing at the root, in a private mount namespace
# where deb-systemd-helper, deb-systemd-invoke and systemctl are replaced by a stub that only
# logs its arguments: the debhelper snippets guard some calls with DPKG_ROOT, not all, and this
# machine's systemd state must not change.
cat >"$work/stub" <<EOS
#!/bin/sh
echo "\$(basename "\$0") \$*" >>"$work/stub.log"
EOS
chmod +x "$work/stub"
run_script() {
	unshare -m --propagation private sh -c '
		for t in /usr/bin/deb-systemd-helper /usr/bin/deb-systemd-invoke /usr/bin/systemctl; do
			[ -e "$t" ] && mount --bind "$1" "$t"
		done
		shift; DPKG_ROOT=$1 sh -e "$2" "$3"' _ "$work/stub" "$root" "$work/control/$1" "$2"
}
echo "(maintainer-script calls to the systemd helpers go to a stub: $work/stub.log)"
if [ -f "$work/control/postrm" ] && ! run_script postrm remove; then
	record "postrm remove" FAIL "exit status"
fi
left=$(cd "$root" && find . -mindepth 1 | sed 's|^\.||' | sort)
extra=$(grep -v '^/var\(/lib\(/hyperv\(/.*\)\?\)\?\)\?$' <<<"$left" | tr '\n' ' ')
if [ -z "$extra" ] && [ -d "$root/var/lib/hyperv" ] && [ -e "$root/var/lib/hyperv/.kvp_pool_0" ]; then
	record "remove leaves only /var/lib/hyperv" ok
else
	record "remove leaves only /var/lib/hyperv" FAIL "left: ${extra:-(state gone)}"
fi
if [ -f "$work/control/postrm" ] && run_script postrm purge; then
	if [ -e "$root/var/lib/hyperv" ]; then
		record "postrm purge removes /var/lib/hyperv" FAIL "still there"
	else
		record "postrm purge removes /var/lib/hyperv" ok
	fi
else
	record "postrm purge removes /var/lib/hyperv" FAIL "postrm missing or failed"
fi

[ -f "$work/stub.log" ] && sed 's/^/  stubbed: /' "$work/stub.log"
echo "(${SECONDS}s)"
summary
