// How the api's records print an error band (api_bands.h): machine fields and one human line.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dlcost/api_bands.h"
#include "dlcost/error_bands.h"
#include "dlcost/plan.h"
#include "dlcost/report.h"

namespace dlcost::api {

// The band of one family for an estimate's regime (the finest key the table has), and in
// `note` where it came from, any fallback to a coarser key, or why there is none.
std::optional<BandMatch> BandLookup(const ErrorBandTable& table, const BandRegime& regime, const char* what,
                                    std::string* note);

// "15.1-24.9": the band's ends to 3 significant digits (whole numbers from 100 up); an error
// band has no more.
std::string BandText(const Band& b);

// After the field `key`: `key`_low and `key`_high in JSON and CSV, and the human line
// "  80% band  <low>-<high>". Nothing when `b` is empty.
void AddBandFields(report::Report& r, const std::string& key, const std::optional<Band>& b);

// The bands of each of `plans`, from its GPU (found among `candidates`), layout and precision.
std::vector<EstimateBands> PlanBands(const ErrorBandTable* table, const std::vector<GpuCandidate>& candidates,
                                     const std::vector<Plan>& plans);
// The distinct whole-run notes of `bands`, in order (plans on one GPU and layout family share one).
std::vector<std::string> RunBandNotes(const std::vector<EstimateBands>& bands);

}  // namespace dlcost::api
