#!/usr/bin/env bash
# The configure step's NetCDF: with pkg-config seeing only a `netcdf.pc` (a site's module), a
# parallel build (here Debian's netcdf-mpi under that name) is taken and a serial one is one
# clear CMake error naming it, also when the same build directory is configured again with the
# other one. Each run configures a scratch build (no compiling) with PKG_CONFIG_LIBDIR set to
# a folder of this machine's .pc files less the NetCDF ones.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
pc=$(pkg-config --variable pcfiledir netcdf-mpi 2> /dev/null || true)
[ -n "$pc" ] || { echo "SKIPPED: no netcdf-mpi.pc here"; exit 77; }
[ -f "$pc/netcdf.pc" ] || { echo "SKIPPED: no serial netcdf.pc here"; exit 77; }
for kind in par ser; do
  mkdir -p "$kind"
  for f in "$pc"/*.pc /usr/share/pkgconfig/*.pc; do
    [ -f "$f" ] || continue
    case $(basename "$f") in netcdf*.pc) ;; *) cp "$f" "$kind/" ;; esac
  done
done
cp "$pc/netcdf-mpi.pc" par/netcdf.pc
cp "$pc/netcdf.pc" ser/netcdf.pc
# one build directory configured in turn with each (a module loaded, unloaded, loaded again):
# the answer must follow the NetCDF of each configure, not the cache of the one before
n=0
for kind in par ser par; do
  n=$((n + 1))
  status=0
  PKG_CONFIG_LIBDIR=$PWD/$kind cmake -S "$GYRE_SOURCE_DIR" -B build -DGYRE_ENABLE_CUDA=OFF \
    > "$n-$kind.log" 2>&1 || status=$?
  if [ $kind = par ]; then
    [ $status -eq 0 ] && grep -q "gyre: parallel NetCDF .* (pkg-config netcdf)" "$n-$kind.log" ||
      { tail -n 20 "$n-$kind.log"; fail "configure $n: a parallel netcdf.pc was not taken"; }
  else
    [ $status -ne 0 ] || { tail -n 20 "$n-$kind.log"; fail "configure $n: a serial netcdf.pc was accepted"; }
    # (CMake wraps the message's lines)
    tr -s ' \n' ' ' < "$n-$kind.log" | grep -q "names netcdf (.*) has no parallel NetCDF-4 I/O" ||
      { tail -n 20 "$n-$kind.log"; fail "configure $n: no message naming the serial netcdf.pc"; }
    grep -A3 "CMake Error" "$n-$kind.log"
  fi
done
echo "configure: a parallel netcdf.pc taken, a serial one refused with a message"
