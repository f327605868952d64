// selective_scan_cuda_bench: achieved memory bandwidth of the CUDA selective
// scan (forward, backward) and causal conv1d against the GPU's peak HBM
// bandwidth, for Vim-S shapes and a long sequence. Times the launchers of
// selective_scan_cuda.h alone (CUDA events, mean of 20 launches after 3
// warm-ups); buffers come from LibTorch.
//
//   selective_scan_cuda_bench [--json FILE]
//
// Bytes counted: every element the launch must read or write once (u, delta,
// z, B, C, out; backward also dout, du, ddelta, dz and the dB/dC partials);
// the backward's workspace of chunk-start states is counted separately in
// "with workspace". Peak = 2 x memory clock x bus width
// (cudaDeviceGetAttribute; CUDA 13 dropped those cudaDeviceProp fields).
// The goal is >= 60% of peak on an H100.
#include <cuda_runtime_api.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "kernels/cuda/selective_scan_cuda.h"

namespace peftsearch {
namespace kernels {
namespace {

using torch::Tensor;

void Check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

double PeakBytesPerSecond() {
  int dev = 0, clock_khz = 0, bus_bits = 0;
  Check(cudaGetDevice(&dev), "cudaGetDevice");
  Check(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, dev), "memory clock");
  Check(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, dev), "bus width");
  return 2.0 * clock_khz * 1e3 * bus_bits / 8.0;
}

template <typename F>
double MeanMs(F launch) {
  cudaEvent_t start, stop;
  Check(cudaEventCreate(&start), "event");
  Check(cudaEventCreate(&stop), "event");
  for (int i = 0; i < 3; ++i) Check(launch(), "warm-up launch");
  Check(cudaDeviceSynchronize(), "sync");
  const int reps = 20;
  Check(cudaEventRecord(start, nullptr), "record");
  for (int i = 0; i < reps; ++i) Check(launch(), "launch");
  Check(cudaEventRecord(stop, nullptr), "record");
  Check(cudaEventSynchronize(stop), "sync");
  float ms = 0;
  Check(cudaEventElapsedTime(&ms, start, stop), "elapsed");
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ms / reps;
}

struct Shape {
  const char* name;
  int64_t batch, dim, L, N;
  int ndir;
};

struct Row {
  std::string line;
  std::string json;
};

// One direction's tensors, on the GPU; B, C as [batch, L, N].
struct Dir {
  Tensor u, delta, A, B, C, D, z, bias, out, dout, du, ddelta, dz, dA, dB, dC, dD, dbias;
};

Dir MakeDir(const Shape& s, torch::Dtype dt) {
  auto o = torch::TensorOptions().device(torch::kCUDA).dtype(dt);
  auto f = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kFloat);
  const int64_t nblk = (s.dim + cuda::kScanDimBlock - 1) / cuda::kScanDimBlock;
  Dir d;
  d.u = torch::randn({s.batch, s.dim, s.L}, o);
  d.delta = (torch::randn({s.batch, s.dim, s.L}, f) * 0.5 - 1).to(dt);
  d.A = -torch::exp(torch::randn({s.dim, s.N}, f) * 0.5);
  d.B = torch::randn({s.batch, s.L, s.N}, o);
  d.C = torch::randn({s.batch, s.L, s.N}, o);
  d.D = torch::randn({s.dim}, f);
  d.z = torch::randn({s.batch, s.dim, s.L}, o);
  d.bias = torch::randn({s.dim}, f) * 0.5;
  d.out = torch::empty_like(d.u);
  d.dout = torch::randn_like(d.u);
  d.du = torch::empty_like(d.u);
  d.ddelta = torch::empty_like(d.u);
  d.dz = torch::empty_like(d.u);
  d.dA = torch::empty({s.batch, s.dim, s.N}, f);
  d.dB = torch::empty({s.batch, nblk, s.L, s.N}, f);
  d.dC = torch::empty({s.batch, nblk, s.L, s.N}, f);
  d.dD = torch::empty({s.batch, s.dim}, f);
  d.dbias = torch::empty({s.batch, s.dim}, f);
  return d;
}

void Fill(SelectiveScanBwdParams* p, Dir& d) {
  p->batch = d.u.size(0);
  p->dim = d.u.size(1);
  p->seqlen = d.u.size(2);
  p->dstate = d.A.size(1);
  p->delta_softplus = true;
  p->u_batch_stride = p->delta_batch_stride = p->z_batch_stride = p->out_batch_stride =
      p->dout_batch_stride = d.u.stride(0);
  p->u_dim_stride = p->delta_dim_stride = p->z_dim_stride = p->out_dim_stride =
      p->dout_dim_stride = d.u.stride(1);
  p->A_dim_stride = d.A.stride(0);
  p->B_batch_stride = d.B.stride(0);
  p->B_time_stride = d.B.stride(1);
  p->C_batch_stride = d.C.stride(0);
  p->C_time_stride = d.C.stride(1);
  p->u_ptr = d.u.data_ptr();
  p->delta_ptr = d.delta.data_ptr();
  p->A_ptr = d.A.data_ptr();
  p->B_ptr = d.B.data_ptr();
  p->C_ptr = d.C.data_ptr();
  p->D_ptr = d.D.data_ptr();
  p->z_ptr = d.z.data_ptr();
  p->delta_bias_ptr = d.bias.data_ptr();
  p->out_ptr = d.out.data_ptr();
  p->dout_ptr = d.dout.data_ptr();
  p->du_ptr = d.du.data_ptr();
  p->ddelta_ptr = d.ddelta.data_ptr();
  p->dz_ptr = d.dz.data_ptr();
  p->dA_part_ptr = d.dA.data_ptr();
  p->dB_part_ptr = d.dB.data_ptr();
  p->dC_part_ptr = d.dC.data_ptr();
  p->dD_part_ptr = d.dD.data_ptr();
  p->ddelta_bias_part_ptr = d.dbias.data_ptr();
}

std::vector<Row> BenchScan(const Shape& s, torch::Dtype dt, double peak) {
  std::vector<Dir> dirs;
  for (int i = 0; i < s.ndir; ++i) dirs.push_back(MakeDir(s, dt));
  cuda::ScanFwdLaunch fwd;
  cuda::ScanBwdLaunch bwd;
  fwd.ndirections = bwd.ndirections = s.ndir;
  fwd.dtype = bwd.dtype = dt == torch::kBFloat16 ? cuda::ScanDtype::kBFloat16
                                                 : cuda::ScanDtype::kFloat32;
  fwd.reverse[1] = bwd.reverse[1] = true;
  for (int i = 0; i < s.ndir; ++i) {
    Fill(&bwd.dir[i], dirs[i]);
    fwd.dir[i] = bwd.dir[i];
  }
  Tensor ws = torch::empty({static_cast<int64_t>(cuda::ScanBwdWorkspaceBytes(bwd) / 4 + 1)},
                           torch::TensorOptions().device(torch::kCUDA).dtype(torch::kFloat));
  bwd.workspace = ws.data_ptr();

  const double elt = dt == torch::kBFloat16 ? 2 : 4;
  const double rowel = static_cast<double>(s.batch) * s.dim * s.L;  // per [batch, dim, L]
  const double bc = static_cast<double>(s.batch) * s.L * s.N;       // per B or C
  const double nblk = static_cast<double>((s.dim + cuda::kScanDimBlock - 1) / cuda::kScanDimBlock);
  const double fwd_bytes = s.ndir * (rowel * elt * 4 + bc * elt * 2);  // u delta z out, B C
  const double bwd_bytes =
      s.ndir * (rowel * elt * 7 + bc * elt * 2 + 2 * s.batch * nblk * s.L * s.N * 4.0);
  const double ws_bytes = 2.0 * cuda::ScanBwdWorkspaceBytes(bwd);  // written + read

  const double fwd_ms = MeanMs([&] { return cuda::SelectiveScanFwdCuda(fwd, nullptr); });
  const double bwd_ms = MeanMs([&] { return cuda::SelectiveScanBwdCuda(bwd, nullptr); });
  const char* dname = dt == torch::kBFloat16 ? "bf16" : "fp32";
  std::vector<Row> rows;
  auto add = [&](const char* pass, double ms, double bytes, double extra) {
    const double gbs = bytes / (ms * 1e-3) / 1e9;
    const double gbs_all = (bytes + extra) / (ms * 1e-3) / 1e9;
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "%-26s %-4s %-3s dirs=%d  %8.3f ms  %8.1f GB/s  %5.1f%% of peak"
                  "  (with workspace %5.1f%%)",
                  s.name, dname, pass, s.ndir, ms, gbs, 100 * gbs * 1e9 / peak,
                  100 * gbs_all * 1e9 / peak);
    char js[512];
    std::snprintf(js, sizeof js,
                  "{\"shape\":\"%s\",\"dtype\":\"%s\",\"pass\":\"%s\",\"directions\":%d,"
                  "\"ms\":%.4f,\"gb_per_s\":%.1f,\"pct_peak\":%.1f}",
                  s.name, dname, pass, s.ndir, ms, gbs, 100 * gbs * 1e9 / peak);
    rows.push_back({buf, js});
  };
  add("fwd", fwd_ms, fwd_bytes, 0);
  add("bwd", bwd_ms, bwd_bytes, ws_bytes);
  return rows;
}

std::vector<Row> BenchConv(torch::Dtype dt, double peak) {
  const int64_t B = 64, C = 768, L = 197, K = 4;
  auto o = torch::TensorOptions().device(torch::kCUDA).dtype(dt);
  auto f = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kFloat);
  Tensor x = torch::randn({B, C, L}, o), out = torch::empty_like(x), dout = torch::randn_like(x),
         dx = torch::empty_like(x), w = torch::randn({C, K}, f), b = torch::randn({C}, f),
         dw = torch::empty({B, C, K}, f), db = torch::empty({B, C}, f);
  CausalConv1dBwdParams p;
  p.batch = B;
  p.channels = C;
  p.seqlen = L;
  p.width = K;
  p.silu = true;
  p.x_batch_stride = p.out_batch_stride = p.dout_batch_stride = x.stride(0);
  p.x_channel_stride = p.out_channel_stride = p.dout_channel_stride = x.stride(1);
  p.x_ptr = x.data_ptr();
  p.w_ptr = w.data_ptr();
  p.bias_ptr = b.data_ptr();
  p.out_ptr = out.data_ptr();
  p.dout_ptr = dout.data_ptr();
  p.dx_ptr = dx.data_ptr();
  p.dw_part_ptr = dw.data_ptr();
  p.dbias_part_ptr = db.data_ptr();
  const cuda::ScanDtype sd =
      dt == torch::kBFloat16 ? cuda::ScanDtype::kBFloat16 : cuda::ScanDtype::kFloat32;
  const double elt = dt == torch::kBFloat16 ? 2 : 4, n = static_cast<double>(B) * C * L;
  const double fms = MeanMs([&] { return cuda::CausalConv1dFwdCuda(p, sd, nullptr); });
  const double bms = MeanMs([&] { return cuda::CausalConv1dBwdCuda(p, sd, nullptr); });
  std::vector<Row> rows;
  for (auto [pass, ms, bytes] : {std::make_tuple("fwd", fms, 2 * n * elt),
                                 std::make_tuple("bwd", bms, 3 * n * elt)}) {
    const double gbs = bytes / (ms * 1e-3) / 1e9;
    char buf[256], js[256];
    std::snprintf(buf, sizeof buf, "%-26s %-4s %-3s          %8.3f ms  %8.1f GB/s  %5.1f%% of peak",
                  "conv1d B64 C768 L197 K4", dt == torch::kBFloat16 ? "bf16" : "fp32", pass, ms,
                  gbs, 100 * gbs * 1e9 / peak);
    std::snprintf(js, sizeof js,
                  "{\"shape\":\"conv1d_vim_s\",\"dtype\":\"%s\",\"pass\":\"%s\",\"ms\":%.4f,"
                  "\"gb_per_s\":%.1f,\"pct_peak\":%.1f}",
                  dt == torch::kBFloat16 ? "bf16" : "fp32", pass, ms, gbs,
                  100 * gbs * 1e9 / peak);
    rows.push_back({buf, js});
  }
  return rows;
}

}  // namespace
}  // namespace kernels
}  // namespace peftsearch

int main(int argc, char** argv) {
  using namespace peftsearch::kernels;
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
      json_path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--json FILE]\n", argv[0]);
      return 2;
    }
  }
  if (!torch::cuda::is_available()) {
    std::fprintf(stderr, "selective_scan_cuda_bench: no CUDA device visible\n");
    return 1;
  }
  cudaDeviceProp prop;
  Check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  const double peak = PeakBytesPerSecond();
  std::printf("GPU: %s, %d SMs, peak HBM %.0f GB/s (2 x memory clock x bus width)\n", prop.name,
              prop.multiProcessorCount, peak / 1e9);
  const Shape shapes[] = {
      {"vim_s B64 E768 L197 N16", 64, 768, 197, 16, 1},
      {"vim_s B64 E768 L197 N16", 64, 768, 197, 16, 2},
      {"vim_s+addscan N24", 64, 768, 197, 24, 2},
      {"long B8 E768 L4096 N16", 8, 768, 4096, 16, 1},
  };
  std::vector<std::string> json;
  for (torch::Dtype dt : {torch::kFloat, torch::kBFloat16}) {
    for (const Shape& s : shapes) {
      for (const auto& r : BenchScan(s, dt, peak)) {
        std::printf("%s\n", r.line.c_str());
        json.push_back(r.json);
      }
    }
    for (const auto& r : BenchConv(dt, peak)) {
      std::printf("%s\n", r.line.c_str());
      json.push_back(r.json);
    }
  }
  if (!json_path.empty()) {
    std::ofstream f(json_path);
    f << "{\"gpu\":\"" << prop.name << "\",\"peak_gb_per_s\":" << peak / 1e9 << ",\"rows\":[";
    for (size_t i = 0; i < json.size(); ++i) f << (i ? "," : "") << json[i];
    f << "]}\n";
  }
  return 0;
}
