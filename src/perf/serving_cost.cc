// Prices a serving estimate: dollars, energy and CO2 per million tokens or thousand images.
#include "dlcost/serving.h"

#include "dlcost/units.h"

namespace dlcost {

ServingCost PriceServing(const ServingEstimate& e, std::optional<double> usd_per_gpu_hour, double gpu_power_w,
                         double pue, double carbon_g_per_kwh) {
  ServingCost c;
  double gpus = static_cast<double>(e.num_gpus);
  double kw = gpus * gpu_power_w * pue / 1000.0;
  if (usd_per_gpu_hour) c.usd_per_hour = *usd_per_gpu_hour * gpus;
  if (e.unit != "token") {
    if (e.images_per_s > 0) {
      double hours_per_k = 1000.0 / e.images_per_s / kSecondsPerHour;
      if (c.usd_per_hour) c.usd_per_k_images = *c.usd_per_hour * hours_per_k;
      c.kwh_per_k_images = kw * hours_per_k;
      c.co2_kg_per_k_images = c.kwh_per_k_images * carbon_g_per_kwh / 1000.0;
    }
    return c;
  }
  if (e.total_tok_s > 0) {
    double hours_per_m = 1e6 / e.total_tok_s / kSecondsPerHour;
    c.kwh_per_m_tokens = kw * hours_per_m;
    c.co2_kg_per_m_tokens = c.kwh_per_m_tokens * carbon_g_per_kwh / 1000.0;
  }
  if (c.usd_per_hour) {
    // GPU time is split between prompt and generated tokens by the share of iteration time each causes.
    double input_tok_s = e.total_tok_s - e.output_tok_s;
    if (input_tok_s > 0) c.usd_per_m_input = *c.usd_per_hour / kSecondsPerHour * e.prefill_share / input_tok_s * 1e6;
    if (e.output_tok_s > 0) {
      c.usd_per_m_output = *c.usd_per_hour / kSecondsPerHour * (1 - e.prefill_share) / e.output_tok_s * 1e6;
    }
  }
  return c;
}

}  // namespace dlcost
