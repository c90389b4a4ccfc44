// The shipped hardware catalog: it loads, covers every accelerator the validation sets use,
// resolves aliases, explains unknown names, and rejects bad user files naming file and field.
#include <cctype>
#include <cmath>
#include <filesystem>
#include <ostream>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "common/csv.h"
#include "dlcost/hardware.h"
#include "dlcost/units.h"
#include "temp_dir.h"

namespace dlcost {
namespace {

using testing_util::TempDir;

const HardwareCatalog& Catalog() {
  static const HardwareCatalog* hw = [] {
    Result<HardwareCatalog> c = HardwareCatalog::Load(DLCOST_TEST_DATA_DIR);
    if (!c.ok()) {
      ADD_FAILURE() << c.status().message();
      return new HardwareCatalog();
    }
    return new HardwareCatalog(std::move(c).value());
  }();
  return *hw;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A valid accelerator file; tests replace one line to break it.
std::string GoodAcceleratorJson() {
  return R"({
  "id": "test-gpu",
  "name": "Test GPU",
  "peak_dense_tflops": {"fp32": 10, "bf16": 100},
  "memory_gib": 24,
  "memory_bandwidth_gb_s": 900,
  "source": "made up for a test"
})";
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  size_t pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) text.replace(pos, from.size(), to);
  return text;
}

TEST(HardwareCatalog, ShippedCatalogLoads) {
  const HardwareCatalog& hw = Catalog();
  EXPECT_GE(hw.accelerators().size(), 20u);
  EXPECT_GE(hw.networks().size(), 10u);
  std::set<std::string> ids;
  for (const Accelerator& a : hw.accelerators()) {
    EXPECT_TRUE(ids.insert(a.id).second) << "duplicate id " << a.id;
    EXPECT_FALSE(a.name.empty()) << a.id;
    EXPECT_FALSE(a.sources.empty()) << a.id;
    EXPECT_GT(a.memory_gib, 0) << a.id;
    EXPECT_GT(a.memory_bandwidth_gb_s, 0) << a.id;
    EXPECT_GE(a.node_size, 1) << a.id;
    EXPECT_FALSE(a.architecture.empty()) << a.id << ": the error bands group by it";
    if (!a.intra_network.empty()) {
      EXPECT_TRUE(hw.ResolveNetwork(a.intra_network).ok()) << a.id;
    }
    if (!a.inter_network.empty()) {
      EXPECT_TRUE(hw.ResolveNetwork(a.inter_network).ok()) << a.id;
    }
  }
  EXPECT_EQ(hw.Ids().size(), hw.accelerators().size());
}

TEST(HardwareCatalog, EveryValidationGpuResolves) {
  std::filesystem::path dir = std::filesystem::path(DLCOST_TEST_DATA_DIR).parent_path() / "validation" / "published";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  int files = 0;
  std::set<std::string> gpus;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".csv") continue;
    ++files;
    Result<CsvTable> t = CsvTable::ReadFile(entry.path().string());
    ASSERT_TRUE(t.ok()) << t.status().message();
    Result<size_t> col = t->RequireColumn("gpu");
    ASSERT_TRUE(col.ok()) << col.status().message();
    for (const CsvRow& row : t->rows()) {
      std::string gpu = t->Field(row, *col);
      EXPECT_FALSE(gpu.empty()) << entry.path() << " line " << row.line;
      if (!gpu.empty()) gpus.insert(gpu);
    }
  }
  EXPECT_GE(files, 2);
  EXPECT_FALSE(gpus.empty());
  // Devices of published serving rows with no sourced dense peak yet: their rows are skipped
  // with the reason (validation/published/README.md, "GPU ids beyond the schema's list").
  const std::set<std::string> kNotCatalogued = {"arc-pro-b60", "apple-m5", "tesla-p40"};
  for (const std::string& gpu : gpus) {
    if (kNotCatalogued.count(gpu)) {
      EXPECT_FALSE(Catalog().Resolve(gpu).ok()) << gpu << " is catalogued now: drop it from kNotCatalogued";
      continue;
    }
    Result<Accelerator> a = Catalog().Resolve(gpu);
    EXPECT_TRUE(a.ok()) << gpu << ": " << a.status().message();
  }
}

TEST(HardwareCatalog, AliasesResolveCaseInsensitively) {
  for (const char* name : {"h100", "H100", "H100-SXM5", "  h100-sxm-80gb ", "H100-SXM-80GB"}) {
    Result<Accelerator> a = Catalog().Resolve(name);
    ASSERT_TRUE(a.ok()) << name << ": " << a.status().message();
    EXPECT_EQ(a->id, "h100-sxm-80gb") << name;
  }
  // Every alias of every accelerator leads back to it, in any case.
  for (const Accelerator& acc : Catalog().accelerators()) {
    for (const std::string& alias : acc.aliases) {
      std::string upper = alias;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      Result<Accelerator> a = Catalog().Resolve(upper);
      ASSERT_TRUE(a.ok()) << upper << ": " << a.status().message();
      EXPECT_EQ(a->id, acc.id) << upper;
    }
  }
}

TEST(HardwareCatalog, UnknownGpuSuggestsNearNames) {
  Result<Accelerator> a = Catalog().Resolve("h100x");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(a.status().message(), "h100x")) << a.status().message();
  EXPECT_TRUE(Contains(a.status().message(), "did you mean")) << a.status().message();
  EXPECT_TRUE(Contains(a.status().message(), "h100")) << a.status().message();

  Result<Accelerator> empty = Catalog().Resolve("  ");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidInput);
}

TEST(HardwareCatalog, UnknownNetworkIsNotFound) {
  Result<Network> n = Catalog().ResolveNetwork("nvlink9");
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Catalog().ResolveNetwork("NVLINK4").ok());
}

TEST(HardwareCatalog, UserFileResolvesByPath) {
  TempDir tmp;
  std::string path = tmp.Write("my-gpu.json", GoodAcceleratorJson());
  Result<Accelerator> a = Catalog().Resolve(path);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->id, "test-gpu");
  EXPECT_EQ(a->memory_gib, 24);
  EXPECT_EQ(a->kind, "gpu");  // default
  EXPECT_EQ(a->node_size, 1);  // default
  EXPECT_FALSE(a->PeakFlops(Dtype::kFp8).has_value());
}

struct BadFile {
  const char* name;
  const char* from;   // text of the good file to replace
  const char* to;
  const char* field;  // what the message must name ("" when only the file)
};

void PrintTo(const BadFile& b, std::ostream* os) { *os << b.name; }

class BadAcceleratorFile : public ::testing::TestWithParam<BadFile> {};

TEST_P(BadAcceleratorFile, IsInvalidInputNamingFileAndField) {
  const BadFile& b = GetParam();
  TempDir tmp;
  std::string text = Replace(GoodAcceleratorJson(), b.from, b.to);
  std::string path = tmp.Write(std::string(b.name) + ".json", text);
  for (int via_resolve = 0; via_resolve < 2; ++via_resolve) {
    Result<Accelerator> a = via_resolve ? Catalog().Resolve(path) : ParseAcceleratorFile(path);
    ASSERT_FALSE(a.ok()) << b.name;
    EXPECT_EQ(a.status().code(), StatusCode::kInvalidInput) << a.status().message();
    EXPECT_TRUE(Contains(a.status().message(), path)) << a.status().message();
    EXPECT_TRUE(Contains(a.status().message(), b.field)) << a.status().message();
  }
}

INSTANTIATE_TEST_SUITE_P(
    HardwareCatalog, BadAcceleratorFile,
    ::testing::Values(
        BadFile{"missing_bandwidth", "\"memory_bandwidth_gb_s\": 900,", "", "memory_bandwidth_gb_s"},
        BadFile{"missing_id", "\"id\": \"test-gpu\",", "", "'id'"},
        BadFile{"missing_source", ",\n  \"source\": \"made up for a test\"", "", "source"},
        BadFile{"missing_peaks", "\"peak_dense_tflops\": {\"fp32\": 10, \"bf16\": 100},", "",
                "peak_dense_tflops"},
        BadFile{"nan_string_memory", "\"memory_gib\": 24", "\"memory_gib\": \"NaN\"", "memory_gib"},
        BadFile{"inf_string_peak", "\"bf16\": 100", "\"bf16\": \"inf\"", "bf16"},
        BadFile{"negative_memory", "\"memory_gib\": 24", "\"memory_gib\": -24", "memory_gib"},
        BadFile{"zero_bandwidth", "\"memory_bandwidth_gb_s\": 900", "\"memory_bandwidth_gb_s\": 0",
                "memory_bandwidth_gb_s"},
        BadFile{"negative_peak", "\"bf16\": 100", "\"bf16\": -100", "bf16"},
        BadFile{"unknown_dtype", "\"bf16\": 100", "\"bf17\": 100", "bf17"},
        BadFile{"zero_node_size", "\"memory_gib\": 24", "\"memory_gib\": 24, \"node_size\": 0", "node_size"},
        BadFile{"name_not_string", "\"name\": \"Test GPU\"", "\"name\": 7", "name"},
        // JSON has no NaN literal: a file holding one is not JSON at all.
        BadFile{"nan_literal", "\"memory_gib\": 24", "\"memory_gib\": NaN", "invalid JSON"},
        BadFile{"invalid_json", "\"memory_gib\": 24,", "\"memory_gib\": 24,,", "invalid JSON"},
        BadFile{"truncated_json", "\n}", "", "invalid JSON"}),
    [](const ::testing::TestParamInfo<BadFile>& info) { return std::string(info.param.name); });

TEST(HardwareCatalog, MissingUserFileIsNotFound) {
  Result<Accelerator> a = Catalog().Resolve("/no/such/folder/gpu.json");
  ASSERT_FALSE(a.ok());
  // Not a file: treated as an unknown name.
  EXPECT_EQ(a.status().code(), StatusCode::kNotFound);
  Result<Accelerator> direct = ParseAcceleratorFile("/no/such/folder/gpu.json");
  ASSERT_FALSE(direct.ok());
  EXPECT_EQ(direct.status().code(), StatusCode::kInvalidInput);
  EXPECT_TRUE(Contains(direct.status().message(), "/no/such/folder/gpu.json"));
}

TEST(HardwareCatalog, MissingDataDirIsInvalidInput) {
  Result<HardwareCatalog> c = HardwareCatalog::Load("/no/such/data/dir");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidInput);
  EXPECT_TRUE(Contains(c.status().message(), "/no/such/data/dir"));
}

TEST(HardwareCatalog, PeakFlopsConvertsTflopsToFlops) {
  Result<Accelerator> h100 = Catalog().Resolve("h100-sxm-80gb");
  ASSERT_TRUE(h100.ok());
  ASSERT_TRUE(h100->peak_dense_tflops[static_cast<int>(Dtype::kBf16)].has_value());
  EXPECT_DOUBLE_EQ(*h100->peak_dense_tflops[static_cast<int>(Dtype::kBf16)], 989.4);
  EXPECT_DOUBLE_EQ(*h100->PeakFlops(Dtype::kBf16), 989.4e12);
  EXPECT_DOUBLE_EQ(*h100->PeakFlops(Dtype::kFp8), 1978.9e12);
  EXPECT_DOUBLE_EQ(*h100->PeakFlops(Dtype::kFp32), 67e12);
  EXPECT_FALSE(h100->PeakFlops(Dtype::kFp4).has_value());
  EXPECT_DOUBLE_EQ(h100->MemoryBytes(), 80.0 * 1024 * 1024 * 1024);

  Result<Accelerator> a100 = Catalog().Resolve("a100-sxm-40gb");
  ASSERT_TRUE(a100.ok());
  EXPECT_DOUBLE_EQ(*a100->PeakFlops(Dtype::kBf16), 312e12);
  EXPECT_DOUBLE_EQ(*a100->PeakFlops(Dtype::kTf32), 156e12);
  EXPECT_DOUBLE_EQ(a100->MemoryBytes(), 40 * kGiB);

  // Every supported dtype of every device converts by exactly 1e12.
  for (const Accelerator& acc : Catalog().accelerators()) {
    for (int i = 0; i < kNumDtypes; ++i) {
      const auto& t = acc.peak_dense_tflops[i];
      std::optional<double> f = acc.PeakFlops(static_cast<Dtype>(i));
      ASSERT_EQ(t.has_value(), f.has_value()) << acc.id;
      if (t) {
        EXPECT_DOUBLE_EQ(*f, *t * 1e12) << acc.id << " " << DtypeName(static_cast<Dtype>(i));
        EXPECT_TRUE(std::isfinite(*f) && *f > 0) << acc.id;
      }
    }
  }
}

TEST(HardwareCatalog, DtypeNamesParseBack) {
  for (int i = 0; i < kNumDtypes; ++i) {
    Dtype d = static_cast<Dtype>(i);
    Result<Dtype> p = ParseDtype(DtypeName(d), "--dtype");
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(*p, d);
  }
  EXPECT_EQ(*ParseDtype("bfloat16", "--dtype"), Dtype::kBf16);
  EXPECT_EQ(*ParseDtype("FP16", "--dtype"), Dtype::kFp16);
  Result<Dtype> bad = ParseDtype("fp7", "--dtype");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidInput);
  EXPECT_TRUE(Contains(bad.status().message(), "--dtype"));
  EXPECT_DOUBLE_EQ(DtypeBytes(Dtype::kInt4), 0.5);
  EXPECT_DOUBLE_EQ(DtypeBytes(Dtype::kBf16), 2);
}

}  // namespace
}  // namespace dlcost
