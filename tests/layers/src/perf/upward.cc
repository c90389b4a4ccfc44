// perf uses plan: an upward include.
#include "dlcost/plan.h"
#include "plan/search.h"
