#!/usr/bin/env bash
# Builds the unit and collective test suites under a sanitizer (clang) and runs them.
#   ./scripts/sanitize.sh asan    # AddressSanitizer + UndefinedBehaviorSanitizer, into build-asan
#   ./scripts/sanitize.sh tsan    # ThreadSanitizer, into build-tsan
# The registry matrix (every algorithm x transport x rank count x size) is thinned to 3 and 4
# ranks at 1000 and 1048579 elements; SANITIZE_TESTS=<ctest regex> narrows the collective suite further and
# SANITIZE_EXCLUDE=<regex> replaces the thinning. Any report fails the run: the sanitizers halt
# on the first error and nothing is suppressed.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-asan}
case $mode in
  asan)
    dir=build-asan
    config=(-DSTRATA_SANITIZE=address,undefined -DSTRATA_BUILD_FUZZERS=ON)
    export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:strict_string_checks=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    ;;
  tsan)
    dir=build-tsan
    config=(-DSTRATA_SANITIZE=thread)
    export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
    ;;
  *)
    echo "usage: $0 asan|tsan" >&2
    exit 2
    ;;
esac

CC=clang CXX=clang++ cmake -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${config[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)" --target strata_unit_tests strata_coll_tests
# The unit suite whole, less the checks labelled `tool` (they run a program or the shared library,
# which this build does not make), then the collective suite, thinned.
ctest --test-dir "$dir" --output-on-failure -j2 --timeout 900 -L unit -LE '^tool$'
ctest --test-dir "$dir" --output-on-failure -j2 --timeout 900 -L coll \
  -R "${SANITIZE_TESTS:-.}" -E "${SANITIZE_EXCLUDE:-Registry/.*(_r[1278]_|_c[017]$)}"
