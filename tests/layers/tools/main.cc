// A program must not see src/.
#include "common/csv.h"
