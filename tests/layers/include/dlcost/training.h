// A public header must not include src/.
#include "perf/op_graph_internal.h"
