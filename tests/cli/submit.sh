#!/usr/bin/env bash
# cli_submit: gyre submit without a Slurm cluster (a stand-in sbatch on PATH records its
# calls): -help; one "gyre: error:" line for each bad input (no options file, a missing one,
# an unknown experiment, an unknown stage, a bad size, a non-number, sbatch missing, sbatch
# failing, a directory that holds a pipeline, -status of nothing); -dry_run prints the 7
# scripts and sbatch lines, calls no sbatch and writes nothing, and its scripts parse; option
# values with ;, $(), backticks and quotes reach the scripts single-quoted and run nothing;
# a submission through the stand-in chains the jobs with afterok and kill-on-invalid-dep.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
source "$GYRE_SOURCE_DIR/tests/slurm/submit_common.sh" # append_injections
opts=$GYRE_SOURCE_DIR/runs/l96-closure.opts

"$GYRE" submit -help > help.txt
for w in -dry_run -status -size -dir -slurm_X; do
  grep -q -- "$w" help.txt || fail "gyre submit -help does not mention $w"
done

# a stand-in sbatch: records its arguments, prints an id (or fails when told to)
mkdir -p fakebin
cat > fakebin/sbatch << 'EOS'
#!/bin/bash
echo "$*" >> "$FAKE_LOG"
if [ -n "${FAKE_FAIL:-}" ] ||
  { [ -n "${FAKE_FAIL_AFTER:-}" ] && [ "$(wc -l < "$FAKE_LOG")" -gt "$FAKE_FAIL_AFTER" ]; }; then
  echo "sbatch: error: Invalid account or account/partition combination specified" >&2
  exit 1
fi
n=$(wc -l < "$FAKE_LOG")
echo "$((100 + n))"
EOS
cat > fakebin/scancel << 'EOS'
#!/bin/bash
echo "scancel $*" >> "$FAKE_LOG"
if [ -n "${FAKE_SCANCEL_FAIL:-}" ]; then
  echo "scancel: error: Slurm controller not responding" >&2
  exit 1
fi
EOS
chmod +x fakebin/sbatch fakebin/scancel
export FAKE_LOG=$work/sbatch.log
fake_path=$work/fakebin:$PATH

expect_error "no options file" "no options file" "$GYRE" submit -size tiny
expect_error "missing options file" "cannot read options file 'nope.opts'" \
  "$GYRE" submit nope.opts
mkdir -p other && cp "$opts" other/ns9.opts
expect_error "unknown experiment" "experiment 'ns9'" "$GYRE" submit other/ns9.opts
expect_error "unknown stage" "unknown stage 'fitt'" "$GYRE" submit "$opts" -fitt_net mlp
expect_error "bad size" "-size 'huge'" "$GYRE" submit "$opts" -size huge
expect_error "misspelt site parameter" "-slurm_acount: not a site parameter" \
  "$GYRE" submit "$opts" -size tiny -dry_run -slurm_acount proj1
expect_error "a site parameter of no such job" "-slurm_fit_time: not a site parameter" \
  "$GYRE" submit "$opts" -size tiny -dry_run -slurm_fit_time 1:00:00
expect_error "non-number" "-exp_spinup 'soon': expected a number" \
  "$GYRE" submit "$opts" -exp_spinup soon -dry_run
# site parameters that sbatch would take as numbers or a time limit
expect_error "a time limit that is none" "-slurm_time 'banana': expected a time limit" \
  "$GYRE" submit "$opts" -size tiny -dry_run -slurm_time banana
expect_error "a time limit of four fields" "-slurm_time '1:2:3:4'" \
  "$GYRE" submit "$opts" -size tiny -dry_run -slurm_time 1:2:3:4
expect_error "a time limit with 99 minutes" "-slurm_time '25:99:99': expected a time limit" \
  "$GYRE" submit "$opts" -size tiny -dry_run -slurm_time 25:99:99
expect_error "a day of 25 hours" "-slurm_time '1-25': expected a time limit" \
  "$GYRE" submit "$opts" -size tiny -dry_run -slurm_time 1-25
"$GYRE" submit "$opts" -size tiny -dry_run -slurm_time 90:30 > /dev/null ||
  fail "-slurm_time 90:30 (minutes:seconds) refused"
expect_error "an option with '='" "'-slurm_nodes=-2' is not an option: give the value after a space (-slurm_nodes -2)" \
  "$GYRE" submit "$opts" -size tiny -dry_run -slurm_nodes=-2
# ... also after an option with a value (it was taken as that option's second value)
expect_error "an option with '=' after a value" "'-slurm_nodes=-2' is not an option: give the value after a space" \
  "$GYRE" submit "$opts" -size tiny -dry_run -slurm_partition debug -slurm_nodes=-2
expect_error "a directory as -gyre" "-gyre '/tmp' is not an executable file" \
  "$GYRE" submit "$opts" -size tiny -dry_run -gyre /tmp
expect_error "a missing -gyre" "is not an executable file" \
  "$GYRE" submit "$opts" -size tiny -dry_run -gyre ./no-such-gyre
expect_error "a word that is no option" "'--dry-run' is not an option of gyre submit" \
  "$GYRE" submit "$opts" -size tiny --dry-run
# the error alone: no warning about the jobs' python before it
expect_error "a bad time limit and a missing python" "-slurm_time 'banana'" \
  "$GYRE" submit "$opts" -size tiny -dry_run -slurm_time banana -slurm_python /no/python3
[ "$(grep -c . err.txt)" = 1 ] || { cat err.txt; fail "more than the one error line"; }
expect_error "negative nodes" "-slurm_nodes '-2': expected a number of nodes" \
  "$GYRE" submit "$opts" -size tiny -dry_run -slurm_nodes -2
expect_error "a backwards node range" "-slurm_nodes '4-2'" \
  "$GYRE" submit "$opts" -size tiny -dry_run -slurm_nodes 4-2
expect_error "negative GPUs of one job" "-slurm_train_gpus_per_node '-1'" \
  "$GYRE" submit "$opts" -size tiny -dry_run -slurm_train_gpus_per_node -1
expect_error "no CPUs" "-slurm_cpus_per_task '0'" \
  "$GYRE" submit "$opts" -size tiny -dry_run -slurm_cpus_per_task 0
expect_error "no tasks" "-slurm_ntasks '0'" "$GYRE" submit "$opts" -size tiny -dry_run -slurm_ntasks 0
expect_error "a negative signal time" "-slurm_signal_seconds '-5'" \
  "$GYRE" submit "$opts" -size tiny -dry_run -slurm_signal_seconds -5
"$GYRE" submit "$opts" -size tiny -dry_run -slurm_time 2-00:30 -slurm_nodes 2-4 \
  -slurm_cpus_per_task 4 > forms.txt 2> forms.err || { cat forms.err; fail "good site values refused"; }
grep -q -- "--time=2-00:30 --nodes=2-4 " forms.txt || fail "-slurm_time/-slurm_nodes forms not passed on"
expect_error "sbatch missing" "'sbatch' not found" env PATH=/nonexistent "$GYRE" submit "$opts" \
  -size tiny -dir "$work/p0"
expect_error "sbatch failing" "sbatch failed for job 'truth' (exit status 1): sbatch: error: Invalid account" \
  env PATH="$fake_path" FAKE_FAIL=1 "$GYRE" submit "$opts" -size tiny -dir "$work/p1"
[ ! -e "$work/p1" ] || fail "a submission that failed left $(find "$work/p1")"
# failing part-way (the third job): the two submitted are cancelled, the scripts removed, and
# a directory that held something before (here a log) stays with it alone
rm -f "$FAKE_LOG"
mkdir -p "$work/p2/logs" && touch "$work/p2/logs/earlier.out"
expect_error "sbatch failing at the third job" "sbatch failed for job 'train'" \
  env PATH="$fake_path" FAKE_FAIL_AFTER=2 "$GYRE" submit "$opts" -size tiny -dir "$work/p2"
grep -q "^scancel 101 102$" "$FAKE_LOG" || { cat "$FAKE_LOG"; fail "the submitted jobs not cancelled"; }
[ "$(cd "$work/p2" && find . | sort | tr '\n' ' ')" = ". ./logs ./logs/earlier.out " ] ||
  fail "a submission that failed part-way left $(find "$work/p2")"
# ... where scancel fails too, the jobs may still run there: everything stays, said so
rm -f "$FAKE_LOG"
set +e
env PATH="$fake_path" FAKE_FAIL_AFTER=2 FAKE_SCANCEL_FAIL=1 "$GYRE" submit "$opts" -size tiny \
  -dir "$work/p3" > out.txt 2> err.txt
set -e
grep -q "scancel of the jobs already submitted failed: scancel: error: Slurm controller not responding: they may still run" err.txt ||
  { cat err.txt; fail "a failed scancel is not said"; }
[ -e "$work/p3/slurm/truth.sbatch" ] && [ -d "$work/p3/logs" ] ||
  fail "the scripts and logs of jobs that may still run were removed"
expect_error "-status of nothing" "cannot read" "$GYRE" submit -status "$work/none"
printf 'good\n' > "$work/notjobs.txt"
expect_error "-status of another file" "is not a pipeline's jobs.txt: line 1 is not 'JOB ID'" \
  "$GYRE" submit -status "$work/notjobs.txt"
printf '# a header only\n' > "$work/nojobs.txt"
expect_error "-status of a list of no jobs" "lists no jobs" "$GYRE" submit -status "$work/nojobs.txt"

# -dry_run: nothing submitted, nothing written; 7 scripts that parse
rm -f "$FAKE_LOG"
PATH=$fake_path "$GYRE" submit "$opts" -size tiny -dir "$work/dry" -dry_run > dry.txt
[ ! -e "$FAKE_LOG" ] || fail "-dry_run called sbatch: $(cat "$FAKE_LOG")"
[ ! -e "$work/dry" ] || fail "-dry_run created $work/dry"
[ "$(grep -c '^sbatch --parsable' dry.txt)" -eq 7 ] || fail "-dry_run printed no 7 sbatch lines"
awk '/^# ==== /{ f = sprintf("script%d.sh", ++n); next } /^# ---- sbatch line:/{ f = "" } f { print > f }' dry.txt
for f in script*.sh; do bash -n "$f" || fail "$f (from -dry_run) does not parse"; done
grep -qF -- "'--dependency=afterok:<train>:<heldout>' --kill-on-invalid-dep=yes" dry.txt ||
  fail "-dry_run: the hybrid job's dependencies are not afterok on train and heldout"

# site parameters: for every job, or for one job (GPUs for training only); preemption flags
# on the simulation and training jobs only
"$GYRE" submit "$opts" -size tiny -dry_run -slurm_account proj1 -slurm_partition big \
  -slurm_train_gpus_per_node 2 -slurm_launcher srun > site.txt
grep '^sbatch ' site.txt > lines.txt
[ "$(grep -c -- '--account=proj1 --partition=big --time=00:10:00 --nodes=1' lines.txt)" -eq 7 ] ||
  { cat lines.txt; fail "not every job has the account, partition and the tiny time limit"; }
grep -- '--job-name=l96-closure.train ' lines.txt > train_line.txt
grep -q -- '--gpus-per-node=2 --ntasks-per-node=2 ' train_line.txt ||
  fail "the train job has no --gpus-per-node=2 --ntasks-per-node=2"
[ "$(grep -c -- '--gpus-per-node' lines.txt)" -eq 1 ] || fail "GPUs asked for by more than train"
[ "$(grep -c -- '--signal=B:USR1@120 --requeue --open-mode=append' lines.txt)" -eq 5 ] ||
  fail "the 5 simulation and training jobs do not all carry the preemption flags"
grep -E -- 'l96-closure.(compare|report) ' lines.txt > last_lines.txt
if grep -q -- '--requeue' last_lines.txt; then fail "compare or report carries --requeue"; fi
[ "$(grep -c "^export GYRE_LAUNCHER='srun'" site.txt)" -eq 7 ] || fail "-slurm_launcher srun not in the scripts"
# a value that starts with a dash but is no option name (MPICH's "-bind-to core") is a value
"$GYRE" submit "$opts" -size tiny -dry_run -slurm_launcher_args "-bind-to core" > dash.txt
[ "$(grep -cF "export GYRE_LAUNCHER_ARGS='-bind-to core'" dash.txt)" -eq 7 ] ||
  fail "-slurm_launcher_args \"-bind-to core\" was not taken as its value"
# the launcher's extra words: one quoted value in the scripts, split at blanks by job.sh and
# never evaluated
"$GYRE" submit "$opts" -size tiny -dry_run -slurm_launcher srun \
  -slurm_launcher_args '--mpi=pmix $(touch PWNED9) ;x' > largs.txt
[ "$(grep -cF "export GYRE_LAUNCHER_ARGS='--mpi=pmix \$(touch PWNED9) ;x'" largs.txt)" -eq 7 ] ||
  fail "-slurm_launcher_args is not one quoted value in every script"
(
  set -e
  export GYRE=true GYRE_LAUNCHER=srun GYRE_LAUNCHER_ARGS='--mpi=pmix $(touch PWNED9) ;x'
  SLURM_NTASKS=3 source "$GYRE_SOURCE_DIR/runs/slurm/job.sh"
  printf '%s\n' "${launch[@]}" > launch.txt
)
printf '%s\n' srun --ntasks=3 --mpi=pmix '$(touch' 'PWNED9)' ';x' | cmp - launch.txt ||
  { cat launch.txt; fail "job.sh: the launcher's words are not srun --ntasks=3 + the words"; }
[ ! -e PWNED9 ] || fail "GYRE_LAUNCHER_ARGS ran a command"
expect_error "gyre submit: launcher words with -slurm_launcher none" "with -slurm_launcher none" \
  "$GYRE" submit "$opts" -size tiny -dry_run -slurm_launcher none -slurm_launcher_args "--mpi=pmix"
# a python that cannot import numpy and netCDF4: one warning line, the submission goes on
"$GYRE" submit "$opts" -size tiny -dry_run -slurm_python /bin/false > /dev/null 2> pywarn.txt ||
  { cat pywarn.txt; fail "-slurm_python /bin/false: the dry run failed"; }
[ "$(grep -c "^gyre submit: warning: -slurm_python '/bin/false' cannot import numpy and netCDF4" \
  pywarn.txt)" -eq 1 ] || { cat pywarn.txt; fail "no (or more than one) warning for a bad python"; }
expect_error "launcher words without a launcher" "given with no launcher" \
  env GYRE=true GYRE_LAUNCHER=none GYRE_LAUNCHER_ARGS=-x bash -c \
  'source "$GYRE_SOURCE_DIR/runs/slurm/job.sh"' 

# injection: values with ; $() backticks and quotes, in a stage, a slurm parameter and the
# directory name, under -dry_run and a submission through the stand-in
mkdir -p inj && cp "$opts" inj/l96-closure.opts
append_injections inj/l96-closure.opts
dir="$work/p \$(touch PWNED7) \`touch PWNED8\` 'q;"
PATH=$fake_path "$GYRE" submit inj/l96-closure.opts -size tiny -dir "$dir" -dry_run > inj.txt
grep -qF "'-note' 'x; touch PWNED1'" inj.txt || fail "-dry_run: the value with ; is not one quoted word"
grep -qF "'-note3' 'it'\\''s' 'a' ''\\''quote' 'and; touch PWNED4'" inj.txt ||
  fail "-dry_run: the quotes are not escaped"
awk '/^# ==== /{ f = sprintf("inj%d.sh", ++n); next } /^# ---- sbatch line:/{ f = "" } f { print > f }' inj.txt
for f in inj*.sh; do bash -n "$f" || fail "$f (injection, -dry_run) does not parse"; done
rm -f "$FAKE_LOG"
PATH=$fake_path "$GYRE" submit inj/l96-closure.opts -size tiny -dir "$dir" > sub.txt
cat sub.txt
[ "$(grep -c . "$FAKE_LOG")" -eq 7 ] || fail "expected 7 sbatch calls"
grep -q -- "--comment=\$(touch PWNED5); touch PWNED6" "$FAKE_LOG" ||
  fail "-slurm_extra did not reach sbatch verbatim as one argument"
# the generated scripts: their gyre lines, run with stand-ins for gyre and the launcher,
# pass the values as arguments and run no command
for f in "$dir"/slurm/*.sbatch; do bash -n "$f" || fail "$f does not parse"; done
sed -n '/^cd /,$p' "$dir/slurm/heldout.sbatch" | sed 1d > body.sh
printf '%s\n' '#!/bin/bash' 'printf "<%s>\n" "$@"' > fakebin/fakegyre
chmod +x fakebin/fakegyre
# shellcheck disable=SC2317,SC2034,SC1091,SC2030,SC2031 # used by body.sh, in a subshell
(
  gyre_requeueable() { "$@"; }
  launch=()
  export GYRE=$work/fakebin/fakegyre
  source body.sh
) > args.txt
grep -qxF "<x; touch PWNED1>" args.txt || { cat args.txt; fail "the value did not arrive whole"; }
# shellcheck disable=SC2016 # the literal text
grep -qxF '<$(touch>' args.txt || fail 'the $( word did not arrive literally'
grep -qxF "<'quote>" args.txt || fail "the quote did not arrive literally"
for i in 1 2 3 4 5 6 7 8; do
  if [ -e "PWNED$i" ] || [ -e "$dir/PWNED$i" ] || [ -e "inj/PWNED$i" ]; then
    fail "PWNED$i was created: an option value ran a command"
  fi
done
grep -q "^heldout 102$" "$dir/jobs.txt" || fail "jobs.txt lacks the heldout job's id"
grep -q -- "--dependency=afterok:101:102 --kill-on-invalid-dep=yes" "$FAKE_LOG" ||
  fail "the twin job is not afterok on truth (101) and heldout (102)"
# shellcheck disable=SC2031 # GYRE: changed only in the subshell above
expect_error "pipeline exists" "already holds a pipeline" env PATH="$fake_path" \
  "$GYRE" submit inj/l96-closure.opts -size tiny -dir "$dir"
echo "gyre submit: errors, -dry_run and quoting as expected"
