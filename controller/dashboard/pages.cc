#include "controller/dashboard/pages.h"

#include <cmath>
#include <cstdio>
#include <set>

#include "controller/dashboard/charts.h"

namespace peftsearch::controller::dashboard {
namespace {

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

// 1231000 -> "1,231,000" (parameter counts); non-integers as Num.
std::string Count(double v) {
  if (v != std::floor(v) || std::abs(v) >= 1e18) return Num(v);
  std::string digits = std::to_string(static_cast<long long>(std::abs(v)));
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (v < 0 ? "-" : "") + out;
}

std::string Time(int64_t ms) {
  if (ms <= 0) return "";
  const time_t s = static_cast<time_t>(ms / 1000);
  struct tm tm;
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

constexpr char kStyle[] = R"css(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#1f3b5a;color:#fff;padding:10px 24px}header a{color:#fff;text-decoration:none;font-weight:600}
main{padding:16px 24px;max-width:1400px}h1{font-size:22px;margin:8px 0}h2{font-size:16px;margin:18px 0 8px}
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{background:#fff;border:1px solid #dde;border-radius:6px;padding:10px 14px;min-width:90px}
.card b{display:block;font-size:20px}.grid{display:flex;flex-wrap:wrap;gap:16px}.panel{background:#fff;border:1px solid #dde;border-radius:6px;padding:8px}
table{border-collapse:collapse;background:#fff;font-size:13px}th,td{border:1px solid #dde;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5;cursor:pointer;user-select:none}td.params{font-family:ui-monospace,monospace;font-size:12px;max-width:620px}
.COMPLETE{color:#1a7f37}.PRUNED{color:#888}.FAILED{color:#c62828}.RUNNING{color:#1565c0}.WAITING{color:#8a6d00}
.winner{background:#fffbe6;border:1px solid #e6d27a;border-radius:6px;padding:10px 14px}
.muted{color:#777}
)css";

std::string Head(const std::string& title) {
  return "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>" +
         HtmlEscape(title) + "</title><style>" + kStyle +
         "</style></head><body><header><a href=\"/\">peftsearch</a> &middot; dashboard</header><main>";
}

std::string ParamsText(const Json& params) {
  std::string s;
  if (!params.is_object()) return s;
  for (auto it = params.begin(); it != params.end(); ++it) {
    if (it->is_object() || it->is_array()) continue;  // derived blocks (hybrid "peft")
    if (!s.empty()) s += ", ";
    s += it.key() + "=" + (it->is_number_float() ? Num(it->get<double>()) : CategoryOf(*it));
  }
  return s;
}

std::string Card(const std::string& label, const std::string& value, const std::string& id = "") {
  return "<div class=\"card\"" + (id.empty() ? "" : " id=\"" + id + "\"") + "><span class=\"muted\">" +
         HtmlEscape(label) + "</span><b>" + HtmlEscape(value) + "</b></div>";
}

const char* PhaseName(int phase, bool hybrid) {
  if (!hybrid) return "";
  switch (phase) {
    case 1: return "step 1";
    case 2: return "step 2";
    case 3: return "final";
    default: return "";
  }
}

constexpr char kScript[] = R"js(
(function(){
  var table=document.getElementById('trials');
  var body=table.tBodies[0];
  var state=document.getElementById('filter-state'),phase=document.getElementById('filter-phase');
  function apply(){
    var n=0,rows=body.rows;
    for(var i=0;i<rows.length;i++){
      var r=rows[i],ok=(!state.value||r.dataset.state===state.value)&&(!phase.value||r.dataset.phase===phase.value);
      r.style.display=ok?'':'none';if(ok)n++;
    }
    document.getElementById('shown').textContent=n;
    location.replace('#state='+state.value+'&phase='+phase.value+'&sort='+(table.dataset.sort||''));
    document.body.dataset.ready='1';
  }
  function sortBy(col,desc){
    var rows=Array.prototype.slice.call(body.rows);
    rows.sort(function(a,b){
      var x=a.cells[col].dataset.v,y=b.cells[col].dataset.v,fx=parseFloat(x),fy=parseFloat(y),c;
      if(x===''&&y!=='')return 1;if(y===''&&x!=='')return -1;
      c=(!isNaN(fx)&&!isNaN(fy))?fx-fy:String(x).localeCompare(String(y));
      return desc?-c:c;
    });
    rows.forEach(function(r){body.appendChild(r);});
    table.dataset.sort=col+(desc?'d':'a');
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
    th.addEventListener('click',function(){var d=table.dataset.sort===i+'a';sortBy(i,d);apply();});
  });
  state.addEventListener('change',apply);phase.addEventListener('change',apply);
  var h={};location.hash.replace(/^#/,'').split('&').forEach(function(kv){var p=kv.split('=');if(p[0])h[p[0]]=decodeURIComponent(p[1]||'');});
  if(h.state)state.value=h.state;if(h.phase)phase.value=h.phase;
  if(h.sort){sortBy(parseInt(h.sort,10),h.sort.slice(-1)==='d');}
  apply();
  var page=document.body.dataset;
  if(page.state!=='RUNNING')return;
  setInterval(function(){
    var x=new XMLHttpRequest();x.open('GET',page.api);
    x.onload=function(){
      if(x.status!==200)return;
      var s=JSON.parse(x.responseText).study;
      if(String(s.updated_unix_ms)!==page.updated||String(s.total)!==page.total)location.reload();
    };
    x.send();
  },2000);
})();
)js";

}  // namespace

std::string UrlEncode(const std::string& text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Json StudyToJson(const StudyInfo& s) {
  Json j = Json::object();
  j["id"] = s.id;
  j["name"] = s.name;
  j["state"] = s.state;
  j["strategy"] = s.strategy;
  j["direction"] = s.maximize ? "maximize" : "minimize";
  j["phase"] = s.phase;
  j["max_trials"] = s.max_trials;
  j["parallelism"] = s.parallelism;
  j["counts"] = {{"waiting", s.waiting},   {"running", s.running}, {"complete", s.complete},
                 {"pruned", s.pruned},     {"failed", s.failed}};
  j["total"] = s.total();
  j["best_value"] = s.best_value ? Json(*s.best_value) : Json(nullptr);
  j["best_trial_number"] = s.best_trial_number;
  j["summary"] = s.summary;
  j["created_unix_ms"] = s.created_ms;
  j["updated_unix_ms"] = s.updated_ms;
  return j;
}

Json TrialToJson(const TrialInfo& t) {
  Json j = Json::object();
  j["number"] = t.number;
  j["state"] = t.state;
  j["phase"] = t.phase;
  j["params"] = t.params;
  j["value"] = t.value && std::isfinite(*t.value) ? Json(*t.value) : Json(nullptr);
  j["result"] = t.result;
  Json iv = Json::array();
  for (const auto& [step, v] : t.intermediate) iv.push_back({step, v});
  j["intermediate_values"] = std::move(iv);
  j["attempt"] = t.attempt;
  j["worker_id"] = t.worker_id;
  j["message"] = t.message;
  j["created_unix_ms"] = t.created_ms;
  j["started_unix_ms"] = t.started_ms;
  j["finished_unix_ms"] = t.finished_ms;
  return j;
}

Json StudiesJson(const std::vector<StudyInfo>& studies) {
  Json j = Json::array();
  for (const StudyInfo& s : studies) j.push_back(StudyToJson(s));
  return j;
}

Json TrialsJson(const std::vector<TrialInfo>& trials) {
  Json j = Json::array();
  for (const TrialInfo& t : trials) j.push_back(TrialToJson(t));
  return j;
}

std::vector<std::pair<int, std::vector<ParamImportance>>> ImportanceByPhase(
    const StudyInfo& study, const std::vector<TrialInfo>& trials) {
  std::vector<std::pair<int, std::vector<ParamImportance>>> out;
  const bool hybrid = study.strategy == "hybrid_peft";
  for (int phase : hybrid ? std::vector<int>{1, 2} : std::vector<int>{-1}) {
    std::vector<TrialInfo> done =
        CompletedTrials(trials, phase < 0 ? std::nullopt : std::optional<int>(phase));
    auto imp = PedAnovaImportance(done, ParamColumns(done, study), study.maximize);
    if (!imp.empty()) out.emplace_back(phase < 0 ? 0 : phase, std::move(imp));
  }
  return out;
}

Json StudyDetailJson(const StudyInfo& study, const std::vector<TrialInfo>& trials) {
  Json j = Json::object();
  j["study"] = StudyToJson(study);
  Json importance = Json::object();
  for (const auto& [phase, imp] : ImportanceByPhase(study, trials)) {
    Json p = Json::object();
    for (const ParamImportance& i : imp) p[i.name] = i.importance;
    importance[std::to_string(phase)] = std::move(p);
  }
  j["importance_method"] = "ped-anova";
  j["importance"] = std::move(importance);
  if (study.strategy == "hybrid_peft") {
    Json effects = Json::array();
    for (const MethodEffect& e : MethodEffects(trials, study.maximize)) {
      effects.push_back({{"method", e.method},
                         {"n_with", e.n_with},
                         {"n_without", e.n_without},
                         {"mean_with", e.mean_with ? Json(*e.mean_with) : Json(nullptr)},
                         {"mean_without", e.mean_without ? Json(*e.mean_without) : Json(nullptr)}});
    }
    j["method_effects"] = std::move(effects);
    if (auto w = WinnerOf(study.summary)) {
      j["winner"] = {{"stage", w->stage},
                     {"trial", w->trial},
                     {"combination", w->combination},
                     {"trainable_params",
                      w->trainable_params ? Json(*w->trainable_params) : Json(nullptr)},
                     {"value", w->value ? Json(*w->value) : Json(nullptr)},
                     {"removed", w->removed}};
    }
  }
  return j;
}

std::string StudiesPage(const std::vector<StudyInfo>& studies) {
  std::string s = Head("peftsearch studies") + "<h1>Studies</h1>";
  s += "<p class=\"muted\"><span id=\"study-count\">" + std::to_string(studies.size()) +
       "</span> studies &middot; JSON: <a href=\"/api/studies\">/api/studies</a> &middot; "
       "<a href=\"/metrics\">/metrics</a></p>";
  s += "<table id=\"studies\"><thead><tr><th>name</th><th>state</th><th>strategy</th>"
       "<th>direction</th><th>trials</th><th>complete</th><th>running</th><th>waiting</th>"
       "<th>pruned</th><th>failed</th><th>best</th><th>created (UTC)</th></tr></thead><tbody>";
  for (const StudyInfo& st : studies) {
    s += "<tr class=\"study\"><td><a href=\"/studies/" + UrlEncode(st.name) + "\">" +
         HtmlEscape(st.name) + "</a></td><td class=\"" + st.state + "\">" + st.state +
         "</td><td>" + HtmlEscape(st.strategy) + "</td><td>" +
         (st.maximize ? "maximize" : "minimize") + "</td><td>" + std::to_string(st.total()) +
         (st.max_trials > 0 ? " / " + std::to_string(st.max_trials) : "") + "</td><td>" +
         std::to_string(st.complete) + "</td><td>" + std::to_string(st.running) + "</td><td>" +
         std::to_string(st.waiting) + "</td><td>" + std::to_string(st.pruned) + "</td><td>" +
         std::to_string(st.failed) + "</td><td>" +
         (st.best_value ? Num(*st.best_value) + " (#" + std::to_string(st.best_trial_number) + ")"
                        : "") +
         "</td><td>" + Time(st.created_ms) + "</td></tr>";
  }
  s += "</tbody></table></main></body></html>";
  return s;
}

std::string StudyPage(const StudyInfo& study, const std::vector<TrialInfo>& trials) {
  const bool hybrid = study.strategy == "hybrid_peft";
  const std::string api = "/api/studies/" + UrlEncode(study.name);
  std::string s = Head(study.name + " - peftsearch");
  // Body data drives the live refresh: reload when the study changes.
  s.replace(s.find("<body>"), 6,
            "<body data-state=\"" + study.state + "\" data-updated=\"" +
                std::to_string(study.updated_ms) + "\" data-total=\"" +
                std::to_string(study.total()) + "\" data-api=\"" + HtmlEscape(api) + "?fields=study\">");
  s += "<h1 id=\"study-name\">" + HtmlEscape(study.name) + "</h1>";
  s += "<p class=\"muted\">" + std::string(study.maximize ? "maximize" : "minimize") + " &middot; " +
       HtmlEscape(study.strategy) + (hybrid ? " &middot; phase " + std::to_string(study.phase) : "") +
       " &middot; JSON: <a href=\"" + api + "\">study</a>, <a href=\"" + api +
       "/trials\">trials</a>" +
       (study.state == "RUNNING" ? " &middot; <span id=\"live\">live: refreshes on change</span>"
                                 : "") +
       "</p>";
  s += "<div class=\"cards\">" + Card("state", study.state, "card-state") +
       Card("trials", std::to_string(study.total()) +
                          (study.max_trials > 0 ? " / " + std::to_string(study.max_trials) : ""),
            "card-trials") +
       Card("complete", std::to_string(study.complete)) +
       Card("running", std::to_string(study.running)) +
       Card("waiting", std::to_string(study.waiting)) + Card("pruned", std::to_string(study.pruned)) +
       Card("failed", std::to_string(study.failed)) +
       Card("best", study.best_value ? Num(*study.best_value) + " (#" +
                                           std::to_string(study.best_trial_number) + ")"
                                     : "-",
            "card-best") +
       "</div>";

  if (hybrid) {
    s += "<h2>Hybrid PEFT result</h2>";
    if (auto w = WinnerOf(study.summary)) {
      std::string combo;
      for (const std::string& m : w->combination) combo += (combo.empty() ? "" : " + ") + m;
      if (combo.empty()) combo = "(head only)";
      const char* stage = w->stage == "final"   ? "final (test split)"
                          : w->stage == "step2" ? "best of step 2 so far"
                                                : "best of step 1 so far";
      s += "<div class=\"winner\" id=\"winner\"><b>Winning combination</b> (" + std::string(stage) +
           ", trial " + std::to_string(w->trial) + "): <span id=\"winner-combination\">" +
           HtmlEscape(combo) + "</span><br>trainable parameters: <span id=\"winner-params\">" +
           (w->trainable_params ? Count(*w->trainable_params) : "not reported") + "</span>" +
           (w->value ? std::string(" &middot; ") +
                           (w->stage == "final" ? "test value: " : "validation value: ") +
                           Num(*w->value)
                     : "") +
           (!w->removed.empty() && w->removed != "none"
                ? " &middot; removed in step 2: " + HtmlEscape(w->removed)
                : "") +
           "</div>";
    } else {
      s += "<p class=\"muted\" id=\"winner\">no completed step-1 trial yet</p>";
    }
    s += "<h2>Accuracy by method included (step 1)</h2><div class=\"panel\">" +
         MethodEffectsSvg(MethodEffects(trials, study.maximize)) + "</div>";
  }

  std::vector<TrialInfo> completed = CompletedTrials(trials);
  s += "<div class=\"grid\"><div><h2>Optimization history</h2><div class=\"panel\">" +
       HistorySvg(trials, study.maximize) +
       "</div></div><div><h2>Intermediate values</h2><div class=\"panel\">" +
       IntermediateSvg(trials) + "</div></div></div>";
  // Parallel coordinates and importance within one phase: a hybrid study's
  // phases sample different parameters.
  const std::vector<int> phases = hybrid ? std::vector<int>{1, 2} : std::vector<int>{-1};
  for (int phase : phases) {
    std::vector<TrialInfo> done =
        phase < 0 ? completed : CompletedTrials(trials, std::optional<int>(phase));
    if (phase == 2 && done.empty()) continue;
    const std::string suffix = phase < 0 ? "" : std::string(" (") + PhaseName(phase, true) + ")";
    const std::vector<ParamColumn> columns = ParamColumns(done, study);
    std::string pc = ParallelCoordinatesSvg(done, columns, study.maximize);
    std::string imp = ImportanceSvg(PedAnovaImportance(done, columns, study.maximize),
                                    phase <= 1 ? "importance" : "importance-phase2");
    if (phase == 2) pc.replace(pc.find("id=\"parallel\""), 13, "id=\"parallel-phase2\"");
    s += "<div class=\"grid\"><div><h2>Parallel coordinates" + suffix +
         "</h2><div class=\"panel\">" + pc + "</div></div><div><h2>Parameter importance" +
         suffix + " <span class=\"muted\">PED-ANOVA (Watanabe et al., IJCAI 2023)</span></h2>"
         "<div class=\"panel\">" + imp + "</div></div></div>";
  }

  // Trials table.
  std::set<std::string> states;
  std::set<int> phase_set;
  for (const TrialInfo& t : trials) {
    states.insert(t.state);
    phase_set.insert(t.phase);
  }
  s += "<h2>Trials (<span id=\"shown\">" + std::to_string(trials.size()) + "</span> shown of " +
       "<span id=\"trial-count\">" + std::to_string(trials.size()) + "</span>)</h2>";
  s += "<p>state <select id=\"filter-state\"><option value=\"\">all</option>";
  for (const std::string& st : states) s += "<option>" + st + "</option>";
  s += "</select> phase <select id=\"filter-phase\"><option value=\"\">all</option>";
  for (int p : phase_set) s += "<option>" + std::to_string(p) + "</option>";
  s += "</select> <span class=\"muted\">click a column header to sort</span></p>";
  s += "<table id=\"trials\"><thead><tr><th>#</th><th>state</th><th>phase</th><th>value</th>"
       "<th>params</th><th>steps</th><th>duration s</th><th>attempt</th><th>worker</th>"
       "<th>message</th></tr></thead><tbody>";
  for (const TrialInfo& t : trials) {
    const std::string value =
        t.value && std::isfinite(*t.value) ? Num(*t.value) : std::string();
    const double duration = t.finished_ms > 0 && t.started_ms > 0
                                ? (t.finished_ms - t.started_ms) / 1000.0
                                : -1;
    const std::string params = ParamsText(t.params);
    s += "<tr class=\"trial\" data-state=\"" + t.state + "\" data-phase=\"" +
         std::to_string(t.phase) + "\"><td data-v=\"" + std::to_string(t.number) + "\">" +
         std::to_string(t.number) + "</td><td class=\"" + t.state + "\" data-v=\"" + t.state +
         "\">" + t.state + "</td><td data-v=\"" + std::to_string(t.phase) + "\">" +
         std::to_string(t.phase) + "</td><td data-v=\"" + value + "\">" + value +
         "</td><td class=\"params\" data-v=\"" + HtmlEscape(params) + "\">" + HtmlEscape(params) +
         "</td><td data-v=\"" + std::to_string(t.intermediate.size()) + "\">" +
         std::to_string(t.intermediate.size()) + "</td><td data-v=\"" +
         (duration >= 0 ? Num(duration) : "") + "\">" + (duration >= 0 ? Num(duration) : "") +
         "</td><td data-v=\"" + std::to_string(t.attempt) + "\">" + std::to_string(t.attempt) +
         "</td><td data-v=\"" + HtmlEscape(t.worker_id) + "\">" + HtmlEscape(t.worker_id) +
         "</td><td data-v=\"" + HtmlEscape(t.message) + "\">" + HtmlEscape(t.message) +
         "</td></tr>";
  }
  s += "</tbody></table>";
  s += "<script>" + std::string(kScript) + "</script></main></body></html>";
  return s;
}

}  // namespace peftsearch::controller::dashboard
