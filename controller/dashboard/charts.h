// Server-side SVG charts of a study: pure functions from plain structs to an
// <svg> element that the page inlines (no scripts, no CDN, works offline).
// Every chart carries an id and data-* counts so tests and scripts can find
// it; with nothing to draw it still renders, saying so.
//
// Thread safety: free functions of their arguments only.
#ifndef PEFTSEARCH_CONTROLLER_DASHBOARD_CHARTS_H_
#define PEFTSEARCH_CONTROLLER_DASHBOARD_CHARTS_H_

#include <string>
#include <vector>

#include "controller/dashboard/model.h"

namespace peftsearch::controller::dashboard {

// Escapes & < > " ' for HTML text and attribute values.
std::string HtmlEscape(const std::string& text);

// Objective value of each finished trial by trial number (COMPLETE as dots,
// PRUNED hollow) and the best value so far as a step line. id="history",
// data-points = trials drawn.
std::string HistorySvg(const std::vector<TrialInfo>& trials, bool maximize);

// One line per trial through its intermediate values (step, value), coloured
// by state. id="intermediate", data-series = trials drawn.
std::string IntermediateSvg(const std::vector<TrialInfo>& trials);

// Parallel coordinates: one vertical axis per column plus the objective, one
// polyline per trial in `completed`, coloured from worst (light) to best
// (dark). id="parallel", data-lines, data-axes.
std::string ParallelCoordinatesSvg(const std::vector<TrialInfo>& completed,
                                   const std::vector<ParamColumn>& columns, bool maximize);

// Horizontal bars, highest first. `id` names the element (one chart per
// phase of a hybrid study). data-params = bars drawn.
std::string ImportanceSvg(const std::vector<ParamImportance>& importances,
                          const std::string& id = "importance");

// Hybrid PEFT step 1: per method, mean value with it included (filled) and
// without it (hollow). id="methods", data-methods = methods drawn.
std::string MethodEffectsSvg(const std::vector<MethodEffect>& effects);

}  // namespace peftsearch::controller::dashboard

#endif  // PEFTSEARCH_CONTROLLER_DASHBOARD_CHARTS_H_
