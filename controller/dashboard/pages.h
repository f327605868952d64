// The dashboard's pages and JSON documents: pure functions of plain structs
// (model.h), so that every page is tested without a server.
//
//   /                      StudiesPage
//   /studies/NAME          StudyPage: counts, winner (hybrid PEFT), charts,
//                          trials table (sortable, filterable by state and
//                          phase), live refresh by polling /api/studies/NAME
//   /api/studies           StudiesJson
//   /api/studies/NAME      StudyDetailJson (study, importance, hybrid views)
//   /api/studies/NAME/trials  TrialsJson
//
// Thread safety: free functions of their arguments only.
#ifndef PEFTSEARCH_CONTROLLER_DASHBOARD_PAGES_H_
#define PEFTSEARCH_CONTROLLER_DASHBOARD_PAGES_H_

#include <string>
#include <vector>

#include "controller/dashboard/model.h"

namespace peftsearch::controller::dashboard {

// Percent-encodes a study name for a URL path segment.
std::string UrlEncode(const std::string& text);

std::string StudiesPage(const std::vector<StudyInfo>& studies);

// `trials`: every trial of the study, with intermediate values.
std::string StudyPage(const StudyInfo& study, const std::vector<TrialInfo>& trials);

Json StudyToJson(const StudyInfo& study);
Json TrialToJson(const TrialInfo& trial);
Json StudiesJson(const std::vector<StudyInfo>& studies);
Json TrialsJson(const std::vector<TrialInfo>& trials);
// The study, its parameter importance (per phase for phased studies) and,
// for hybrid PEFT studies, the step-1 method effects and the winner.
Json StudyDetailJson(const StudyInfo& study, const std::vector<TrialInfo>& trials);

// Importance per phase: phase 0 for a single-phase study; phases 1 and 2 for
// a hybrid one (their parameters differ). Phases with no importance omitted.
std::vector<std::pair<int, std::vector<ParamImportance>>> ImportanceByPhase(
    const StudyInfo& study, const std::vector<TrialInfo>& trials);

}  // namespace peftsearch::controller::dashboard

#endif  // PEFTSEARCH_CONTROLLER_DASHBOARD_PAGES_H_
