#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Checks catalog/hvguest.catalog against src/common/message-id.h:
#  1. every HV_MESSAGE_ID_* macro has exactly one catalog entry, and every entry a macro;
#  2. no id is defined twice, each entry has Subject:, Defined-By: hvguest and Documentation:;
#  3. journalctl accepts the file: --update-catalog into a scratch --root, then
#     --list-catalog lists exactly our ids (offline; touches nothing outside the scratch dir).
#
# Usage: check-catalog.sh CATALOG MESSAGE_ID_H
set -eu

catalog=$1
header=$2
fail=0
err() {
	echo "check-catalog: $*" >&2
	fail=1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Ids from the header: #define HV_MESSAGE_ID_X "MESSAGE_ID=<32 hex>"
sed -n 's/^#define[[:space:]]\{1,\}HV_MESSAGE_ID_[A-Z0-9_]\{1,\}[[:space:]]\{1,\}"MESSAGE_ID=\([0-9a-f]*\)".*/\1/p' \
	"$header" >"$tmp/header-all"
n_macros=$(grep -c '^#define[[:space:]]\{1,\}HV_MESSAGE_ID_' "$header" || true)
[ "$n_macros" -gt 0 ] || err "no HV_MESSAGE_ID_ macros in $header"
[ "$(wc -l <"$tmp/header-all")" -eq "$n_macros" ] ||
	err "$header: a HV_MESSAGE_ID_ macro is not of the form \"MESSAGE_ID=<32 hex digits>\""
grep -v '^[0-9a-f]\{32\}$' "$tmp/header-all" | while read -r bad; do
	echo "check-catalog: $header: '$bad' is not 32 lower-case hex digits" >&2
done
grep -q -v '^[0-9a-f]\{32\}$' "$tmp/header-all" && fail=1

# Entry headers from the catalog: "-- <id>" optionally followed by a language.
sed -n 's/^-- \([^ ]*\).*/\1/p' "$catalog" >"$tmp/catalog-all"

for f in header catalog; do
	sort "$tmp/$f-all" | uniq -d >"$tmp/$f-dup"
	if [ -s "$tmp/$f-dup" ]; then
		err "$f defines these ids more than once: $(tr '\n' ' ' <"$tmp/$f-dup")"
	fi
	sort -u "$tmp/$f-all" >"$tmp/$f"
done
comm -23 "$tmp/header" "$tmp/catalog" >"$tmp/only-header"
comm -13 "$tmp/header" "$tmp/catalog" >"$tmp/only-catalog"
[ ! -s "$tmp/only-header" ] ||
	err "ids in $header without a catalog entry: $(tr '\n' ' ' <"$tmp/only-header")"
[ ! -s "$tmp/only-catalog" ] ||
	err "catalog entries without a HV_MESSAGE_ID_ macro: $(tr '\n' ' ' <"$tmp/only-catalog")"

# Each entry's header block (up to the first empty line) has the fields we promise.
awk '
	/^-- / { if (id != "") check(); id = $2; inhdr = 1; subj = def = doc = 0; next }
	inhdr && /^$/ { inhdr = 0; next }
	inhdr && /^Subject: ./ { subj = 1 }
	inhdr && /^Defined-By: hvguest$/ { def = 1 }
	inhdr && /^Documentation: man:/ { doc = 1 }
	function check() {
		if (!subj || !def || !doc) {
			printf "check-catalog: entry %s lacks Subject:, Defined-By: hvguest or Documentation: man:...\n", id > "/dev/stderr"
			bad = 1
		}
	}
	END { if (id != "") check(); exit bad }
' "$catalog" || fail=1

# journalctl's own parser, offline, into a scratch root.
if command -v journalctl >/dev/null 2>&1; then
	mkdir -p "$tmp/root/usr/lib/systemd/catalog"
	cp "$catalog" "$tmp/root/usr/lib/systemd/catalog/hvguest.catalog"
	if ! journalctl --update-catalog --root="$tmp/root" 2>"$tmp/update.err"; then
		err "journalctl --update-catalog failed: $(cat "$tmp/update.err")"
	elif [ -s "$tmp/update.err" ]; then
		# journalctl reports parse problems as messages but may still exit 0.
		err "journalctl --update-catalog complained: $(cat "$tmp/update.err")"
	fi
	journalctl --root="$tmp/root" --list-catalog 2>/dev/null | awk '{ print $1 }' | sort -u \
		>"$tmp/listed" || true
	if ! cmp -s "$tmp/listed" "$tmp/header"; then
		err "journalctl --list-catalog does not list exactly the ids of $header:"
		diff "$tmp/header" "$tmp/listed" >&2 || true
	fi
else
	echo "check-catalog: journalctl not found, skipping its parser check" >&2
fi

[ "$fail" -eq 0 ] || exit 1
echo "check-catalog: $(wc -l <"$tmp/header") ids, catalog and header agree"
