#include "controller/executor/slurm_executor.h"

#include <chrono>
#include <cstdio>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace peftsearch::controller::executor {
namespace {

// "12345" or "12345;cluster" (sbatch --parsable), possibly after warnings.
absl::StatusOr<std::string> ParseJobId(const std::string& output) {
  std::istringstream in(output);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  last = last.substr(0, last.find(';'));
  if (last.empty() || last.find_first_not_of("0123456789_") != std::string::npos) {
    return absl::InternalError(absl::StrCat("sbatch printed no job id: ", output));
  }
  return last;
}

void LogEvent(const std::string& event, int64_t study_id, const std::string& detail) {
  std::fprintf(stderr, "component=executor executor=slurm event=%s study_id=%lld %s\n",
               event.c_str(), static_cast<long long>(study_id), detail.c_str());
}

}  // namespace

SlurmExecutor::SlurmExecutor(StudyEngine* engine, SlurmExecutorOptions options,
                             CommandRunner runner)
    : engine_(engine), options_(std::move(options)), runner_(std::move(runner)) {}

SlurmExecutor::~SlurmExecutor() { Stop(); }

void SlurmExecutor::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void SlurmExecutor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SlurmExecutor::Loop() {
  while (true) {
    absl::Status s = PollOnce();
    if (!s.ok()) LogEvent("poll_failed", 0, absl::StrCat("message=\"", s.message(), "\""));
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(options_.poll_ms), [this] { return stopping_; });
    if (stopping_) return;
  }
}

std::map<int64_t, std::set<std::string>> SlurmExecutor::jobs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return jobs_;
}

absl::StatusOr<std::map<int64_t, std::set<std::string>>> SlurmExecutor::LiveJobs() {
  // Completing (CG) jobs are gone for our purpose: their worker is dying.
  auto out = runner_({"squeue", "--me", "--noheader", "--states=PENDING,CONFIGURING,RUNNING",
                      "--format=%i %j"},
                     {});
  if (!out.ok()) return absl::UnavailableError(absl::StrCat("squeue: ", out.status().message()));
  const std::string prefix = options_.job_name_prefix + "-";
  std::map<int64_t, std::set<std::string>> live;
  std::istringstream in(*out);
  std::string id, name;
  while (in >> id >> name) {
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string study = name.substr(prefix.size());
    if (study.empty() || study.find_first_not_of("0123456789") != std::string::npos) continue;
    live[std::stoll(study)].insert(id);
  }
  return live;
}

absl::Status SlurmExecutor::PollOnce() {
  std::lock_guard<std::mutex> poll_lock(poll_mu_);
  auto studies = engine_->ListStudies();
  if (!studies.ok()) return studies.status();
  auto live = LiveJobs();
  if (!live.ok()) return live.status();

  std::map<std::string, std::string> env = {{"PEFTSEARCH_CONTROLLER",
                                             options_.controller_address}};
  if (!options_.worker_token.empty()) env["PEFTSEARCH_TOKEN"] = options_.worker_token;

  absl::Status first_error;
  std::set<int64_t> seen;
  for (const StudyView& view : *studies) {
    const int64_t id = view.record.id;
    seen.insert(id);
    std::set<std::string>& jobs = (*live)[id];
    if (view.spec.objective_type == "external") continue;  // ask/tell: no workers
    if (view.record.state != storage::StudyState::kRunning) {
      // Complete or cancelled: its workers have nothing more to do here.
      for (const std::string& job : jobs) {
        auto s = runner_({"scancel", job}, {});
        if (s.ok()) {
          LogEvent("cancelled", id, absl::StrCat("job=", job));
        } else if (first_error.ok()) {
          first_error = s.status();
        }
      }
      jobs.clear();
      continue;
    }
    // Only grow while the study runs: shrinking could kill the worker that
    // holds one of the last trials. Extra idle jobs go when the study ends.
    const int64_t open = view.counts.waiting + view.counts.running;
    const int64_t want = std::min<int64_t>(view.spec.parallelism, open);
    int submitted = 0;
    while (static_cast<int64_t>(jobs.size()) < want && submitted < options_.max_submit_per_poll) {
      std::vector<std::string> argv = {"sbatch", "--parsable",
                                       absl::StrCat("--job-name=", options_.job_name_prefix, "-",
                                                    id),
                                       "--export=ALL"};
      argv.insert(argv.end(), options_.sbatch_args.begin(), options_.sbatch_args.end());
      argv.push_back(options_.script);
      auto out = runner_(argv, env);
      if (!out.ok()) {
        if (first_error.ok()) first_error = out.status();
        break;
      }
      auto job = ParseJobId(*out);
      if (!job.ok()) {
        if (first_error.ok()) first_error = job.status();
        break;
      }
      jobs.insert(*job);
      ++submitted;
      LogEvent("submitted", id, absl::StrCat("job=", *job, " jobs=", jobs.size(), " want=", want));
    }
  }
  // Jobs of studies the engine does not know (a deleted database?) are left
  // alone: they may belong to another controller with the same prefix.
  for (auto it = live->begin(); it != live->end();) {
    it = seen.count(it->first) ? std::next(it) : live->erase(it);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_ = *live;
  }
  return first_error;
}

}  // namespace peftsearch::controller::executor
