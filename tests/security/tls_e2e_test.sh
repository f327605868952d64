#!/usr/bin/env bash
# TLS + bearer tokens with the real binaries: a throwaway CA (openssl CLI) signs
# the controller's certificate and the workers' client certificates. Checks:
# a client trusting another CA fails the handshake; plaintext to a TLS port
# fails; no token / read token / worker without a client certificate are
# refused with the right code; a study runs end to end over TLS with tokens;
# no token appears in any log; a non-loopback listener without TLS refuses to
# start unless --insecure.
source "$(dirname "$0")/../e2e/lib.sh"

PKI="$TMP/pki"
mkdir -p "$PKI"
# make_ca NAME: a self-signed CA certificate and key.
make_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=$1" -keyout "$PKI/$1.key" -out "$PKI/$1.pem" 2>/dev/null
}
# make_cert NAME CA EXTENSIONS: a key and a certificate signed by CA.
make_cert() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$1" \
    -keyout "$PKI/$1.key" -out "$PKI/$1.csr" 2>/dev/null
  printf '%s\n' "$3" >"$PKI/$1.ext"
  openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/$2.pem" -CAkey "$PKI/$2.key" -CAcreateserial \
    -days 2 -extfile "$PKI/$1.ext" -out "$PKI/$1.pem" 2>/dev/null
}
make_ca ca
make_ca other-ca
make_cert server ca "subjectAltName=IP:127.0.0.1,DNS:localhost"
make_cert worker ca "extendedKeyUsage=clientAuth"
make_cert rogue other-ca "extendedKeyUsage=clientAuth"

DB="$TMP/trials.db"
token() { "$CTL" token create --db "$DB" --role "$1" --name "$2" 2>>"$TMP/token.log"; }
ADMIN=$(token admin ops)
SUBMIT=$(token submit ci)
READ=$(token read dashboard)
WORKER=$(token worker gpu-workers)
[[ "$SUBMIT" =~ ^psk_[A-Za-z0-9_-]{43}$ ]] || fail "token format: $SUBMIT"
# Only hashes are stored.
sqlite3 "$DB" .dump | grep -q -- "$SUBMIT" && fail "a token is stored in clear"
"$CTL" token list --db "$DB" >"$TMP/tokens.out"
grep -q "dashboard.*read" "$TMP/tokens.out" || fail "token list: $(cat "$TMP/tokens.out")"

"$CTL" --listen 127.0.0.1:0 --db "$DB" --address-file "$TMP/addr" \
  --tls-cert "$PKI/server.pem" --tls-key "$PKI/server.key" --tls-client-ca "$PKI/ca.pem" \
  --sweep-interval-ms 200 --heartbeat-interval-ms 300 >>"$TMP/controller.log" 2>&1 &
CTL_PID=$!
PIDS+=("$CTL_PID")
wait_for "test -s '$TMP/addr'" 20
ADDR=$(cat "$TMP/addr")
grep -q "tls=on auth=on" "$TMP/controller.log" || fail "controller does not say tls=on auth=on"

# expect_rpc_error CODE ARGS...: the CLI exits 1 and names CODE.
expect_rpc_error() {
  local code="$1"; shift
  set +e
  "$CLI" --controller "$ADDR" --timeout 5 "$@" >"$TMP/rpc.out" 2>&1
  local rc=$?
  set -e
  [[ $rc -eq 1 ]] || fail "$* exited $rc, want 1: $(cat "$TMP/rpc.out")"
  grep -q "$code" "$TMP/rpc.out" || fail "$*: want $code, got: $(cat "$TMP/rpc.out")"
}

# A client that trusts another CA fails the handshake; so does plaintext.
expect_rpc_error UNAVAILABLE --tls-ca "$PKI/other-ca.pem" --token "$ADMIN" studies
expect_rpc_error UNAVAILABLE --token "$ADMIN" studies
# No token, a wrong token, a read token creating a study.
expect_rpc_error UNAUTHENTICATED --tls-ca "$PKI/ca.pem" studies
expect_rpc_error UNAUTHENTICATED --tls-ca "$PKI/ca.pem" --token psk_wrongwrongwrongwrongwrongwrongwrongwrongwro studies
cat >"$TMP/spec.json" <<JSON
{"name": "tls-study", "direction": "minimize",
 "space": {"x": {"type": "float", "low": -5, "high": 10},
           "y": {"type": "float", "low": 0, "high": 15}},
 "sampler": {"type": "tpe", "seed": 7},
 "objective": {"type": "builtin", "function": "branin", "sleep_ms": 20, "steps": 2},
 "max_trials": 12, "parallelism": 2}
JSON
expect_rpc_error PERMISSION_DENIED --tls-ca "$PKI/ca.pem" --token "$READ" submit "$TMP/spec.json"
[[ $(sqlite3 "$DB" "SELECT COUNT(*) FROM studies") == 0 ]] || fail "a refused submit stored a study"

# A worker without a client certificate, or with one from another CA, is refused.
set +e
PEFTSEARCH_TOKEN="$WORKER" timeout 20 "$WRK" --controller "$ADDR" --tls-ca "$PKI/ca.pem" \
  --workdir "$TMP/work-nocert" --name nocert >"$TMP/worker-nocert.log" 2>&1
rc=$?
set -e
[[ $rc -eq 1 ]] || fail "worker without client certificate exited $rc, want 1"
grep -q UNAUTHENTICATED "$TMP/worker-nocert.log" || fail "nocert: $(tail -3 "$TMP/worker-nocert.log")"
set +e
PEFTSEARCH_TOKEN="$WORKER" timeout 5 "$WRK" --controller "$ADDR" --tls-ca "$PKI/ca.pem" \
  --tls-cert "$PKI/rogue.pem" --tls-key "$PKI/rogue.key" \
  --workdir "$TMP/work-rogue" --name rogue >"$TMP/worker-rogue.log" 2>&1
rc=$?
set -e
[[ $rc -ne 0 ]] || fail "worker with another CA's certificate was accepted"
[[ $(sqlite3 "$DB" "SELECT COUNT(*) FROM workers WHERE name='rogue'") == 0 ]] || fail "rogue registered"

# The study runs end to end over TLS with tokens (env PEFTSEARCH_TOKEN).
for name in w1 w2; do
  PEFTSEARCH_TOKEN="$WORKER" "$WRK" --controller "$ADDR" --tls-ca "$PKI/ca.pem" \
    --tls-cert "$PKI/worker.pem" --tls-key "$PKI/worker.key" \
    --workdir "$TMP/work-$name" --name "$name" >>"$TMP/worker-$name.log" 2>&1 &
  PIDS+=("$!")
done
export PEFTSEARCH_TOKEN="$SUBMIT"
"$CLI" --controller "$ADDR" --tls-ca "$PKI/ca.pem" submit "$TMP/spec.json" | tee "$TMP/submit.out"
timeout 120 "$CLI" --controller "$ADDR" --tls-ca "$PKI/ca.pem" watch tls-study >"$TMP/watch.out" \
  || fail "watch over TLS failed"
wait_study_complete tls-study 60
check_exactly_once "$DB" tls-study 12
PEFTSEARCH_TOKEN="$READ" "$CLI" --controller "$ADDR" --tls-ca "$PKI/ca.pem" best tls-study \
  >"$TMP/best.out" || fail "read token cannot read"
workers=$(sqlite3 "$DB" "SELECT COUNT(DISTINCT worker_id) FROM trials WHERE worker_id != ''")
[[ "$workers" == 2 ]] || fail "trials ran on $workers workers, want 2"

# Revoked tokens stop working (the controller caches lookups for 2 s).
"$CTL" token revoke dashboard --db "$DB" 2>>"$TMP/token.log"
sleep 2.5
expect_rpc_error UNAUTHENTICATED --tls-ca "$PKI/ca.pem" --token "$READ" studies

# No token in any log.
for t in "$ADMIN" "$SUBMIT" "$READ" "$WORKER"; do
  if grep -rqF -- "$t" "$TMP"/*.log; then fail "a token appears in a log"; fi
done

# A non-loopback listener without TLS refuses to start; --insecure overrides.
set +e
timeout 10 "$CTL" --listen 0.0.0.0:0 --db "$TMP/open.db" >"$TMP/open.log" 2>&1
rc=$?
set -e
[[ $rc -eq 1 ]] || fail "non-loopback plaintext controller exited $rc, want 1"
grep -q "refusing" "$TMP/open.log" || fail "no refusal message: $(cat "$TMP/open.log")"
"$CTL" --listen 0.0.0.0:0 --db "$TMP/open.db" --insecure --address-file "$TMP/open.addr" \
  >>"$TMP/open.log" 2>&1 &
PIDS+=("$!")
wait_for "test -s '$TMP/open.addr'" 20
grep -q "event=warning" "$TMP/open.log" || fail "--insecure without a warning"
echo PASS
