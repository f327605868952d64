#include "worker/peft/dora.h"

namespace peftsearch {
namespace peft {
namespace {

struct TargetRows {
  const char* target;
  const char* attr;      // parameter name stem (MambaPEFT's lora_* with dora_)
  const char* key;       // official tensor (forward direction)
  const char* key_b;     // backward direction, or nullptr for shared projectors
};

}  // namespace

const std::vector<std::string>& DoRAExtension::Targets() {
  static const std::vector<std::string>* t = new std::vector<std::string>{
      "x", "z", "in_proj", "out_proj", "x_proj", "d", "b", "c", "dt_proj"};
  return *t;
}

DoRAExtension::DoRAExtension(const std::string& target, int64_t rank, double scale,
                             const std::string& norm, const BackboneInfo& backbone)
    : MethodExtension("dora"), scale_(scale), column_(norm == "column") {
  TORCH_CHECK(rank >= 1, "dora.r: must be >= 1");
  TORCH_CHECK(norm == "column" || norm == "row", "dora.norm: must be column or row, got ", norm);
  const model::VimConfig& c = backbone.config;
  const int64_t E = c.d_inner(), R = c.dt_rank(), N = c.d_state;
  // {target, attr, key, key_b, row_begin, rows}
  struct Row {
    TargetRows t;
    int64_t row_begin, rows;
  };
  const Row table[] = {
      {{"x", "dora_X", "in_proj.weight", nullptr}, 0, E},
      {{"z", "dora_Z", "in_proj.weight", nullptr}, E, E},
      {{"in_proj", "dora_in_proj", "in_proj.weight", nullptr}, 0, 2 * E},
      {{"out_proj", "dora_out_proj", "out_proj.weight", nullptr}, 0, c.embed_dim},
      {{"x_proj", "dora_x_proj", "x_proj.weight", "x_proj_b.weight"}, 0, R + 2 * N},
      {{"d", "dora_d", "x_proj.weight", "x_proj_b.weight"}, 0, R},
      {{"b", "dora_B", "x_proj.weight", "x_proj_b.weight"}, R, N},
      {{"c", "dora_C", "x_proj.weight", "x_proj_b.weight"}, R + N, N},
      {{"dt_proj", "dora_dt", "dt_proj.weight", "dt_proj_b.weight"}, 0, E}};
  const Row* row = nullptr;
  for (const Row& r : table) {
    if (target == r.t.target) row = &r;
  }
  TORCH_CHECK(row != nullptr, "dora.target: unknown target ", target);
  for (int64_t i = 0; i < c.depth; ++i) {
    const std::string prefix = MixerPrefix(i);
    for (int dir = 0; dir < 2; ++dir) {
      const char* key = dir == 0 ? row->t.key : row->t.key_b;
      if (key == nullptr) continue;
      const torch::Tensor w0 = backbone.Get(prefix + key).narrow(0, row->row_begin, row->rows);
      const int64_t in = w0.size(1);
      const std::string name = prefix + row->t.attr + (dir == 0 ? "." : "_b.");
      Adapter a;
      a.row_begin = row->row_begin;
      a.down = Register(name + "adapter_down.weight", DefaultUniform({rank, in}, in, backbone.options));
      a.up = Register(name + "adapter_up.weight", torch::zeros({row->rows, rank}, backbone.options));
      torch::Tensor m = column_ ? w0.norm(2, {0}, /*keepdim=*/true) : w0.norm(2, {1}, /*keepdim=*/true);
      a.m = Register(name + "m", m.to(backbone.options));
      adapters_[prefix + key] = a;
    }
  }
}

torch::Tensor DoRAExtension::Param(const std::string& name, const torch::Tensor& base) {
  auto it = adapters_.find(name);
  if (it == adapters_.end()) return base;
  const Adapter& a = it->second;
  const int64_t rows = a.up.size(0);
  TORCH_CHECK(base.dim() == 2 && base.size(0) >= a.row_begin + rows &&
                  base.size(1) == a.down.size(1),
              "dora: ", name, " has shape ", base.sizes());
  const torch::Tensor w0 = base.narrow(0, a.row_begin, rows);
  const torch::Tensor v = w0 + scale_ * torch::matmul(a.up, a.down);
  // The norm is a constant in the backward pass (DoRA's "dora_simple").
  const torch::Tensor norm = (column_ ? v.norm(2, {0}, true) : v.norm(2, {1}, true)).detach();
  const torch::Tensor w = a.m * v / norm;
  if (rows == base.size(0)) return w;
  std::vector<torch::Tensor> parts;
  if (a.row_begin > 0) parts.push_back(base.narrow(0, 0, a.row_begin));
  parts.push_back(w);
  const int64_t tail = base.size(0) - a.row_begin - rows;
  if (tail > 0) parts.push_back(base.narrow(0, a.row_begin + rows, tail));
  return torch::cat(parts, 0);
}

}  // namespace peft
}  // namespace peftsearch
