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

// The zoo model named by `label` (id or alias, case-insensitive; never a file path).
const ModelSpec* ZooModel(const ModelCatalog& zoo, const std::string& label) {
  std::string q = ToLower(label);
  if (q.empty()) return nullptr;
  for (const ModelSpec& z : zoo.models()) {
    if (ToLower(z.id) == q) return &z;
    for (const std::string& a : z.aliases) {
      if (ToLower(a) == q) return &z;
    }
  }
  return nullptr;
}

// True when the zoo model `z` has every architecture value the row gives (`m` as built from the
// columns; `kv_given`, `act_given`: whether kv_heads and ffn_act were given).
bool AgreesWithRow(const ModelSpec& z, const ModelSpec& m, bool kv_given, bool act_given) {
  if (z.kind != ModelKind::kDecoder || z.layers != m.layers || z.hidden != m.hidden || z.heads != m.heads ||
      (act_given && z.ffn_act != m.ffn_act) || z.moe.has_value() != m.moe.has_value()) {
    return false;
  }
  if (kv_given && !z.mla && z.kv_heads != m.kv_heads) return false;
  if (!m.moe) return z.ffn == m.ffn;
  return z.moe->experts == m.moe->experts && z.moe->top_k == m.moe->top_k && z.moe->expert_ffn == m.ffn;
}

// Takes from the zoo model what the columns cannot say; the row keeps its vocabulary (padded
// as the source padded it), sequence length (the zoo's context when it gives none) and label.
void SupplementFromZoo(const ModelSpec& z, ModelSpec& m) {
  m.ffn_act = z.ffn_act;
  m.head_dim = z.head_dim;
  m.kv_heads = z.kv_heads;
  m.mla = z.mla;
  m.moe = z.moe;
  m.ffn = z.ffn;
  m.tie_embeddings = z.tie_embeddings;
  m.linear_bias = z.linear_bias;
  m.qkv_bias = z.qkv_bias;
  m.norm = z.norm;
  m.norms_per_layer = z.norms_per_layer;
  m.position = z.position;
  m.sliding_window = z.sliding_window;
  m.sliding_window_layers = z.sliding_window_layers;
}

}  // namespace

Result<ModelSpec> ModelFromRow(const CaseRow& row, const ModelCatalog* zoo) {
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
  m.kv_heads = kv ? *kv : m.heads;
  m.head_dim = m.hidden / m.heads;
  m.ffn = *ffn;
  m.vocab = *vocab;
  m.max_seq = seq.value_or(2048);
  std::string act = ToLower(row.Get("ffn_act"));
  if (act != "gelu" && act != "swiglu" && !act.empty()) return InvalidInput(fmt::format("unknown ffn_act '{}'", ForMessage(act)));
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
  const ModelSpec* z = zoo ? ZooModel(*zoo, m.id) : nullptr;
  if (z && AgreesWithRow(*z, m, kv.has_value(), !act.empty())) {
    SupplementFromZoo(*z, m);
    if (!seq && z->max_seq > 0) m.max_seq = z->max_seq;  // no seq_len column: the model's context
  } else if (m.hidden % m.heads != 0) {
    return InvalidInput("heads does not divide hidden");
  }
  return m;
}


Result<ValidationCatalogs> ValidationCatalogs::Load(const std::string& data_dir) {
  ValidationCatalogs c;
  DLCOST_ASSIGN_OR_RETURN(c.hw, HardwareCatalog::Load(data_dir));
  DLCOST_ASSIGN_OR_RETURN(c.zoo, ModelCatalog::Load(data_dir));
  DLCOST_ASSIGN_OR_RETURN(c.engines, LoadEngines(data_dir));
  return c;
}

Result<const ValidationCatalogs*> CatalogsOf(const ValidationOptions& opts, const std::string& data_dir,
                                             std::optional<ValidationCatalogs>* loaded) {
  if (opts.catalogs != nullptr) return opts.catalogs;
  DLCOST_ASSIGN_OR_RETURN(*loaded, ValidationCatalogs::Load(data_dir));
  return &**loaded;
}

Result<EfficiencyProfile> EfficiencyCache::Get(const std::string& gpu_id) {
  auto it = by_gpu_.find(gpu_id);
  if (it != by_gpu_.end()) return it->second;
  DLCOST_ASSIGN_OR_RETURN(EfficiencyProfile eff, LoadEfficiency(path_, gpu_id));
  by_gpu_.emplace(gpu_id, eff);
  return eff;
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
                                      "validation/published/README.md)", csv_path, ForMessage(h)));
    }
  }
  for (const char* col : {"case_id", "metric", "value", "gpu"}) {
    DLCOST_RETURN_IF_ERROR(t.RequireColumn(col).status());
  }
  ValidationReport rep;
  // No published cell comes near this (the longest note is under 2 KB); the note and source
  // parsers' regular expressions recurse per repeated character, so a megabyte cell would
  // exhaust the stack.
  constexpr size_t kMaxCellBytes = 8192;
  for (const CsvRow& r : t.rows()) {
    for (size_t c = 0; c < t.header().size(); ++c) {
      if (t.Field(r, c).size() > kMaxCellBytes) {
        return InvalidInput(fmt::format("{}: line {}: column '{}' is longer than {} bytes", csv_path, r.line,
                                        ForMessage(t.header()[c]), kMaxCellBytes));
      }
    }
    CaseRow row{&t, &r};
    ValidationCase vc;
    vc.line = static_cast<int64_t>(r.line);
    vc.case_id = row.Get("case_id");
    vc.source = NormalizeSource(row.Get("source"));
    vc.metric = row.Get("metric");
    DLCOST_ASSIGN_OR_RETURN(std::optional<double> measured, row.Num("value"));
    if (!measured || *measured <= 0) {
      vc.reason = "value missing or not positive";
    } else {
      vc.measured = *measured;
      if (std::find(metrics.begin(), metrics.end(), vc.metric) == metrics.end()) {
        vc.reason = fmt::format("unsupported metric '{}'", ForMessage(vc.metric));
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
