// Parser for VTAB-1k split lists in the NOAH layout: one "relative/path label"
// per line, e.g. "images/train800/000123.jpg 7" (NOAH get_vtab1k.py writes
// exactly this). Paths are relative to the task directory.
//
// Thread safety: free functions on plain values; safe to call concurrently.
#ifndef PEFTSEARCH_WORKER_DATA_LIST_FILE_H_
#define PEFTSEARCH_WORKER_DATA_LIST_FILE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace peftsearch::data {

struct ListEntry {
  std::string path;  // as written in the list, relative to the task directory
  int64_t label = 0;
  int line = 0;      // 1-based line number in the list, for error messages
};

// Parses list text. `source` names the list in error messages ("file:line").
// Blank lines (also trailing "\r") are skipped. The path is everything before
// the last run of whitespace so that paths with spaces still parse.
// Returns the entries in file order, or INVALID_ARGUMENT naming source:line
// for a line without a label, a label that is not a non-negative integer, or
// a path that is absolute or climbs out with "..".
absl::StatusOr<std::vector<ListEntry>> ParseList(std::string_view text,
                                                 const std::string& source);

// Reads and parses the list file at `path`.
// NOT_FOUND if the file does not exist, PERMISSION_DENIED / UNKNOWN if it
// cannot be read, else as ParseList; every message names `path`.
absl::StatusOr<std::vector<ListEntry>> ReadListFile(const std::string& path);

}  // namespace peftsearch::data

#endif  // PEFTSEARCH_WORKER_DATA_LIST_FILE_H_
