#!/usr/bin/env bash
# Fails when a tracked C source differs from what clang-format makes of it.
set -u
cd "$GYRE_SOURCE_DIR" || exit 1
command -v clang-format >/dev/null || { echo "SKIP: clang-format not installed"; exit 77; }
bad=0
for f in $(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*'); do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f"; bad=1
  fi
done
[ $bad -eq 0 ] && echo "format: all sources match .clang-format"
exit $bad
