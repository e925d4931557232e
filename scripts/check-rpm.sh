#!/bin/bash
# Builds the hvguest RPM from hvguest.spec the way a distro build would: a source tarball
# of the working tree (tracked files plus new, not ignored ones), rpmbuild -bb in a
# throw-away topdir, then checks the payload against what the source tree installs and runs
# rpmlint when it is installed. Works with Debian's `rpm` package: build dependencies are
# not in the (empty) rpm database there, so rpmbuild runs with --nodeps.
# Exit status 0 when the package builds and every expected file is in it.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

command -v rpmbuild >/dev/null || { echo "rpmbuild not found (apt-get install rpm)"; exit 1; }

version=$(sed -n 's/^Version: *//p' hvguest.spec)
name=hvguest-$version
work=$(mktemp -d /tmp/hvguest-rpm-XXXXXX)
trap '[ -n "${HVGUEST_RPM_KEEP:-}" ] || rm -rf "$work"' EXIT
mkdir -p "$work"/{BUILD,BUILDROOT,RPMS,SOURCES,SPECS,SRPMS}

# The source tarball: what `git archive` would give, plus uncommitted new files, minus
# deleted ones, under the hvguest-VERSION/ prefix %autosetup expects.
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  tar --null -T - --transform "s|^|$name/|" -czf "$work/SOURCES/$name.tar.gz"
cp hvguest.spec "$work/SPECS/"

echo "rpmbuild -bb (topdir $work)"
# Two Debian rpm quirks, so the payload looks like a Fedora build's: its brp-compress is a
# bash script with a /bin/sh shebang (man pages stay uncompressed under dash), and with no
# find-debuginfo run its brp-strip (strip -g) leaves the symbol tables in.
# (the wrapper drops brp-strip's -g, which would otherwise win over --strip-unneeded).
printf '#!/bin/sh\nfor a; do shift; [ "$a" = -g ] || set -- "$@" "$a"; done\nexec strip --strip-unneeded "$@"\n' >"$work/strip"
chmod +x "$work/strip"
if ! rpmbuild -bb --nodeps --define "_topdir $work" \
     --define '__brp_compress /bin/bash %{_rpmconfigdir}/brp-compress %{?_prefix}' \
     --define "__strip $work/strip" \
     "$work/SPECS/hvguest.spec" \
     >"$work/rpmbuild.log" 2>&1; then
  tail -40 "$work/rpmbuild.log"
  echo "rpm: rpmbuild failed"
  exit 1
fi
rpm_file=$(find "$work/RPMS" -name "$name-*.rpm" ! -name '*debug*' | head -1)
[ -n "$rpm_file" ] || { echo "rpm: no package produced"; exit 1; }
echo "built $(basename "$rpm_file")"

payload=$(rpm -qlp "$rpm_file" 2>/dev/null)
echo "payload:"
sed 's/^/  /' <<<"$payload"

# Expected files, derived from the source tree so new units and pages are not forgotten.
# The spec's own directory macros (with their fallbacks), evaluated as rpmbuild did.
spec_eval() { rpm --eval "$(grep -E '^%\{!\?_(unitdir|udevrulesdir):' hvguest.spec)$1" | tail -1; }
unitdir=$(spec_eval '%{_unitdir}')
rulesdir=$(spec_eval '%{_udevrulesdir}')
sbindir=$(rpm --eval '%{_sbindir}')
expected=(/etc/hvguest/hvguest.conf "$sbindir/hvctl" "$(rpm --eval '%{_libexecdir}')/hypervkvpd/hv_set_ifconfig")
for in in systemd/*.service.in; do
  unit=$(basename "$in" .in)
  expected+=("$unitdir/$unit")
  exe=$(sed -n 's|^ExecStart=@sbindir@/\([^ ]*\).*|\1|p' "$in" | head -1)
  [ -n "$exe" ] && expected+=("$sbindir/$exe")
done
for rules in systemd/*.rules; do expected+=("$rulesdir/$(basename "$rules")"); done
mandir=$(rpm --eval '%{_mandir}')
for page in man/*.scd; do
  p=$(basename "$page" .scd)
  expected+=("$mandir/man${p##*.}/$p")
done

missing=0
for f in "${expected[@]}"; do
  case $f in /*) ;; *) echo "BAD expected path '$f'"; missing=$((missing + 1)); continue ;; esac
  # Man pages are compressed by the distro's brp scripts (gz on Fedora and Debian).
  if grep -qxE "$(sed 's/[.[\*^$]/\\&/g' <<<"$f")(\.(gz|bz2|xz|zst))?" <<<"$payload"; then
    echo "ok      $f"
  else
    echo "MISSING $f"
    missing=$((missing + 1))
  fi
done
# Every program in sbindir has its page in section 8.
for exe in $(grep "^$sbindir/" <<<"$payload"); do
  p=$(basename "$exe")
  if ! grep -qE "^$mandir/man8/$p\.8(\.(gz|bz2|xz|zst))?\$" <<<"$payload"; then
    echo "MISSING man page for $exe"
    missing=$((missing + 1))
  fi
done
if grep -q -e hostsim -e '/test-' <<<"$payload"; then
  echo "UNEXPECTED test tools in the payload"
  missing=$((missing + 1))
fi

echo "scriptlets:"
rpm -qp --scripts "$rpm_file" 2>/dev/null | sed 's/^/  /'
echo "provides/obsoletes:"
{ rpm -qp --provides "$rpm_file"; rpm -qp --obsoletes "$rpm_file"; } 2>/dev/null | sed 's/^/  /'
rpm -qp --configfiles "$rpm_file" 2>/dev/null | grep -qx /etc/hvguest/hvguest.conf ||
  { echo "hvguest.conf is not marked %config"; missing=$((missing + 1)); }

if command -v rpmlint >/dev/null; then
  echo "rpmlint:"
  # Debian's rpmlint has no Fedora configuration; its result is reported, not enforced,
  # except for errors.
  # Fedora's rpmlint profile expects gzip'ed man pages; upstream's default is bzip2.
  printf 'CompressExtension = "gz"\n' >"$work/rpmlint.toml"
  lint=$(rpmlint -c "$work/rpmlint.toml" -r "$top/hvguest.rpmlintrc" "$top/hvguest.spec" \
    "$rpm_file" 2>&1) || true
  sed 's/^/  /' <<<"$lint"
  if grep -qE '[0-9]+ errors' <<<"$lint" && ! grep -qE '\b0 errors' <<<"$lint"; then
    echo "rpm: rpmlint reports errors"
    missing=$((missing + 1))
  fi
else
  echo "rpmlint: not installed, skipped"
fi

if [ "$missing" -gt 0 ]; then
  echo "rpm: $missing problem(s)"
  exit 1
fi
echo "rpm: ok"
