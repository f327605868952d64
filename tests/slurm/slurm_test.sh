#!/usr/bin/env bash
# A study whose workers are Slurm jobs: a throwaway Slurm cluster on localhost
# (munged, slurmctld, slurmd from Debian's slurm-wlm/munge, started here as
# root with a generated slurm.conf and two stand-in "gpu" GRES), a controller
# with --executor slurm that submits deploy/slurm/worker.sbatch jobs, and one
# worker job scancelled mid-trial: its trial must be retried (attempt 1) and
# the study must complete; at the end the executor scancels the study's jobs.
#
# Installs nothing (tools/setup lists slurm-wlm and munge). Skips, printing
# the reason, only when Slurm cannot run here (not installed, not root, or
# slurmd/slurmctld do not come up).
source "$(dirname "$0")/../e2e/lib.sh"

skip() { echo "SKIP: $*"; exit 0; }

for bin in munged slurmctld slurmd sbatch squeue scancel sinfo; do
  command -v "$bin" >/dev/null || skip "$bin not installed (tools/setup installs slurm-wlm munge)"
done
[[ $(id -u) -eq 0 ]] || skip "slurmd must run as root here (uid $(id -u))"

SCRIPT="$RUNFILES_ROOT/peftsearch/deploy/slurm/worker.sbatch"
[[ -f "$SCRIPT" ]] || fail "missing $SCRIPT"
# Unix socket paths are limited to 108 bytes: Slurm and munge live in a short
# directory, not in the (deep) test temp dir.
S=$(mktemp -d /tmp/pslurm.XXXXXX)
chmod 755 "$S"
mkdir -p "$S/munge" "$S/state" "$S/spool" "$S/etc" "$S/log"
chmod 700 "$S/munge"
slurm_cleanup() {
  local status=$?
  if [[ -f "$S/etc/slurm.conf" ]]; then
    SLURM_CONF="$S/etc/slurm.conf" scancel --me >/dev/null 2>&1 || true
  fi
  for f in "$S"/*.pid; do [[ -f "$f" ]] && kill -9 "$(cat "$f")" 2>/dev/null; done
  cleanup
  if [[ $status -ne 0 ]]; then
    echo "---- slurmctld/slurmd logs (tail) ----"; tail -n 20 "$S"/log/*.log 2>/dev/null || true
    echo "---- job output (tail) ----"; tail -n 10 "$TMP"/job-*.out 2>/dev/null || true
  fi
  [[ -n "${KEEP_SLURM_DIR:-}" ]] || rm -rf "$S"
  exit $status
}
trap slurm_cleanup EXIT

HOST=$(hostname -s)
NCPU=$(nproc)
port_base=$((20000 + RANDOM % 20000))
export SLURM_CONF="$S/etc/slurm.conf"

# munge: a fresh key, our own socket.
dd if=/dev/urandom of="$S/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$S/munge/munge.key"
munged -F --force --socket="$S/munge/sock" --key-file="$S/munge/munge.key" \
  --pid-file="$S/munged.pid" --log-file="$S/log/munged.log" --seed-file="$S/munge/seed" \
  >"$S/log/munged.out" 2>&1 &
PIDS+=("$!")
for _ in $(seq 50); do [[ -S "$S/munge/sock" ]] && break; sleep 0.1; done
[[ -S "$S/munge/sock" ]] || skip "munged did not start: $(tail -3 "$S/log/munged.log" "$S/log/munged.out" 2>/dev/null)"

cat >"$S/etc/slurm.conf" <<CONF
ClusterName=pstest
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port_base
SlurmdPort=$((port_base + 1))
AuthType=auth/munge
AuthInfo=socket=$S/munge/sock
CredType=cred/munge
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
KillWait=2
MinJobAge=5
GresTypes=gpu
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$NCPU Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
# Slurm drops file-less GPUs; two character devices stand in for two GPUs.
printf 'NodeName=%s Name=gpu File=/dev/null\nNodeName=%s Name=gpu File=/dev/zero\n' \
  "$HOST" "$HOST" >"$S/etc/gres.conf"

slurmctld -D -i -f "$SLURM_CONF" >"$S/log/slurmctld.out" 2>&1 &
PIDS+=("$!")
slurmd -D -f "$SLURM_CONF" -N "$HOST" >"$S/log/slurmd.out" 2>&1 &
SLURMD_PID=$!
PIDS+=("$SLURMD_PID")
up=0
for _ in $(seq 150); do
  state=$(sinfo -h -n "$HOST" -o %T 2>/dev/null || true)
  if [[ "$state" == idle* || "$state" == mixed* ]]; then up=1; break; fi
  kill -0 "$SLURMD_PID" 2>/dev/null || break
  sleep 0.2
done
if [[ $up -ne 1 ]]; then
  skip "slurmd/slurmctld did not come up (node state '${state:-none}'): $(tail -n 3 "$S"/log/slurmd.log "$S"/log/slurmd.out "$S"/log/slurmctld.log 2>/dev/null | tr '\n' ' ')"
fi
echo "slurm up: $(sinfo -h -o '%P %T %D %G')"

# Controller with the Slurm executor; tokens on (loopback plaintext).
DB="$TMP/trials.db"
WORKER_TOKEN=$("$CTL" token create --db "$DB" --role worker --name slurm-workers 2>/dev/null)
SUBMIT_TOKEN=$("$CTL" token create --db "$DB" --role submit --name ci 2>/dev/null)
PEFTSEARCH_WORKER_TOKEN="$WORKER_TOKEN" PEFTSEARCH_WORKER="$WRK" PEFTSEARCH_WORKDIR="$TMP/work" \
PEFTSEARCH_SHUTDOWN_GRACE_S=0 \
  "$CTL" --listen 127.0.0.1:0 --db "$DB" --address-file "$TMP/addr" \
  --sweep-interval-ms 200 --heartbeat-interval-ms 300 \
  --executor slurm --slurm-script "$SCRIPT" --slurm-poll-ms 500 \
  --slurm-sbatch-arg=--cpus-per-task=1 --slurm-sbatch-arg=--time=10 \
  "--slurm-sbatch-arg=--output=$TMP/job-%j.out" >>"$TMP/controller.log" 2>&1 &
PIDS+=("$!")
wait_for "test -s '$TMP/addr'" 20
ADDR=$(cat "$TMP/addr")

cat >"$TMP/spec.json" <<JSON
{"name": "slurm-study", "direction": "minimize",
 "space": {"x": {"type": "float", "low": -5, "high": 10},
           "y": {"type": "float", "low": 0, "high": 15}},
 "sampler": {"type": "tpe", "seed": 3},
 "objective": {"type": "builtin", "function": "branin", "sleep_ms": 3000, "steps": 3},
 "max_trials": 6, "parallelism": 2, "lease_seconds": 3, "max_attempts": 3}
JSON
PEFTSEARCH_TOKEN="$SUBMIT_TOKEN" "$CLI" --controller "$ADDR" submit "$TMP/spec.json"
SID=$(sqlite3 "$DB" "SELECT id FROM studies WHERE name='slurm-study'")

# Two worker jobs come up and take trials.
wait_for "[[ \$(squeue -h -t R -n peftsearch-$SID | wc -l) -ge 2 ]]" 60
running_job() {
  sqlite3 "$DB" "SELECT t.number || ' ' || w.name FROM trials t JOIN workers w ON w.id = t.worker_id
                 WHERE t.study_id = $SID AND t.state = 2 AND w.name LIKE 'slurm-%' LIMIT 1"
}
wait_for "[[ -n \"\$(running_job)\" ]]" 60
read -r VICTIM_TRIAL VICTIM_WORKER <<<"$(running_job)"
VICTIM_JOB=${VICTIM_WORKER#slurm-}
VICTIM_JOB=${VICTIM_JOB%@*}
echo "scancel job $VICTIM_JOB while it runs trial $VICTIM_TRIAL"
scancel "$VICTIM_JOB"

wait_study_complete slurm-study 150
check_exactly_once "$DB" slurm-study 6
attempt=$(sqlite3 "$DB" "SELECT attempt FROM trials WHERE study_id=$SID AND number=$VICTIM_TRIAL")
[[ "$attempt" -ge 1 ]] || fail "trial $VICTIM_TRIAL finished with attempt $attempt: not retried"
submitted=$(grep -c "event=submitted study_id=$SID" "$TMP/controller.log" || true)
[[ "$submitted" -ge 3 ]] || fail "executor submitted $submitted jobs, want >= 3 (a replacement)"
# Jobs that die at once would be resubmitted in a loop: 2 + the replacement,
# plus at most a few for timing, is healthy.
[[ "$submitted" -le 6 ]] || fail "executor submitted $submitted jobs: worker jobs are dying"
# The study is over: the executor scancels its jobs.
wait_for "[[ \$(squeue -h -n peftsearch-$SID -t PD,CF,R | wc -l) -eq 0 ]]" 30
grep -q "event=cancelled study_id=$SID" "$TMP/controller.log" || fail "no scancel logged"
if grep -rqF -- "$WORKER_TOKEN" "$TMP"/*.log "$TMP"/job-*.out; then fail "token in a log"; fi
echo "trial $VICTIM_TRIAL retried (attempt $attempt); $submitted worker jobs submitted"
echo PASS
