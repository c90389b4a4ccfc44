// dlcost models: the model zoo. dlcost model NAME|FILE: parameters, FLOPs and the per-layer
// breakdown of one architecture.
#include <cmath>

#include <fmt/format.h>

#include "cli_common.h"
#include "dlcost/model.h"
#include "dlcost/op_graph.h"
#include "dlcost/units.h"

namespace dlcost::cli {
namespace {

report::Value PublishedDiffPct(const ModelSpec& m, double computed) {
  double pub = m.published.exact > 0 ? static_cast<double>(m.published.exact) : m.published.total_b * 1e9;
  if (pub <= 0) return {};
  return 100.0 * (computed - pub) / pub;
}

int RunModels(const GlobalOptions& g) {
  Result<std::string> dir = DataDir(g);
  if (!dir.ok()) return Fail(dir.status());
  Result<ModelCatalog> zoo = ModelCatalog::Load(*dir);
  if (!zoo.ok()) return Fail(zoo.status());
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
    if (!graph.ok()) return Fail(graph.status().WithContext(m.id));
    double total = graph->TotalParams();
    report::Value layers = m.IsTransformer() ? report::Value(m.layers) : report::Value();
    report::Value hidden = m.IsTransformer() ? report::Value(m.hidden) : report::Value();
    t.rows.push_back({m.id, std::string(ModelKindName(m.kind)), total, graph->ActiveParams(),
                      m.published.total_b > 0 ? report::Value(m.published.total_b) : report::Value(),
                      PublishedDiffPct(m, total), layers, hidden, m.name});
  }
  r.notes.push_back("params: computed from the op graph (docs/model.md); active: used per token (MoE) or per image.");
  r.notes.push_back("diff %: computed vs the published count (exact figure where one is published).");
  return Emit(r, g);
}

struct ModelArgs {
  std::string name;
  std::string seq;
  bool ops = false;
};

int RunModel(const GlobalOptions& g, const ModelArgs& a) {
  Result<std::string> dir = DataDir(g);
  if (!dir.ok()) return Fail(dir.status());
  Result<ModelCatalog> zoo = ModelCatalog::Load(*dir);
  if (!zoo.ok()) return Fail(zoo.status());
  Result<ModelSpec> m = zoo->Resolve(a.name);
  if (!m.ok()) return Fail(m.status());
  int64_t seq = 0;
  if (!a.seq.empty()) {
    Result<int64_t> s = ParsePositiveInt(a.seq, "--seq");
    if (!s.ok()) return Fail(s.status());
    seq = *s;
  }
  Result<perf::OpGraph> graph = perf::BuildOpGraph(*m, seq);
  if (!graph.ok()) return Fail(graph.status());
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
  if (m->mtp_layers > 0) {
    r.notes.push_back(fmt::format("{} multi-token-prediction module(s) are not included (the published total "
                                  "excludes them).", m->mtp_layers));
  }
  if (!m->published.source.empty()) r.notes.push_back("published count: " + m->published.source);
  if (!m->published.note.empty()) r.notes.push_back(m->published.note);
  return Emit(r, g);
}

}  // namespace

void RegisterModels(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* list = app.add_subcommand("models", "List the model zoo with computed and published parameter counts");
  AddOutputOptions(list, g);
  list->callback([&g, exit_code] { *exit_code = RunModels(g); });

  auto* one = app.add_subcommand("model", "Show one model: parameters, FLOPs, per-layer breakdown");
  auto a = std::make_shared<ModelArgs>();
  one->add_option("name", a->name, "Zoo id or alias, a dlcost model JSON, or a Hugging Face config.json")->required();
  one->add_option("--seq", a->seq, "Sequence length for the attention FLOPs (default: max_seq, at most 4096)");
  one->add_flag("--ops", a->ops, "Also list every operation of each layer group");
  AddOutputOptions(one, g);
  one->callback([&g, exit_code, a] { *exit_code = RunModel(g, *a); });
}

}  // namespace dlcost::cli
