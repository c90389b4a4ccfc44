#include "validate/case_row.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "dlcost/strings.h"
#include "dlcost/op_graph.h"
#include "dlcost/units.h"

namespace dlcost {

std::string CaseRow::Get(const char* col) const {
  auto c = t->Column(col);
  return c ? std::string(TrimView(t->Field(*r, *c))) : std::string();
}

Result<std::optional<int64_t>> CaseRow::Int(const char* col) const {
  std::string v = Get(col);
  if (v.empty()) return std::optional<int64_t>();
  Result<int64_t> x = ParsePositiveInt(v, col);
  if (!x.ok()) return InvalidInput(fmt::format("line {}: {}", r->line, x.status().message()));
  return std::optional<int64_t>(*x);
}

Result<std::optional<double>> CaseRow::Num(const char* col) const {
  auto c = t->Column(col);
  if (!c) return std::optional<double>();
  return t->Number(*r, *c);
}

namespace {

// GPT-style (gelu): two-matrix MLP, learned positions, LayerNorm, biases, tied embeddings
// (GPT-2/3, Megatron GPT). Llama-style (swiglu): gated MLP, RoPE, RMSNorm.
void SetFfnStyle(bool gelu, ModelSpec* m) {
  m->ffn_act = gelu ? FfnAct::kGelu : FfnAct::kSwiglu;
  m->position = gelu ? PositionKind::kLearned : PositionKind::kRope;
  m->norm = gelu ? NormKind::kLayerNorm : NormKind::kRmsNorm;
  m->linear_bias = gelu;
  m->tie_embeddings = gelu;
}

}  // namespace

Result<ModelSpec> ModelFromRow(const CaseRow& row) {
  ModelSpec m;
  m.id = row.Get("model");
  m.name = m.id;
  m.kind = ModelKind::kDecoder;
  DLCOST_ASSIGN_OR_RETURN(auto layers, row.Int("layers"));
  DLCOST_ASSIGN_OR_RETURN(auto hidden, row.Int("hidden"));
  DLCOST_ASSIGN_OR_RETURN(auto heads, row.Int("heads"));
  DLCOST_ASSIGN_OR_RETURN(auto kv, row.Int("kv_heads"));
  DLCOST_ASSIGN_OR_RETURN(auto ffn, row.Int("ffn"));
  DLCOST_ASSIGN_OR_RETURN(auto vocab, row.Int("vocab"));
  DLCOST_ASSIGN_OR_RETURN(auto seq, row.Int("seq_len"));
  if (!layers || !hidden || !ffn || !vocab) return InvalidInput("missing architecture field (layers, hidden, ffn or vocab)");
  m.layers = *layers;
  m.hidden = *hidden;
  // Unknown head count: 128-wide heads, the common choice of the GPT-3/Megatron configurations.
  m.heads = heads ? *heads : std::max<int64_t>(1, m.hidden / 128);
  if (m.hidden % m.heads != 0) return InvalidInput("heads does not divide hidden");
  m.kv_heads = kv ? *kv : m.heads;
  m.head_dim = m.hidden / m.heads;
  m.ffn = *ffn;
  m.vocab = *vocab;
  m.max_seq = seq.value_or(2048);
  std::string act = ToLower(row.Get("ffn_act"));
  if (act != "gelu" && act != "swiglu" && !act.empty()) return InvalidInput(fmt::format("unknown ffn_act '{}'", act));
  SetFfnStyle(act == "gelu", &m);
  if (ToLower(row.Get("arch")) == "moe" || !row.Get("experts").empty()) {
    DLCOST_ASSIGN_OR_RETURN(auto experts, row.Int("experts"));
    DLCOST_ASSIGN_OR_RETURN(auto top_k, row.Int("top_k"));
    if (!experts || !top_k) return InvalidInput("moe row without experts or top_k");
    MoeSpec moe;
    moe.experts = *experts;
    moe.top_k = *top_k;
    moe.expert_ffn = m.ffn;
    moe.shared_expert_ffn = m.ffn;
    m.moe = moe;
  }
  if (act.empty()) {
    // No ffn_act column (the inference schema): the FFN type whose parameter count is closer to
    // the row's params_b (authoritative) wins; without params_b, a gated (SwiGLU) MLP.
    DLCOST_ASSIGN_OR_RETURN(std::optional<double> params_b, row.Num("params_b"));
    if (params_b && *params_b > 0) {
      ModelSpec gelu = m;
      SetFfnStyle(true, &gelu);
      Result<perf::OpGraph> gs = perf::BuildOpGraph(m, 0), gg = perf::BuildOpGraph(gelu, 0);
      if (gs.ok() && gg.ok() &&
          std::fabs(gg->TotalParams() - *params_b * 1e9) < std::fabs(gs->TotalParams() - *params_b * 1e9)) {
        m = gelu;
      }
    }
  }
  return m;
}


Status Skip(ValidationCase& vc, std::string why) {
  vc.reason = std::move(why);
  vc.predicted.reset();
  return Status::Ok();
}

Result<ValidationReport> RunCases(const std::string& csv_path, const std::vector<std::string>& columns,
                                  const std::vector<std::string>& metrics,
                                  const std::function<Status(const CaseRow& row, ValidationCase& vc)>& predict) {
  DLCOST_ASSIGN_OR_RETURN(CsvTable t, CsvTable::ReadFile(csv_path));
  for (const std::string& h : t.header()) {
    std::string col = ToLower(std::string(TrimView(h)));
    if (std::find(columns.begin(), columns.end(), col) == columns.end()) {
      return InvalidInput(fmt::format("{}: line 1: unknown column '{}' (the columns are those of "
                                      "validation/published/README.md)", csv_path, h));
    }
  }
  for (const char* col : {"case_id", "metric", "value", "gpu"}) {
    DLCOST_RETURN_IF_ERROR(t.RequireColumn(col).status());
  }
  ValidationReport rep;
  for (const CsvRow& r : t.rows()) {
    CaseRow row{&t, &r};
    ValidationCase vc;
    vc.case_id = row.Get("case_id");
    vc.source = NormalizeSource(row.Get("source"));
    vc.metric = row.Get("metric");
    DLCOST_ASSIGN_OR_RETURN(std::optional<double> measured, row.Num("value"));
    if (!measured || *measured <= 0) {
      vc.reason = "value missing or not positive";
    } else {
      vc.measured = *measured;
      if (std::find(metrics.begin(), metrics.end(), vc.metric) == metrics.end()) {
        vc.reason = fmt::format("unsupported metric '{}'", vc.metric);
      } else {
        DLCOST_RETURN_IF_ERROR(predict(row, vc));
      }
    }
    if (vc.reason.empty() && vc.predicted) {
      vc.rel_error = (*vc.predicted - vc.measured) / vc.measured;
      vc.status = "ok";
    } else {
      vc.predicted.reset();
      vc.status = "skipped";
      if (vc.reason.empty()) vc.reason = "not predicted";
      ++rep.skipped;
    }
    rep.cases.push_back(vc);
  }
  SummarizeValidation(&rep);
  return rep;
}

}  // namespace dlcost
