// ParallelFor: runs f(0..n-1) on up to `threads` std::threads. Each index writes only its own
// result slot, so results do not depend on which thread ran which index.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <system_error>
#include <thread>
#include <vector>

namespace dlcost::drift {

template <typename F>
void ParallelFor(size_t n, int threads, F&& f) {
  size_t t = std::min<size_t>(n, static_cast<size_t>(std::max(1, threads)));
  if (t <= 1) {
    for (size_t i = 0; i < n; ++i) f(i);
    return;
  }
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (;;) {
      size_t i = next.fetch_add(1);
      if (i >= n) break;
      f(i);
    }
  };
  std::vector<std::thread> pool;
  for (size_t k = 1; k < t; ++k) {
    try {
      pool.emplace_back(worker);
    } catch (const std::system_error&) {
      break;  // fewer threads: the work still gets done by the ones we have
    }
  }
  worker();
  for (std::thread& th : pool) th.join();
}

}  // namespace dlcost::drift
