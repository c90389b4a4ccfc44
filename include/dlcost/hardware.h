// The hardware catalog: accelerators (GPUs, TPUs, CPUs) and the links between them.
//
// Each accelerator and each network type is one JSON file under data/hardware/ with its
// datasheet source and an as_of date (schema in data/hardware/README.md). A user can also pass
// a JSON file of the same schema wherever a built-in id is accepted.
//
//   DLCOST_ASSIGN_OR_RETURN(HardwareCatalog hw, HardwareCatalog::Load(data_dir));
//   DLCOST_ASSIGN_OR_RETURN(Accelerator gpu, hw.Resolve("h100"));
//   double peak = gpu.PeakFlops(Dtype::kBf16).value_or(0);   // FLOP/s, dense
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dlcost/status.h"

namespace dlcost {

enum class Dtype { kFp64, kFp32, kTf32, kBf16, kFp16, kFp8, kInt8, kInt4, kFp4 };
inline constexpr int kNumDtypes = 9;

const char* DtypeName(Dtype d);
Result<Dtype> ParseDtype(std::string_view text, std::string_view field);
// Storage size of one element, bytes (int4/fp4: 0.5).
double DtypeBytes(Dtype d);

struct Network {
  std::string id;
  std::string name;
  std::string scope;              // "intra_node" or "inter_node"
  double bandwidth_gb_s = 0;      // per endpoint, per direction, decimal GB/s
  double latency_us = 0;          // typical small-message latency
  std::vector<std::string> sources;
  std::string as_of;
  std::string notes;
};

struct Accelerator {
  std::string id;
  std::string name;
  std::string vendor;
  std::string kind;               // gpu, tpu, cpu, npu, soc
  std::string architecture;       // generation ("ampere", "hopper", "cdna3" ...); "" when not given
  std::vector<std::string> aliases;
  std::string release_date;
  // Dense peak per dtype in TFLOP/s (TOPS for int); nullopt where the hardware has no such mode.
  std::array<std::optional<double>, kNumDtypes> peak_dense_tflops{};
  bool sparse_2_4 = false;
  double memory_gib = 0;
  double memory_bandwidth_gb_s = 0;
  double tdp_w = 0;               // board/module power; 0 when the vendor publishes none
  // The power at which the datasheet peaks hold, when the part runs capped below it (tdp_w is
  // then the cap); 0: the peaks hold at tdp_w.
  double peak_power_w = 0;
  std::string intra_network;      // network id
  double intra_bandwidth_gb_s = 0;  // per device, per direction
  int node_size = 1;
  std::string inter_network;      // network id ("" when none)
  int nics_per_node = 0;
  std::vector<std::string> sources;
  std::string as_of;
  std::string notes;

  // Dense peak in FLOP/s for `d`, or nullopt when unsupported.
  std::optional<double> PeakFlops(Dtype d) const;
  double MemoryBytes() const;
  // Share of the datasheet compute peak a power-capped part sustains: (tdp_w / peak_power_w)^(1/3)
  // when peak_power_w > tdp_w, else 1 (docs/training.md, "Power-capped GPUs").
  double SustainedComputeFraction() const;
};

class HardwareCatalog {
 public:
  // Loads every accelerators/*.json and networks/*.json under `data_dir`/hardware and checks
  // that ids are unique, aliases do not collide and every referenced network exists.
  static Result<HardwareCatalog> Load(const std::string& data_dir);

  const std::vector<Accelerator>& accelerators() const { return accelerators_; }
  const std::vector<Network>& networks() const { return networks_; }

  // Finds an accelerator by id or alias (case-insensitive), or reads it from a JSON file path.
  // Unknown names get a "did you mean" error.
  Result<Accelerator> Resolve(std::string_view name_or_path) const;
  Result<Network> ResolveNetwork(std::string_view id) const;
  std::vector<std::string> Ids() const;

 private:
  std::vector<Accelerator> accelerators_;
  std::vector<Network> networks_;
};

// Reads one accelerator JSON file (the schema of data/hardware/accelerators/).
Result<Accelerator> ParseAcceleratorFile(const std::string& path);

}  // namespace dlcost
