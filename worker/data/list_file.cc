#include "worker/data/list_file.h"

#include <cctype>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "worker/data/file_util.h"

namespace peftsearch::data {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

absl::Status LineError(const std::string& source, int line,
                       std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(source, ":", line, ": ", std::string(what)));
}

}  // namespace

absl::StatusOr<std::vector<ListEntry>> ParseList(std::string_view text,
                                                 const std::string& source) {
  std::vector<ListEntry> entries;
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;

    // Trim both ends (lists written on Windows carry "\r").
    while (!line.empty() && IsSpace(line.back())) line.remove_suffix(1);
    while (!line.empty() && IsSpace(line.front())) line.remove_prefix(1);
    if (line.empty()) continue;

    size_t split = line.size();
    while (split > 0 && !IsSpace(line[split - 1])) --split;
    if (split == 0) {
      return LineError(source, line_no,
                       absl::StrCat("expected \"path label\", got \"", std::string(line), "\""));
    }
    std::string_view label_text = line.substr(split);
    std::string_view path = line.substr(0, split);
    while (!path.empty() && IsSpace(path.back())) path.remove_suffix(1);

    int64_t label = 0;
    if (!absl::SimpleAtoi(absl::string_view(label_text.data(), label_text.size()), &label) || label < 0 ||
        label_text.front() == '+' || label_text.front() == '-') {
      return LineError(source, line_no,
                       absl::StrCat("label \"", std::string(label_text),
                                    "\" is not a non-negative integer"));
    }
    // Lists are relative to the task directory; refuse anything that could
    // read outside it.
    if (path.front() == '/' || path == ".." || path.substr(0, 3) == "../" ||
        path.find("/../") != std::string_view::npos ||
        (path.size() >= 3 && path.substr(path.size() - 3) == "/..")) {
      return LineError(source, line_no,
                       absl::StrCat("path \"", std::string(path),
                                    "\" must be relative and stay inside the task directory"));
    }
    entries.push_back(ListEntry{std::string(path), label, line_no});
  }
  return entries;
}

absl::StatusOr<std::vector<ListEntry>> ReadListFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  return ParseList(*text, path);
}

}  // namespace peftsearch::data
