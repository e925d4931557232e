#!/bin/bash
# Installs the Debian 12 packages hvguest needs to build, test, benchmark and demo.
# Idempotent: runs apt-get only when something is missing.
set -euo pipefail

packages=(
  build-essential meson ninja-build pkg-config clang libclang-rt-14-dev clang-format
  libnl-3-dev libnl-route-3-dev libudev-dev libsystemd-dev libcmocka-dev
  libfuse3-dev fuse3 scdoc systemd iproute2 util-linux procps python3 python3-gi
  xfsprogs btrfs-progs  # loop-image filesystems for the VSS tests
  debhelper lintian  # scripts/check-package.sh: dpkg-buildpackage and lintian on the .deb
  hyperv-daemons  # the upstream daemons, compared against in tests and benchmarks
  rpm rpmlint  # scripts/check-rpm.sh: rpmbuild of hvguest.spec and its lint
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
