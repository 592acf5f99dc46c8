#!/usr/bin/env bash
# helgrind on the concurrent inference test (4 threads applying one surrogate): no data race
# may involve gyre's code (the surrogate, the network, the CPU ops, FFTW plans). Races that
# helgrind reports inside Open MPI's own progress threads (pmix, libevent) are not ours and are
# listed as a count only. Skipped (77) without valgrind.
set -euo pipefail
exe=${1:?usage: inference_helgrind.sh TEST_NN_MODEL}
command -v valgrind > /dev/null || { echo "valgrind not installed: skipped"; exit 77; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
valgrind --tool=helgrind "$exe" inference > /dev/null 2> "$log"
# each report is a block from "Possible data race" to the next blank "==pid==" line
ours=$(awk '/Possible data race/ {blk = $0; in_race = 1; next}
            in_race && /^==[0-9]+== *$/ {in_race = 0
              if (blk ~ /Gyre|spec_|apply_thread|fftwf|GyreCPU/) { print blk; n++ } }
            in_race {blk = blk "\n" $0}
            END {exit 0}' "$log")
all=$(grep -c "Possible data race" "$log" || true)
if [ -n "$ours" ]; then
  echo "$ours"
  echo "FAIL: data races in gyre's inference path"
  exit 1
fi
echo "helgrind: no data race in gyre's code ($all reports inside Open MPI's progress threads)"
