// Where the shipped catalogs (data/) are found at run time.
#pragma once

#include <string>

#include "dlcost/status.h"

namespace dlcost {

// Resolves the data folder: `override_dir` when not empty, else $DLCOST_DATA_DIR, else
// <exe>/../share/dlcost/data or <exe>/data or <exe>/../data, else the source tree dlcost was
// built from. A folder counts when it holds hardware/accelerators.
Result<std::string> FindDataDir(const std::string& override_dir);

}  // namespace dlcost
