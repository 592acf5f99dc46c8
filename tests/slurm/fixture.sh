# shellcheck shell=bash
# A throwaway single-node Slurm cluster for tests, from Debian's packages (slurmctld, slurmd,
# slurm-client, munge). Source it after tests/common/common.sh, then call slurm_start.
#
# slurm_start: a temporary directory holding everything (slurm.conf, a munge key, munged's
#   socket, state, spool, logs and pid files), a munged, a slurmctld and a slurmd on free
#   random high ports, waits (at most 30 s) until the node is idle and exports SLURM_CONF, so
#   sbatch/squeue/scontrol talk to this cluster only (never to a system Slurm). It installs
#   slurm_stop as an EXIT trap (keeping the trap already there, common.sh's), so the daemons
#   are stopped whatever the outcome. Where the environment cannot run the daemons (commands
#   missing; a non-root user whose slurmd cannot start) the test exits 77, skipped, with the
#   reason.
# slurm_stop: cancels our jobs, stops every daemon it started by its pid (SIGTERM, then
#   SIGKILL after 10 s), waits for them and removes the temporary directory.
# slurm_job_states ID: one "JobId=N ArrayTaskId=K JobState=S" line per job (array tasks too).
# slurm_wait SECONDS ID...: waits until every job (and array task) of the IDs has ended.
#
# The node declares 4 CPUs whatever the machine has (SlurmdParameters=config_overrides), so
# a 4-task job runs on a 2-core machine. No slurmdbd, so no sacct: job states come from
# scontrol, which keeps finished jobs for MinJobAge (300 s).

SLURM_DIR=""
SLURM_PIDS=()

slurm_skip() { echo "SKIPPED: slurm: $*"; exit 77; }

# A TCP port nobody uses (listening or connected), from /proc/net/tcp{,6}: no tool needed.
slurm_port_free() {
  local hex f
  hex=$(printf ':%04X ' "$1")
  for f in /proc/net/tcp /proc/net/tcp6; do
    [ -r "$f" ] || continue
    # Column 2 is the local address:port.
    awk -v p="$hex" 'NR > 1 && index($2 " ", p) { found = 1 } END { exit !found }' "$f" &&
      return 1
  done
  return 0
}
slurm_pick_port() {
  local p i
  for i in $(seq 1 100); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    [ "$p" != "${1:-}" ] || continue
    slurm_port_free "$p" && { echo "$p"; return 0; }
  done
  echo "slurm: no free port found" >&2
  return 1
}

# Starts "$@" in the background with its output to a log and no terminal, records its pid.
slurm_daemon() {
  local log=$1; shift
  "$@" < /dev/null > "$log" 2>&1 &
  SLURM_PIDS+=($!)
}

# tail_logs N FILE...: the last N lines of each non-empty FILE, under its name.
tail_logs() {
  local n=$1 f
  shift
  for f in "$@"; do
    [ -s "$f" ] || continue
    echo "--- $f (last $n lines)"
    tail -n "$n" "$f"
  done
}

# Prints the last lines of every daemon's log, for a failed start.
slurm_logs() { tail_logs 15 "$SLURM_DIR"/log/*; }

# Called when the cluster did not come up: skip where the cause is the environment (not
# root), fail otherwise.
slurm_start_failed() {
  local why=$1
  slurm_logs
  if [ "$(id -u)" -ne 0 ]; then
    slurm_skip "$why as user $(id -un) (not root; slurmd may need root here, see the logs above)"
  fi
  fail "slurm: $why (logs above)"
}

slurm_start() {
  local c
  # The daemons live in /usr/sbin, which a non-root PATH may lack.
  case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin ;; esac
  for c in munged slurmctld slurmd sinfo sbatch squeue scontrol scancel; do
    command -v "$c" > /dev/null 2>&1 ||
      slurm_skip "'$c' not found (install slurmctld slurmd slurm-client munge: scripts/setup.sh)"
  done

  SLURM_DIR=$(mktemp -d "${TMPDIR:-/tmp}/gyre-slurm.XXXXXX")
  chmod 700 "$SLURM_DIR"
  # Stop the daemons before common.sh's trap removes the jobs' working directory.
  local prev=""
  local -a old=()
  eval "old=($(trap -p EXIT))" # trap -- 'command' EXIT
  [ ${#old[@]} -lt 3 ] || prev=${old[2]}
  # shellcheck disable=SC2064 # prev is expanded now on purpose
  trap "slurm_stop; $prev" EXIT
  # A signal (Ctrl-C, kill) ends the test through that trap too.
  trap 'exit 130' INT
  trap 'exit 143' TERM

  local d=$SLURM_DIR user
  user=$(id -un)
  mkdir -p "$d/munge" "$d/state" "$d/spool" "$d/log" "$d/run" "$d/tmp"
  # Private: munged warns that the socket is inaccessible to other users, which is the point
  # (every daemon, command and job runs as this user). slurmctld's "Could not open ... state
  # file" errors at start-up are a fresh cluster's, expected too.
  chmod 700 "$d/munge"

  # munge: a fresh key, the socket under the temp dir. libmunge reads no environment
  # variable for the socket (munge 0.5: MUNGE_SOCKET is not a thing); Slurm's daemons and
  # commands take it from AuthInfo=socket=..., munge/unmunge from --socket.
  head -c 1024 /dev/urandom > "$d/munge/munge.key"
  chmod 400 "$d/munge/munge.key"
  SLURM_MUNGE_SOCKET=$d/munge/munge.socket
  slurm_daemon "$d/log/munged.out" munged --foreground --force \
    --socket="$SLURM_MUNGE_SOCKET" --key-file="$d/munge/munge.key" \
    --pid-file="$d/run/munged.pid" --log-file="$d/log/munged.log" \
    --seed-file="$d/munge/munged.seed"
  local i
  for i in $(seq 1 50); do
    [ -S "$SLURM_MUNGE_SOCKET" ] && break
    kill -0 "${SLURM_PIDS[0]}" 2> /dev/null || break
    sleep 0.1
  done
  [ -S "$SLURM_MUNGE_SOCKET" ] || slurm_start_failed "munged did not start"

  local ctld_port slurmd_port
  ctld_port=$(slurm_pick_port) || fail "slurm: no free port"
  slurmd_port=$(slurm_pick_port "$ctld_port") || fail "slurm: no free port"
  : > "$d/plugstack.conf"
  cat > "$d/slurm.conf" << EOF
# Written by tests/slurm/fixture.sh for one test run; removed afterwards.
ClusterName=gyretest
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
# cred_expire (default 120 s) is also how long a requeued job waits before it may start again
# (its EligibleTime is the requeue's time + cred_expire + 1 s): 10 s keeps a requeue test short.
AuthInfo=socket=$SLURM_MUNGE_SOCKET,cred_expire=10
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool/slurmd.%n
TmpFS=$d/tmp
SlurmctldPidFile=$d/run/slurmctld.pid
SlurmdPidFile=$d/run/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$d/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
DependencyParameters=kill_invalid_depend
MpiDefault=none
SwitchType=switch/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
# The main scheduling loop, which also cancels jobs whose dependency can never be satisfied,
# every 2 s rather than every 60 s (by default it runs at once on events, but only in a
# limited fashion, so a dependant could otherwise wait for the periodic pass).
SchedulerParameters=sched_interval=2,bf_interval=2
ReturnToService=2
MailProg=/bin/true
KillWait=5
InactiveLimit=0
MinJobAge=300
NodeName=localhost NodeAddr=127.0.0.1 CPUs=4 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF=$d/slurm.conf

  # -D: in the foreground (of a background job), so $! is the daemon's pid. -i: ignore any
  # state (there is none; a fresh cluster). slurmd -N: this node's name whatever the hostname.
  slurm_daemon "$d/log/slurmctld.out" slurmctld -D -i -f "$SLURM_CONF"
  slurm_daemon "$d/log/slurmd.out" slurmd -D -N localhost -f "$SLURM_CONF"

  local state="" pid
  for i in $(seq 1 60); do
    sinfo -h -n localhost -o %T > "$d/sinfo.txt" 2>&1 || true
    state=$(head -n 1 "$d/sinfo.txt")
    [ "$state" = idle ] && break
    for pid in "${SLURM_PIDS[@]}"; do
      kill -0 "$pid" 2> /dev/null || slurm_start_failed "a daemon (pid $pid) exited at start-up"
    done
    sleep 0.5
  done
  [ "$state" = idle ] || slurm_start_failed "the node is not idle after 30 s (sinfo: $state)"
  echo "slurm: cluster up in $d (slurmctld port $ctld_port, slurmd port $slurmd_port)"
}

slurm_stop() {
  [ -n "$SLURM_DIR" ] || return 0
  local pid i alive
  # Our jobs first, so that slurmd kills their processes (slurmstepd is not ours to kill).
  if [ ${#SLURM_PIDS[@]} -ge 3 ]; then
    scancel --user="$(id -un)" > /dev/null 2>&1 || true
    for i in $(seq 1 20); do
      squeue -h -o %i > "$SLURM_DIR/squeue.txt" 2> /dev/null || break
      [ -s "$SLURM_DIR/squeue.txt" ] || break
      sleep 0.5
    done
  fi
  # Daemons in reverse order: slurmd, slurmctld, munged.
  for ((i = ${#SLURM_PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${SLURM_PIDS[i]}" 2> /dev/null || true
  done
  for i in $(seq 1 100); do
    alive=0
    for pid in "${SLURM_PIDS[@]}"; do
      kill -0 "$pid" 2> /dev/null && alive=1
    done
    [ $alive -eq 1 ] || break
    sleep 0.1
  done
  for pid in "${SLURM_PIDS[@]}"; do
    if kill -0 "$pid" 2> /dev/null; then
      echo "slurm: pid $pid still running after SIGTERM; SIGKILL"
      kill -KILL "$pid" 2> /dev/null || true
    fi
    wait "$pid" 2> /dev/null || true
  done
  SLURM_PIDS=()
  rm -rf "$SLURM_DIR"
  SLURM_DIR=""
}

slurm_job_states() {
  scontrol show job -o "$1" > "$SLURM_DIR/job.txt" 2>&1 ||
    { cat "$SLURM_DIR/job.txt"; fail "scontrol show job $1 failed"; }
  awk '{ id = ""; task = "-"; st = ""
         for (i = 1; i <= NF; i++) {
           if ($i ~ /^JobId=/) id = $i
           if ($i ~ /^ArrayTaskId=/) task = substr($i, 13)
           if ($i ~ /^JobState=/) st = $i
         }
         print id, "ArrayTaskId=" task, st }' "$SLURM_DIR/job.txt"
}

slurm_wait() {
  local limit=$1 t0 id pending
  shift
  t0=$SECONDS
  while :; do
    pending=0
    for id in "$@"; do
      slurm_job_states "$id" > "$SLURM_DIR/states.txt"
      grep -E -q 'JobState=(PENDING|CONFIGURING|RUNNING|COMPLETING|SUSPENDED|REQUEUED|RESIZING|SIGNALING|STAGE_OUT)$' \
        "$SLURM_DIR/states.txt" && pending=1
    done
    if [ $pending -eq 0 ]; then
      echo "slurm: jobs $* ended after $((SECONDS - t0)) s"
      return 0
    fi
    if [ $((SECONDS - t0)) -ge "$limit" ]; then
      for id in "$@"; do slurm_job_states "$id"; done
      slurm_logs
      fail "jobs $* not finished after ${limit} s"
    fi
    sleep 0.5
  done
}
