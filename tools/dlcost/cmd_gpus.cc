// dlcost gpus [NAME]: the hardware catalog.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli_common.h"
#include "dlcost/hardware.h"

namespace dlcost::cli {
namespace {

report::Value Peak(const Accelerator& a, Dtype d) {
  auto v = a.peak_dense_tflops[static_cast<int>(d)];
  return v ? report::Value(*v) : report::Value();
}

int RunGpus(const GlobalOptions& g, const std::string& name) {
  Result<std::string> dir = DataDir(g);
  if (!dir.ok()) return Fail(dir.status());
  Result<HardwareCatalog> hw = HardwareCatalog::Load(*dir);
  if (!hw.ok()) return Fail(hw.status());
  report::Report r;
  if (!name.empty()) {
    Result<Accelerator> a = hw->Resolve(name);
    if (!a.ok()) return Fail(a.status());
    r.title = a->name;
    r.AddField("id", "id", a->id);
    r.AddField("name", "name", a->name);
    r.AddField("vendor", "vendor", a->vendor);
    r.AddField("kind", "kind", a->kind);
    r.AddField("release_date", "released", a->release_date);
    r.AddField("memory_gib", "memory (GiB)", a->memory_gib);
    r.AddField("memory_bandwidth_gb_s", "memory bandwidth (GB/s)", a->memory_bandwidth_gb_s);
    r.AddField("tdp_w", "TDP (W)", a->tdp_w > 0 ? report::Value(a->tdp_w) : report::Value());
    r.AddField("intra_node_network", "intra-node link", a->intra_network);
    r.AddField("intra_node_bandwidth_gb_s", "intra-node GB/s per direction", a->intra_bandwidth_gb_s);
    r.AddField("node_size", "devices per node", static_cast<int64_t>(a->node_size));
    r.AddField("inter_node_network", "inter-node network", a->inter_network);
    r.AddField("nics_per_node", "NICs per node", static_cast<int64_t>(a->nics_per_node));
    r.AddField("sparse_2_4", "2:4 sparsity", a->sparse_2_4);
    r.AddField("as_of", "as of", a->as_of);
    report::Table& t = r.AddTable("peak_dense", "Dense peak per dtype",
                                  {{"dtype", "dtype"}, {"tflops", "TFLOP/s (TOPS for int)", 1}});
    for (int i = 0; i < kNumDtypes; ++i) {
      if (a->peak_dense_tflops[i]) t.rows.push_back({std::string(DtypeName(static_cast<Dtype>(i))), *a->peak_dense_tflops[i]});
    }
    for (const std::string& s : a->sources) r.notes.push_back("source: " + s);
    if (!a->notes.empty()) r.notes.push_back(a->notes);
    return Emit(r, g);
  }
  r.title = fmt::format("Accelerators in the catalog ({})", hw->accelerators().size());
  report::Table& t = r.AddTable(
      "gpus", "",
      {{"id", "id"},
       {"name", "name"},
       {"kind", "kind"},
       {"fp32_tflops", "FP32", 1},
       {"tf32_tflops", "TF32", 1},
       {"bf16_tflops", "BF16", 1},
       {"fp8_tflops", "FP8", 1},
       {"int8_tops", "INT8", 1},
       {"memory_gib", "mem GiB", 0},
       {"memory_bandwidth_gb_s", "mem GB/s", 0},
       {"tdp_w", "TDP W", 0},
       {"intra_node_network", "link"},
       {"intra_node_bandwidth_gb_s", "link GB/s", 0},
       {"node_size", "node"},
       {"as_of", "as of"}});
  for (const Accelerator& a : hw->accelerators()) {
    report::Value bf16 = Peak(a, Dtype::kBf16);
    if (std::holds_alternative<std::monostate>(bf16)) bf16 = Peak(a, Dtype::kFp16);
    t.rows.push_back({a.id, a.name, a.kind, Peak(a, Dtype::kFp32), Peak(a, Dtype::kTf32), bf16,
                      Peak(a, Dtype::kFp8), Peak(a, Dtype::kInt8), a.memory_gib, a.memory_bandwidth_gb_s,
                      a.tdp_w > 0 ? report::Value(a.tdp_w) : report::Value(), a.intra_network, a.intra_bandwidth_gb_s, static_cast<int64_t>(a.node_size),
                      a.as_of});
  }
  r.notes.push_back("TFLOP/s are dense peaks (no structured sparsity); BF16 shows FP16 where the device has no BF16.");
  r.notes.push_back("link GB/s: per device, per direction. Sources per device: dlcost gpus <id>.");
  r.notes.push_back("Data: Epoch AI, 'Data on Machine Learning Hardware', CC BY 4.0, and vendor datasheets.");
  return Emit(r, g);
}

}  // namespace

void RegisterGpus(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* cmd = app.add_subcommand("gpus", "List the accelerators in the hardware catalog, or show one");
  auto name = std::make_shared<std::string>();
  cmd->add_option("name", *name, "GPU id, alias or JSON file to show in detail");
  AddOutputOptions(cmd, g);
  cmd->callback([&g, exit_code, name] { *exit_code = RunGpus(g, *name); });
}

}  // namespace dlcost::cli
