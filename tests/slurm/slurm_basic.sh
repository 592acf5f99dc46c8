#!/usr/bin/env bash
# slurm_basic: through a throwaway single-node Slurm (fixture.sh): a one-line job, a job array
# of 3 (each task writes its SLURM_ARRAY_TASK_ID to its own file) all COMPLETED with 3 distinct
# files; a job that exits 3 ends FAILED and its afterok dependant (--kill-on-invalid-dep=yes)
# is CANCELLED, never run and not left pending. Skipped (77) where Slurm cannot start.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
source "$GYRE_SOURCE_DIR/tests/slurm/fixture.sh"
slurm_start

# state_of ID [TASK]: the JobState of a job, or of one task of an array.
state_of() {
  slurm_job_states "$1" > states.txt
  awk -v t="ArrayTaskId=${2:--}" '$2 == t { sub(/^JobState=/, "", $3); print $3 }' states.txt
}

one=$(sbatch --parsable -J one -o one.out --wrap 'echo one > one.txt')
# shellcheck disable=SC2016 # expanded in the job
array=$(sbatch --parsable -J members --array=0-2 -o 'member_%a.out' \
  --wrap 'echo "$SLURM_ARRAY_TASK_ID" > "member_$SLURM_ARRAY_TASK_ID.txt"')
bad=$(sbatch --parsable -J bad -o bad.out --wrap 'exit 3')
dependant=$(sbatch --parsable -J dependant -o dependant.out \
  --dependency="afterok:$bad" --kill-on-invalid-dep=yes --wrap 'touch dependant_ran')
echo "submitted: one $one, array $array, failing $bad, its dependant $dependant"
slurm_wait 45 "$one" "$array" "$bad" "$dependant"

s=$(state_of "$one")
[ "$s" = COMPLETED ] || fail "job $one ended $s, expected COMPLETED"
[ "$(cat one.txt)" = one ] || fail "job $one did not write one.txt"

slurm_job_states "$array" > array.txt
cat array.txt
n=$(grep -c . array.txt)
[ "$n" -eq 3 ] || fail "array $array has $n records, expected 3"
for k in 0 1 2; do
  s=$(state_of "$array" "$k")
  [ "$s" = COMPLETED ] || fail "array task ${array}_$k ended '$s', expected COMPLETED"
  [ -f "member_$k.txt" ] || fail "array task $k wrote no member_$k.txt"
  [ "$(cat "member_$k.txt")" = "$k" ] || fail "member_$k.txt holds '$(cat "member_$k.txt")'"
done
sort -u member_0.txt member_1.txt member_2.txt > members.txt
[ "$(grep -c . members.txt)" -eq 3 ] || fail "the 3 member files are not distinct"

s=$(state_of "$bad")
[ "$s" = FAILED ] || fail "job $bad (exit 3) ended $s, expected FAILED"
scontrol show job -o "$bad" > bad.txt
grep -q 'ExitCode=3:0' bad.txt || { cat bad.txt; fail "job $bad: exit code 3 not recorded"; }
s=$(state_of "$dependant")
[ "$s" = CANCELLED ] || fail "dependant $dependant ended $s, expected CANCELLED"
[ ! -e dependant_ran ] || fail "dependant $dependant ran although job $bad failed"
echo "one-line job, array of 3 COMPLETED; failed job $bad cancelled its dependant $dependant"
