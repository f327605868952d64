// Structured logging for the worker daemon: one line per event, key=value
// pairs after a timestamp, level and event name, e.g.
//   ts=2026-11-24T10:00:00.123Z level=info event=trial_started study=demo trial=3 attempt=0
// Values containing spaces, quotes, '=' or control characters are quoted with
// C-style escapes so that every event stays on one line and can be split by a
// simple parser. Lease tokens and other credentials are never passed here.
//
// Thread safety: Log() may be called from any thread; lines never interleave.
#ifndef PEFTSEARCH_WORKER_DAEMON_LOG_H_
#define PEFTSEARCH_WORKER_DAEMON_LOG_H_

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <utility>

namespace peftsearch::daemon {

enum class LogLevel { kInfo, kWarning, kError };

// One key=value field. Numbers are formatted at construction so that callers
// can mix types in one initializer list.
struct LogField {
  LogField(std::string k, std::string v) : key(std::move(k)), value(std::move(v)) {}
  LogField(std::string k, const char* v) : key(std::move(k)), value(v) {}
  LogField(std::string k, int64_t v) : key(std::move(k)), value(std::to_string(v)) {}
  LogField(std::string k, int v) : key(std::move(k)), value(std::to_string(v)) {}
  LogField(std::string k, double v);
  LogField(std::string k, bool v) : key(std::move(k)), value(v ? "true" : "false") {}
  std::string key;
  std::string value;
};

// Returns `value` as it appears in a log line: unchanged when it is a plain
// token, otherwise double-quoted with \" \\ \n \t \xNN escapes.
std::string QuoteLogValue(const std::string& value);

// Returns the whole line (without the trailing newline) for the given time.
std::string FormatLogLine(int64_t unix_ms, LogLevel level, const std::string& event,
                          std::initializer_list<LogField> fields);

// Writes one line to the log sink (stderr unless SetLogSinkForTest was called).
void Log(LogLevel level, const std::string& event, std::initializer_list<LogField> fields = {});

// Redirects Log() to `out` (nullptr restores stderr). For tests only.
void SetLogSinkForTest(std::ostream* out);

}  // namespace peftsearch::daemon

#endif  // PEFTSEARCH_WORKER_DAEMON_LOG_H_
