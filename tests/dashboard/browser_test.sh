#!/usr/bin/env bash
# Headless Chromium against a real controller: a finished 30-trial Branin study
# run by real workers and a hybrid PEFT study driven by ask/tell. Checks the
# rendered DOM (after the page's script ran) for every plot and the trial
# count, and keeps screenshots as test outputs (test.outputs/ in testlogs).
source "$(dirname "$0")/lib.sh"

CHROMIUM=$(command -v chromium || true)
if [[ -z "$CHROMIUM" ]]; then
  echo "SKIP: chromium is not installed (tools/setup installs it)"
  exit 0
fi

start_controller
start_worker w1 2
start_worker w2 2
"$PY" "$RUNFILES/tests/dashboard/drive.py" builtin branin-dash 30 20
[[ $("$PY" "$RUNFILES/tests/dashboard/drive.py" wait branin-dash) == COMPLETE ]] \
  || fail "branin-dash did not complete"
"$PY" "$RUNFILES/tests/dashboard/drive.py" hybrid hybrid-dash

chrome() {
  # Flags keep Chromium offline and quiet: no sandbox (runs as root in CI),
  # no GPU, no first-run, no background fetches, a fresh profile per run.
  timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-dev-shm-usage --hide-scrollbars --user-data-dir="$(mktemp -d "$TMP/profile.XXXXXX")" \
    "$@" 2>>"$TMP/chromium.log"
}

for page in studies/branin-dash studies/hybrid-dash ""; do
  name=${page#studies/}
  name=${name:-index}
  chrome --virtual-time-budget=3000 --dump-dom "http://$HTTP/$page" >"$TMP/$name.html" \
    || fail "chromium --dump-dom failed on /$page: $(tail -n 5 "$TMP/chromium.log")"
  chrome --window-size=1400,2400 --screenshot="$OUTPUTS/dashboard-$name.png" "http://$HTTP/$page" \
    >/dev/null || fail "chromium --screenshot failed on /$page"
  [[ -s "$OUTPUTS/dashboard-$name.png" ]] || fail "no screenshot of /$page"
  cp "$TMP/$name.html" "$OUTPUTS/dashboard-$name.dom.html"
done

"$PY" - "$TMP" <<'PY'
import re, sys
tmp = sys.argv[1]
def dom(name):
    return open("%s/%s.html" % (tmp, name)).read()
def check(ok, what):
    if not ok:
        sys.exit("FAIL: " + what)

d = dom("branin-dash")
check('data-ready="1"' in d, "the page script did not run (no data-ready on body)")
for chart in ("history", "intermediate", "parallel", "importance"):
    check('id="%s"' % chart in d, "chart %s missing" % chart)
check('<span id="trial-count">30</span>' in d, "trial count is not 30")
check(d.count('<tr class="trial"') == 30, "%d trial rows, want 30" % d.count('<tr class="trial"'))
check(len(re.findall(r'class="point"', d)) == 30, "history does not plot 30 trials")
check('data-series="30"' in d, "intermediate values: not 30 curves")
check('data-lines="30"' in d, "parallel coordinates: not 30 lines")
check('data-params="2"' in d, "importance: not 2 parameters")
check(re.search(r'id="card-state".*?COMPLETE', d, re.S), "study not shown COMPLETE")

h = dom("hybrid-dash")
check('data-ready="1"' in h, "hybrid page script did not run")
for chart in ("methods", "history", "parallel", "importance", "parallel-phase2",
              "importance-phase2"):
    check('id="%s"' % chart in h, "hybrid chart %s missing" % chart)
check('data-methods="5"' in h, "accuracy by method: not 5 methods")
m = re.search(r'<span id="winner-combination">([^<]*)</span>', h)
check(m and "lora_x_proj" in m.group(1), "winning combination lacks lora_x_proj: %r" % (m and m.group(1)))
m = re.search(r'<span id="winner-params">([^<]*)</span>', h)
check(m and re.match(r"^[0-9,]+$", m.group(1)), "winner parameter count missing: %r" % (m and m.group(1)))
check('<span id="trial-count">23</span>' in h, "hybrid trial count is not 23")

i = dom("index")
check(i.count('<tr class="study"') == 2, "studies list does not show 2 studies")
print("DOM checks passed")
PY

# The JSON endpoints agree with the page.
http_get /api/studies/branin-dash/trials?state=COMPLETE | "$PY" -c \
  'import json,sys; n=len(json.load(sys.stdin)); assert n == 30, n'
http_get /api/studies/hybrid-dash | "$PY" -c \
  'import json,sys; d=json.load(sys.stdin); assert d["winner"]["stage"] == "final", d["winner"]; assert len(d["method_effects"]) == 5'
echo "screenshots: $OUTPUTS"
echo PASS
