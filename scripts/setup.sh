#!/usr/bin/env bash
# Installs gyre's build and test dependencies from Debian's packages.
# Does nothing when every package is already installed. Needs root (or sudo).
set -euo pipefail
pkgs=(build-essential cmake pkg-config clang-format
      petsc-dev libnetcdf-mpi-dev netcdf-bin libopenblas-dev
      libfftw3-dev libfftw3-mpi-dev openmpi-bin
      python3-xarray python3-netcdf4 python3-matplotlib
      cdo nco valgrind)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all dependencies present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
echo "setup: done"
