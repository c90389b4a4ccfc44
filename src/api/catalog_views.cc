#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/json_util.h"
#include "dlcost/api_catalog.h"
#include "dlcost/op_graph.h"
#include "dlcost/units.h"

namespace dlcost::api {
namespace {

report::Value Peak(const Accelerator& a, Dtype d) {
  auto v = a.peak_dense_tflops[static_cast<int>(d)];
  return v ? report::Value(*v) : report::Value();
}

report::Value PublishedDiffPct(const ModelSpec& m, double computed) {
  double pub = m.published.exact > 0 ? static_cast<double>(m.published.exact) : m.published.total_b * 1e9;
  if (pub <= 0) return {};
  return 100.0 * (computed - pub) / pub;
}

}  // namespace

Result<report::Report> GpusReport(const Session& session, const std::string& name) {
  DLCOST_ASSIGN_OR_RETURN(const HardwareCatalog* hw, session.Hardware());
  report::Report r;
  if (!name.empty()) {
    Result<Accelerator> a = hw->Resolve(name);
    if (!a.ok()) return a.status();
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
    return r;
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
  return r;
}

Result<report::Report> PricesReport(const Session& session, const PricesRequest& a) {
  if (!a.provider.empty() && a.vms.empty()) {
    return UsageError("--provider: only applies to offers read with --vms");
  }
  DLCOST_ASSIGN_OR_RETURN(const HardwareCatalog* hw, session.Hardware());
  std::string gpu_id;
  if (!a.gpu.empty()) {
    Result<Accelerator> acc = hw->Resolve(a.gpu);
    if (!acc.ok()) return acc.status();
    gpu_id = acc->id;
  }
  VmsImportReport imported;
  std::optional<PriceTable> vms;
  const PriceTable* table = nullptr;
  if (a.vms.empty()) {
    DLCOST_ASSIGN_OR_RETURN(table, session.Prices());
  } else {
    DLCOST_ASSIGN_OR_RETURN(vms, PriceTable::ImportVmsCsv(a.vms, a.provider, &imported));
    table = &*vms;
  }
  std::vector<Offer> offers;
  if (gpu_id.empty()) {
    for (const Accelerator& acc : hw->accelerators()) {
      std::vector<Offer> o = table->ForGpu(acc.id);
      offers.insert(offers.end(), o.begin(), o.end());
    }
  } else {
    offers = table->ForGpu(gpu_id);
  }
  bool top_overall = gpu_id.empty() && a.top > 0;
  if (top_overall) {
    // --top without a GPU: the cheapest offers of any GPU, not the first GPUs in id order.
    std::stable_sort(offers.begin(), offers.end(), [](const Offer& x, const Offer& y) {
      return x.OnDemandUsdPerGpuHour() < y.OnDemandUsdPerGpuHour();
    });
  }
  if (a.top > 0 && static_cast<int>(offers.size()) > a.top) offers.resize(a.top);
  report::Report r;
  r.title = !gpu_id.empty() ? fmt::format("Offers for {}, cheapest first", gpu_id)
            : top_overall   ? fmt::format("The {} cheapest GPU offers (per GPU-hour, any GPU)", a.top)
                            : "GPU offers, cheapest first per GPU";
  report::Table& t = r.AddTable("offers", "",
                                {{"provider", "provider"},
                                 {"instance", "instance"},
                                 {"gpu", "gpu"},
                                 {"gpu_count", "GPUs"},
                                 {"region", "region"},
                                 {"on_demand_usd_per_gpu_hour", "$/GPU-h", 3},
                                 {"spot_usd_per_gpu_hour", "spot $/GPU-h", 3},
                                 {"on_demand_usd_per_hour", "$/h instance", 2},
                                 {"as_of", "as of"},
                                 {"source", "source"}});
  for (const Offer& o : offers) {
    auto spot = o.SpotUsdPerGpuHour();
    t.rows.push_back({o.provider, o.instance, o.gpu, static_cast<int64_t>(o.gpu_count), o.region,
                      o.OnDemandUsdPerGpuHour(), spot ? report::Value(*spot) : report::Value(),
                      o.on_demand_usd_per_hour, o.as_of, o.source});
  }
  if (a.vms.empty()) {
    r.notes.push_back("Dated snapshot of public on-demand list prices (data/prices/cloud_prices.csv); "
                      "prices change: check the provider before you buy, or pass --vms with a current catalog.");
  } else {
    r.notes.push_back(fmt::format("Imported from {}: {} rows, {} GPU offers, {} rows skipped (accelerators "
                                  "without a catalog id: {}).",
                                  a.vms, imported.rows, imported.offers, imported.skipped_unknown_gpu,
                                  imported.unknown_accelerators.empty() ? "none" : fmt::format("{}", fmt::join(imported.unknown_accelerators, ", "))));
  }
  if (offers.empty()) {
    r.notes.push_back(gpu_id.empty() ? "No offers." : fmt::format("No offer for {} in this price table.", gpu_id));
  }
  return r;
}

Result<report::Report> ModelsReport(const Session& session) {
  DLCOST_ASSIGN_OR_RETURN(const ModelCatalog* zoo, session.Models());
  report::Report r;
  r.title = fmt::format("Model zoo ({} models)", zoo->models().size());
  report::Table& t = r.AddTable("models", "",
                                {{"id", "id"},
                                 {"kind", "kind"},
                                 {"params_total", "params"},
                                 {"params_active", "active"},
                                 {"published_params_b", "published (B)", 3},
                                 {"params_diff_pct", "diff %", 2},
                                 {"layers", "layers"},
                                 {"hidden", "hidden"},
                                 {"name", "name"}});
  for (const ModelSpec& m : zoo->models()) {
    Result<perf::OpGraph> graph = perf::BuildOpGraph(m, 0);
    if (!graph.ok()) return graph.status().WithContext(m.id);
    double total = graph->TotalParams();
    report::Value layers = m.IsTransformer() ? report::Value(m.layers) : report::Value();
    report::Value hidden = m.IsTransformer() ? report::Value(m.hidden) : report::Value();
    t.rows.push_back({m.id, std::string(ModelKindName(m.kind)), total, graph->ActiveParams(),
                      m.published.total_b > 0 ? report::Value(m.published.total_b) : report::Value(),
                      PublishedDiffPct(m, total), layers, hidden, m.name});
  }
  r.notes.push_back("params: computed from the op graph (docs/model.md); active: used per token (MoE) or per image.");
  r.notes.push_back("diff %: computed vs the published count (exact figure where one is published).");
  return r;
}

Result<report::Report> ModelReport(const Session& session, const ModelRequest& a) {
  Result<ModelSpec> m = session.ResolveModel(a.name);
  if (!m.ok()) return m.status();
  int64_t seq = 0;
  if (!a.seq.empty()) {
    Result<int64_t> s = ParsePositiveInt(a.seq, "--seq");
    if (!s.ok()) return s.status();
    seq = *s;
  }
  Result<perf::OpGraph> graph = perf::BuildOpGraph(*m, seq);
  if (!graph.ok()) return graph.status();
  const perf::OpGraph& gr = *graph;
  report::Report r;
  r.title = fmt::format("{} ({})", m->name, m->id);
  double total = gr.TotalParams();
  r.AddField("id", "id", m->id);
  r.AddField("kind", "kind", std::string(ModelKindName(m->kind)));
  r.AddField("origin", "from", m->origin);
  r.AddField("params_total", "parameters, total", total, 0);
  r.AddField("params_total_b", "parameters, total (B)", total / 1e9, 3);
  r.AddField("params_active", "parameters, active per " + gr.unit, gr.ActiveParams(), 0);
  r.AddField("params_trainable", "parameters, trainable", gr.TrainableParams(), 0);
  r.AddField("params_embedding", "parameters, input embeddings", gr.EmbeddingParams(), 0);
  if (m->published.total_b > 0) {
    r.AddField("published_params_b", "published total (B)", m->published.total_b);
    if (m->published.exact > 0) r.AddField("published_params_exact", "published exact", m->published.exact);
    r.AddField("params_diff_pct", "computed vs published (%)", PublishedDiffPct(*m, total), 3);
  }
  if (m->published.active_b > 0) r.AddField("published_active_b", "published active (B)", m->published.active_b);
  r.AddField("unit", "FLOPs counted per", gr.unit);
  if (gr.unit == "token") r.AddField("seq_len", "sequence length (attention term)", gr.seq_len);
  else r.AddField("tokens_per_sample", "tokens or pixels per image", gr.seq_len);
  if (m->sliding_window > 0) {
    r.AddField("sliding_window", "sliding attention window (tokens)", m->sliding_window);
    r.AddField("sliding_window_layers", "layers with the window", m->sliding_window_layers);
  }
  double fwd = gr.FwdFlopsPerUnit();
  r.AddField("fwd_flops_per_" + gr.unit, "forward FLOPs per " + gr.unit, fwd);
  r.AddField("train_flops_per_" + gr.unit, "training FLOPs per " + gr.unit + " (3 x forward)", gr.TrainFlopsPerUnit());
  if (gr.unit == "token") {
    double six_n = 6.0 * (gr.ActiveParams() - gr.EmbeddingParams());
    r.AddField("train_flops_6n_per_token", "6N (non-embedding active params) per token", six_n);
  }
  report::Table& layers = r.AddTable("layers", "Per-layer breakdown",
                                     {{"group", "group"},
                                      {"count", "count"},
                                      {"params_per_layer", "params/layer", 0},
                                      {"params_total", "params total", 0},
                                      {"active_params_per_layer", "active/layer", 0},
                                      {"fwd_gflops_per_layer", fmt::format("fwd GFLOP/{} per layer", gr.unit), 4},
                                      {"fwd_flops_share_pct", "FLOPs %", 1}});
  for (const perf::LayerGroup& grp : gr.groups) {
    layers.rows.push_back({grp.name, grp.count, grp.Params(), grp.Params() * grp.count, grp.ActiveParams(),
                           grp.FwdFlops() / 1e9, fwd > 0 ? 100.0 * grp.FwdFlops() * grp.count / fwd : 0.0});
  }
  if (a.ops) {
    report::Table& ops = r.AddTable("ops", "Operations (one layer of each group)",
                                    {{"group", "group"},
                                     {"op", "op"},
                                     {"kind", "kind"},
                                     {"params", "params", 0},
                                     {"active_params", "active", 0},
                                     {"fwd_mflops", fmt::format("fwd MFLOP/{}", gr.unit), 3},
                                     {"gemm_k", "K"},
                                     {"gemm_n", "N"}});
    for (const perf::LayerGroup& grp : gr.groups) {
      for (const perf::Op& op : grp.ops) {
        ops.rows.push_back({grp.name, op.name, std::string(perf::OpKindName(op.kind)), op.params, op.active_params,
                            op.fwd_flops / 1e6, op.gemm_k ? report::Value(op.gemm_k) : report::Value(),
                            op.gemm_n ? report::Value(op.gemm_n) : report::Value()});
      }
    }
  }
  r.notes.push_back("FLOPs: 2 per multiply-accumulate of matrix multiplies and attention (full s x s score "
                    "matrix, Megatron-LM convention; Narayanan et al. 2021, eq. 3); norms and activations "
                    "are not counted. Backward = 2 x forward.");
  if (m->sliding_window > 0) {
    r.notes.push_back(fmt::format("{} of {} layers attend to at most the last {} keys: their s x s matrix becomes "
                                  "2w - w^2/s keys per query (s > w), averaged into the attention term "
                                  "(docs/model.md, 'FLOPs').",
                                  m->sliding_window_layers, m->layers, m->sliding_window));
  }
  if (m->mtp_layers > 0) {
    r.notes.push_back(fmt::format("{} multi-token-prediction module(s) are not included (the published total "
                                  "excludes them).", m->mtp_layers));
  }
  if (!m->published.source.empty()) r.notes.push_back("published count: " + m->published.source);
  if (!m->published.note.empty()) r.notes.push_back(m->published.note);
  return r;
}

std::string VersionText(const Session& session, const std::string& version, const std::string& commit) {
  std::string out = fmt::format("dlcost {}{}\ndata: {}\n", version, commit.empty() ? "" : " (commit " + commit + ")",
                                session.data_dir());
  auto range = [](std::vector<std::string> dates) -> std::string {
    dates.erase(std::remove(dates.begin(), dates.end(), std::string()), dates.end());
    if (dates.empty()) return "undated";
    auto [lo, hi] = std::minmax_element(dates.begin(), dates.end());
    return *lo == *hi ? *lo : *lo + " to " + *hi;
  };
  if (Result<const PriceTable*> p = session.Prices(); p.ok()) {
    std::vector<std::string> d;
    for (const Offer& o : (*p)->offers()) d.push_back(o.as_of);
    out += fmt::format("  prices: {} offers, as of {}\n", (*p)->offers().size(), range(d));
  } else {
    out += fmt::format("  prices: {}\n", p.status().message());
  }
  if (Result<const HardwareCatalog*> h = session.Hardware(); h.ok()) {
    std::vector<std::string> d;
    for (const Accelerator& a : (*h)->accelerators()) d.push_back(a.as_of);
    out += fmt::format("  hardware: {} accelerators, as of {}\n", (*h)->accelerators().size(), range(d));
  } else {
    out += fmt::format("  hardware: {}\n", h.status().message());
  }
  Result<nlohmann::json> eff = ReadJsonFile(session.EfficiencyPath(""));
  out += fmt::format("  efficiency profile: {}\n",
                     eff.ok() && eff->contains("as_of") && (*eff)["as_of"].is_string()
                         ? "as of " + (*eff)["as_of"].get<std::string>()
                         : std::string("undated"));
  for (const char* kind : {"training", "serving"}) {
    Result<nlohmann::json> b = ReadJsonFile(fmt::format("{}/bands/{}.json", session.data_dir(), kind));
    int64_t n = 0;
    if (b.ok() && b->contains("regimes") && (*b)["regimes"].is_object()) {
      for (const auto& item : (*b)["regimes"].items()) {
        if (item.value().is_object() && item.value().contains("n") && item.value()["n"].is_number_integer() &&
            item.key().find('/') == std::string::npos) {
          n += item.value()["n"].get<int64_t>();
        }
      }
    }
    out += fmt::format("  {} error bands: {}\n", kind,
                       b.ok() ? fmt::format("{} published residuals ({})", n,
                                            b->value("source", std::string("source not named")))
                              : std::string("absent"));
  }
  return out;
}

}  // namespace dlcost::api
