#!/usr/bin/env bash
# Installs a built tree into a temporary prefix and uses it the way a consumer would:
# find_package(Strata) and pkg-config, then runs the result on 2, 3 and 4 processes with the
# installed strata-run. Also checks that libstrata.so exports only strata* symbols, and that
# every installed executable and both consumers run without LD_LIBRARY_PATH.
# Usage: install_consumer.sh <build dir> <source dir>
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 <build dir> <source dir>" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
program=$src/tests/c99/all_collectives.c

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

step() { echo "== $*"; }
die() { echo "FAIL: $*" >&2; exit 1; }

step "cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; die "install failed"; }

lib=$(find "$prefix" -name 'libstrata.so' -print -quit)
[[ -n $lib ]] || die "libstrata.so not installed"
libdir=$(dirname "$lib")
[[ -f $prefix/include/strata/strata.h ]] || die "include/strata/strata.h not installed"
[[ -x $prefix/bin/strata-run ]] || die "bin/strata-run not installed"
[[ -f $libdir/cmake/Strata/StrataConfig.cmake ]] || die "StrataConfig.cmake not installed"
[[ -f $libdir/pkgconfig/strata.pc ]] || die "strata.pc not installed"
[[ -L $lib ]] || die "libstrata.so is not a symlink to the versioned library"
soname=$(objdump -p "$lib" | awk '$1 == "SONAME" {print $2}')
[[ -n $soname && -e $libdir/$soname ]] || die "SONAME link '$soname' missing in $libdir"

# Nothing below may lean on LD_LIBRARY_PATH: installed programs find libstrata.so themselves.
unset LD_LIBRARY_PATH

step "every installed executable runs from $prefix/bin"
count=0
for exe in "$prefix"/bin/*; do
  [[ -f $exe && -x $exe ]] || continue
  missing=$(ldd "$exe" 2>&1 | grep "not found" || true)
  [[ -z $missing ]] || die "$(basename "$exe") cannot load: $missing"
  "$exe" --help >"$tmp/help.log" 2>&1 || { cat "$tmp/help.log"; die "$(basename "$exe") --help failed"; }
  count=$((count + 1))
done
[[ $count -gt 0 ]] || die "no executable installed in $prefix/bin"
echo "$count executables load their libraries and answer --help"

step "exported symbols of $(basename "$(readlink -f "$lib")")"
# Version nodes (STRATA_0, type A) name the symbol versions, they are not symbols of their own.
exported=$(nm -D --defined-only "$lib" | awk '!($2 == "A" && $3 ~ /^STRATA_[0-9.]*$/) {print $3}' | sed 's/@.*//' | sort -u)
[[ -n $exported ]] || die "libstrata.so exports nothing"
stray=$(grep -v '^strata' <<<"$exported" || true)
if [[ -n $stray ]]; then
  echo "$stray" | head -20 >&2
  die "libstrata.so exports $(wc -l <<<"$stray") symbols outside the strata* C API"
fi
echo "$(wc -l <<<"$exported") symbols, all strata*"

run_each_size() {
  local exe=$1
  local found
  found=$(ldd "$exe" | awk '$1 ~ /^libstrata\.so/ {print $3}')
  [[ -n $found && $(readlink -f "$found") == $(readlink -f "$lib") ]] ||
    die "$exe does not resolve libstrata.so from $libdir (ldd: ${found:-nothing})"
  for np in 2 3 4; do
    echo "-- $np processes"
    "$prefix/bin/strata-run" -np "$np" --grace-ms 5000 "$exe" || die "$exe failed on $np processes"
  done
}

step "consumer built with find_package(Strata)"
mkdir -p "$tmp/cmake-consumer"
cp "$program" "$tmp/cmake-consumer/"
cat >"$tmp/cmake-consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.20)
project(StrataConsumer LANGUAGES C)
find_package(Strata 0.1 REQUIRED)
add_executable(all_collectives all_collectives.c)
target_compile_options(all_collectives PRIVATE -std=c99 -Wall -Wextra -pedantic)
target_link_libraries(all_collectives PRIVATE Strata::strata)
CMAKE
cmake -S "$tmp/cmake-consumer" -B "$tmp/cmake-consumer/build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release >"$tmp/cmake-consumer.log" 2>&1 || { cat "$tmp/cmake-consumer.log"; die "configure failed"; }
cmake --build "$tmp/cmake-consumer/build" >>"$tmp/cmake-consumer.log" 2>&1 || { cat "$tmp/cmake-consumer.log"; die "build failed"; }
run_each_size "$tmp/cmake-consumer/build/all_collectives"

step "consumer built with pkg-config"
export PKG_CONFIG_PATH=$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
echo "strata $(pkg-config --modversion strata): $(pkg-config --cflags --libs strata)"
mkdir -p "$tmp/pc-consumer"
# As the README says: an rpath to pkg-config's libdir (or LD_LIBRARY_PATH) finds the library.
# shellcheck disable=SC2046  # pkg-config output is meant to split into words
${CC:-cc} -std=c99 -Wall -Wextra -pedantic -o "$tmp/pc-consumer/all_collectives" "$program" \
  $(pkg-config --cflags --libs strata) -Wl,-rpath,"$(pkg-config --variable=libdir strata)"
run_each_size "$tmp/pc-consumer/all_collectives"

echo "install consumer: OK"
