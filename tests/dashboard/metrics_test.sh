#!/usr/bin/env bash
# /metrics scraped while a study runs on real workers, after one worker is
# SIGKILLed (its leases expire), and after the study ends; then the HTTP side
# honours the gRPC API's bearer tokens.
source "$(dirname "$0")/lib.sh"

start_controller
start_worker m1 2
start_worker m2 2
M2=$WORKER_PID
"$PY" "$RUNFILES/tests/dashboard/drive.py" builtin scraped 16 700 2

# While it runs: trials running, both workers alive, RPC latency recorded.
wait_for "[[ \$(metric \"\$(http_get /metrics)\" 'peftsearch_trials{study=\"scraped\",state=\"running\"}') -ge 2 ]]" 30
text=$(http_get /metrics)
echo "$text" >"$OUTPUTS/metrics-running.txt"
[[ $(metric "$text" peftsearch_workers_alive) == 2 ]] || fail "workers_alive != 2 while running"
[[ $(metric "$text" peftsearch_workers_registered) == 2 ]] || fail "workers_registered != 2"
[[ -n $(metric "$text" peftsearch_queue_depth) ]] || fail "no queue depth"
grep -q '^# TYPE peftsearch_rpc_duration_seconds histogram$' <<<"$text" || fail "no RPC histogram"
for m in WorkerService/AcquireTrial WorkerService/RegisterWorker StudyService/CreateStudy; do
  c=$(metric "$text" "peftsearch_rpc_duration_seconds_count{method=\"$m\"}")
  [[ -n "$c" && "$c" -ge 1 ]] || fail "no latency samples for $m"
  inf=$(metric "$text" "peftsearch_rpc_duration_seconds_bucket{method=\"$m\",le=\"+Inf\"}")
  [[ "$inf" == "$c" ]] || fail "$m: +Inf bucket $inf != count $c"
done

# A worker dies holding leases: they expire (2 s) and the trials re-run on m1.
wait_for "grep -q 'event=trial_started' '$TMP/worker-m2.log'" 20
kill -9 "$M2"
wait_for "[[ \$(metric \"\$(http_get /metrics)\" peftsearch_leases_expired_total) -ge 1 ]]" 30
[[ $("$PY" "$RUNFILES/tests/dashboard/drive.py" wait scraped) == COMPLETE ]] || fail "study did not complete"

text=$(http_get /metrics)
echo "$text" >"$OUTPUTS/metrics-done.txt"
[[ $(metric "$text" 'peftsearch_trials{study="scraped",state="complete"}') == 16 ]] || fail "complete != 16"
[[ $(metric "$text" 'peftsearch_trials{study="scraped",state="running"}') == 0 ]] || fail "running != 0"
[[ $(metric "$text" peftsearch_queue_depth) == 0 ]] || fail "queue not empty"
[[ $(metric "$text" peftsearch_trials_finished_total) == 16 ]] || fail "finished_total != 16"
expired=$(metric "$text" peftsearch_leases_expired_total)
[[ "$expired" -ge 1 ]] || fail "no expired lease counted"
"$PY" -c 'import sys; assert float(sys.argv[1]) > 0, sys.argv[1]' \
  "$(metric "$text" peftsearch_trials_per_second)" || fail "trials_per_second is 0"
[[ $(metric "$text" 'peftsearch_studies{state="complete"}') == 1 ]] || fail "studies complete != 1"
echo "expired leases: $expired"

# With a token in the store, HTTP needs the gRPC API's tokens too: a read
# token may view, no token is 401, a worker token 403.
read_token=$("$CTL" token create --role read --name viewer --db "$TMP/trials.db")
worker_token=$("$CTL" token create --role worker --name wk --db "$TMP/trials.db")
wait_for "[[ \$(http_status /metrics) == 401 ]]" 10
[[ $(http_status /api/studies "$read_token") == 200 ]] || fail "read token refused"
[[ $(http_status /studies/scraped "$read_token") == 200 ]] || fail "read token refused on a page"
[[ $(http_status /metrics "$worker_token") == 403 ]] || fail "worker token not refused"
[[ $(http_status /metrics bogus) == 401 ]] || fail "unknown token not refused"
echo PASS
