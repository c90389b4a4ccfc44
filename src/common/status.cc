#include "dlcost/status.h"

#include <cstdio>

namespace dlcost {

int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk: return 0;
    case StatusCode::kInvalidInput: return 1;
    case StatusCode::kNotFound: return 1;
    case StatusCode::kUsage: return 2;
    case StatusCode::kInfeasible: return 3;
    case StatusCode::kUnavailable: return 4;
    case StatusCode::kInternal: return 70;
  }
  return 70;
}

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidInput: return "invalid_input";
    case StatusCode::kNotFound: return "not_found";
    case StatusCode::kUsage: return "usage";
    case StatusCode::kInfeasible: return "infeasible";
    case StatusCode::kUnavailable: return "unavailable";
    case StatusCode::kInternal: return "internal";
  }
  return "internal";
}

namespace internal {
void CheckFailed(const char* cond, const char* file, int line) {
  std::fprintf(stderr, "dlcost: internal error: CHECK(%s) failed at %s:%d\n", cond, file, line);
  std::abort();
}
}  // namespace internal

}  // namespace dlcost
