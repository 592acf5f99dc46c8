#!/usr/bin/env bash
# Installs gyre's build and test dependencies from Debian's packages.
# Does nothing when every package is already installed. Needs root (or sudo).
#
# Two MPI stacks live side by side: Open MPI (the one Debian's PETSc and libnetcdf-mpi are
# built with: the full suite) and MPICH with the serial libnetcdf (the second configuration
# of the surrogate library alone, `make test-mpich`). libmpich-dev registers its own
# alternatives for mpicc, mpiexec and the MPI headers; they must keep pointing at Open MPI,
# so this script sets them back if installing MPICH (or anything else) changed them.
#
# slurmctld, slurmd, slurm-client and munge are for the slurm tests (tests/slurm/), which
# start their own throwaway cluster; the services the packages install are not used.
set -euo pipefail
pkgs=(build-essential cmake pkg-config clang-format
      petsc-dev libnetcdf-mpi-dev netcdf-bin libopenblas-dev
      libfftw3-dev libfftw3-mpi-dev openmpi-bin
      libmpich-dev mpich libnetcdf-dev
      python3-xarray python3-netcdf4 python3-matplotlib
      cdo nco valgrind
      slurmctld slurmd slurm-client munge)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# The default MPI alternatives must be Open MPI's (name, link target).
openmpi_alternatives() {
  local arch
  arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
  echo "mpi /usr/bin/mpicc.openmpi"
  echo "mpirun /usr/bin/mpirun.openmpi"
  echo "mpi-$arch /usr/lib/$arch/openmpi/include"
}
fix_alternatives() {
  local name want now
  while read -r name want; do
    now=$(update-alternatives --query "$name" 2>/dev/null | sed -n 's/^Value: //p')
    [ -z "$now" ] || [ "$now" = "$want" ] && continue
    echo "setup: alternative $name points to $now; setting it back to $want"
    $SUDO update-alternatives --quiet --set "$name" "$want"
  done < <(openmpi_alternatives)
}

if [ ${#missing[@]} -eq 0 ]; then
  fix_alternatives
  echo "setup: all dependencies present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fix_alternatives
echo "setup: done"
