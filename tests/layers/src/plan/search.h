// plan may use perf.
#include "dlcost/training.h"
