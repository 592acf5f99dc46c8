#!/usr/bin/env bash
# slurm_submit_fail: gyre submit through a throwaway single-node Slurm (fixture.sh) with an
# options file whose training stage makes gyre fail (-fit_net nonesuch) and whose values try to
# run commands (; $() backticks quotes, in a stage option, in -slurm_extra and in the pipeline
# directory's name). -dry_run submits nothing; in the real submission the train job FAILED,
# its dependants (hybrid, compare, report) are CANCELLED (kill-on-invalid-dep), the jobs that
# do not depend on it COMPLETED, gyre submit -status names the failed job and its log (exit
# status 1), and no injected command ever ran. Skipped (77) where Slurm cannot start.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
source "$GYRE_SOURCE_DIR/tests/slurm/fixture.sh"
source "$GYRE_SOURCE_DIR/tests/slurm/submit_common.sh"
submit_cluster_start
mkdir -p exp
cp "$GYRE_SOURCE_DIR/runs/l96-closure.opts" exp/
echo "-fit_net nonesuch" >> exp/l96-closure.opts
append_injections exp/l96-closure.opts
pipe="$work/pipe \$(touch PWNED7) \`touch PWNED8\` 'q;"
submit=("$GYRE" submit exp/l96-closure.opts -size tiny -runs "$GYRE_SOURCE_DIR/runs" -dir "$pipe"
  -slurm_env_file "$work/site.env" -slurm_python "$PYTHON")

"${submit[@]}" -dry_run > dry.txt || { cat dry.txt; fail "gyre submit -dry_run failed"; }
squeue -h -o %i > queue.txt
[ ! -s queue.txt ] || { cat queue.txt; fail "-dry_run submitted jobs"; }
[ ! -e "$pipe" ] || fail "-dry_run created the pipeline directory"
echo "-dry_run: $(grep -c '^sbatch ' dry.txt) sbatch lines printed, nothing submitted"

"${submit[@]}" > submit.txt 2>&1 || { cat submit.txt; fail "gyre submit failed"; }
cat submit.txt
mapfile -t ids < <(pipeline_ids "$pipe")
(slurm_wait 300 "${ids[@]}") || { show_logs "$pipe"; fail "the pipeline did not end in 300 s"; }
for id in "${ids[@]}"; do slurm_job_states "$id"; done

expect_state() {
  local job=$1 want=$2 got
  got=$(job_state "$(pipeline_id "$pipe" "$job")")
  [ "$got" = "$want" ] || { show_logs "$pipe"; fail "job $job: $got, expected $want"; }
}
expect_state heldout COMPLETED
expect_state train FAILED
expect_state twin COMPLETED
for j in hybrid compare report; do expect_state "$j" CANCELLED; done
[ "$(slurm_job_states "$(pipeline_id "$pipe" truth)" | grep -c 'JobState=COMPLETED$')" -eq 2 ] ||
  fail "the truth array's 2 tasks did not complete"

set +e
"$GYRE" submit -status "$pipe" > status.txt
status=$?
set -e
cat status.txt
[ $status -eq 1 ] || fail "-status exit status $status, expected 1 (a job failed)"
train=$(pipeline_id "$pipe" train)
log="$pipe/logs/train-$train.out"
grep -qF "  train (job $train) FAILED, exit code 1:0: log $log" status.txt ||
  fail "-status does not name the failed job and its log"
grep -q "^cancelled (a dependency failed.*hybrid.*compare.*report" status.txt ||
  fail "-status does not list the cancelled dependants"
grep -q "^gyre: error: " "$log" || fail "the failed job's log $log holds no gyre error"
grep "^gyre: error: " "$log"

# the injected values arrived as text: in the job's comment, and nothing ran
scontrol show job "$train" > train_job.txt
# shellcheck disable=SC2016 # the literal text
grep -qF 'Comment=$(touch PWNED5); touch PWNED6' train_job.txt ||
  { cat train_job.txt; fail "-slurm_extra did not reach sbatch as one argument"; }
found=$(find "$work" "$GYRE_SOURCE_DIR" -maxdepth 3 -name 'PWNED*' 2> /dev/null || true)
[ -z "$found" ] || fail "an option value ran a command: $found"
echo "failed job $train cancelled its dependants; no injected command ran"
