#include "worker/daemon/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <mutex>
#include <sstream>

namespace peftsearch::daemon {
namespace {

std::mutex g_log_mu;
std::ostream* g_sink = nullptr;  // guarded by g_log_mu; nullptr = std::cerr

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::string FormatTimestamp(int64_t unix_ms) {
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return buf;
}

}  // namespace

LogField::LogField(std::string k, double v) : key(std::move(k)) {
  // Ten digits keep lines short; the RPCs, not the logs, carry exact doubles.
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.10g", v);
  value = buf;
}

std::string QuoteLogValue(const std::string& value) {
  bool plain = !value.empty();
  for (unsigned char c : value) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) {
      plain = false;
      break;
    }
  }
  if (plain) return value;
  std::string out = "\"";
  for (unsigned char c : value) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < ' ' || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);  // UTF-8 bytes pass through unchanged
        }
    }
  }
  out += "\"";
  return out;
}

std::string FormatLogLine(int64_t unix_ms, LogLevel level, const std::string& event,
                          std::initializer_list<LogField> fields) {
  std::string line = "ts=" + FormatTimestamp(unix_ms) + " level=" + LevelName(level) +
                     " event=" + QuoteLogValue(event);
  for (const LogField& f : fields) {
    line += " " + f.key + "=" + QuoteLogValue(f.value);
  }
  return line;
}

void Log(LogLevel level, const std::string& event, std::initializer_list<LogField> fields) {
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  std::string line = FormatLogLine(now_ms, level, event, fields);
  line += '\n';
  std::lock_guard<std::mutex> lock(g_log_mu);
  std::ostream& out = g_sink != nullptr ? *g_sink : std::cerr;
  out << line;
  out.flush();
}

void SetLogSinkForTest(std::ostream* out) {
  std::lock_guard<std::mutex> lock(g_log_mu);
  g_sink = out;
}

}  // namespace peftsearch::daemon
