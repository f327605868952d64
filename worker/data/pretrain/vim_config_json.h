// VimConfig <-> JSON, stored in a pre-trained checkpoint's safetensors
// metadata ("vim_config") so that a reader rebuilds the exact architecture of
// a custom (non-preset) backbone.
//
// Thread safety: pure functions.
#ifndef PEFTSEARCH_WORKER_DATA_PRETRAIN_VIM_CONFIG_JSON_H_
#define PEFTSEARCH_WORKER_DATA_PRETRAIN_VIM_CONFIG_JSON_H_

#include <string>

#include "absl/status/statusor.h"
#include "worker/model/vim_config.h"

namespace peftsearch::data {

// {"img_size":32,"patch_size":4,...}: every VimConfig field.
std::string VimConfigToJson(const model::VimConfig& config);

// Inverse of VimConfigToJson; absent fields keep VimConfig's defaults.
// INVALID_ARGUMENT naming the field for malformed JSON, an unknown field, a
// wrong type, or a config that fails ValidateVimConfig.
absl::StatusOr<model::VimConfig> VimConfigFromJson(const std::string& json);

}  // namespace peftsearch::data

#endif  // PEFTSEARCH_WORKER_DATA_PRETRAIN_VIM_CONFIG_JSON_H_
