// Whole-file reads with errors that name the path. Shared by the list parser,
// the image decoder and the tensor cache.
//
// Thread safety: free functions; safe to call concurrently.
#ifndef PEFTSEARCH_WORKER_DATA_FILE_UTIL_H_
#define PEFTSEARCH_WORKER_DATA_FILE_UTIL_H_

#include <string>

#include "absl/status/statusor.h"

namespace peftsearch::data {

// Returns the bytes of the file at `path`. NOT_FOUND if it does not exist,
// PERMISSION_DENIED if it may not be read, FAILED_PRECONDITION if it is a
// directory, UNKNOWN for other I/O errors; messages name `path`.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

// "a/b" joined with "c" -> "a/b/c"; an empty `dir` gives `name`.
std::string JoinPath(const std::string& dir, const std::string& name);

}  // namespace peftsearch::data

#endif  // PEFTSEARCH_WORKER_DATA_FILE_UTIL_H_
