// The default values of each layout dimension.
#include "plan/layout_space.h"

#include <algorithm>

namespace dlcost::plan {
namespace {

std::vector<int64_t> DefaultGpuCounts(int64_t max) {
  std::vector<int64_t> out;
  for (int64_t p = 1; p <= max; p *= 2) {
    out.push_back(p);
    if (3 * p <= max && p >= 2) out.push_back(3 * p);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<int64_t> Divisors(int64_t n, int64_t cap) {
  std::vector<int64_t> out;
  for (int64_t d = 1; d <= std::min(n, cap); ++d) {
    if (n % d == 0) out.push_back(d);
  }
  return out;
}

}  // namespace

Space MakeSpace(const LayoutSpace& in, const ModelSpec& m, const SystemSpec& sys, int64_t seq, int64_t gpus_max) {
  Space s;
  s.num_gpus = in.num_gpus.empty() ? DefaultGpuCounts(gpus_max) : in.num_gpus;
  bool tr = m.IsTransformer();
  if (!in.tp.empty()) s.tp = in.tp;
  else if (!tr) s.tp = {1};
  else for (int64_t t = 1; t <= std::max(1, sys.gpus_per_node) && t <= m.heads; t *= 2) s.tp.push_back(t);
  if (!in.pp.empty()) {
    s.pp = in.pp;
  } else if (tr) {
    // The divisors of the layer count, and the powers of two production runs use whether or not
    // they divide it (Llama 3.1 405B: 126 layers on 16 stages); those stages are uneven, as
    // even as the layers allow (docs/training.md, "Uneven pipeline stages").
    s.pp = Divisors(m.layers, 128);
    for (int64_t p = 2; p <= std::min<int64_t>(m.layers, 128); p *= 2) s.pp.push_back(p);
    std::sort(s.pp.begin(), s.pp.end());
    s.pp.erase(std::unique(s.pp.begin(), s.pp.end()), s.pp.end());
  } else {
    s.pp = {1};
  }
  if (!in.cp.empty()) s.cp = in.cp;
  else if (tr && m.IsLanguageModel() && seq >= 16384) s.cp = {1, 2, 4, 8};
  else s.cp = {1};
  if (!in.ep.empty()) s.ep = in.ep;
  else if (m.moe) for (int64_t e = 1; e <= 64 && e <= m.moe->experts; e *= 2) s.ep.push_back(e);
  else s.ep = {1};
  s.vpp = !in.vpp.empty() ? in.vpp : (tr ? std::vector<int64_t>{1, 2, 4} : std::vector<int64_t>{1});
  s.mb = !in.micro_batch.empty() ? in.micro_batch : std::vector<int64_t>{1, 2, 4, 8};
  s.recompute = !in.recompute.empty() ? in.recompute
                                      : std::vector<Recompute>{Recompute::kNone, Recompute::kSelective, Recompute::kFull};
  s.zero = !in.zero.empty() ? in.zero : std::vector<int>{0, 1, 2, 3};
  s.global_batch = in.global_batch;
  s.seq_parallel = in.seq_parallel;
  return s;
}

}  // namespace dlcost::plan
