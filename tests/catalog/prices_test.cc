// The shipped price table and the SkyPilot-style vms.csv importer, checked against what
// tests/data/vms/README.md says the importer must conclude for each fixture.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "dlcost/hardware.h"
#include "dlcost/prices.h"
#include "temp_dir.h"

namespace dlcost {
namespace {

using testing_util::TempDir;

constexpr double kUsdTolerance = 1e-9;

std::string Fixture(const std::string& name) {
  return std::string(DLCOST_TEST_FIXTURES) + "/vms/" + name;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const PriceTable& Shipped() {
  static const PriceTable* t = [] {
    Result<PriceTable> p = PriceTable::LoadShipped(DLCOST_TEST_DATA_DIR);
    if (!p.ok()) {
      ADD_FAILURE() << p.status().message();
      return new PriceTable();
    }
    return new PriceTable(std::move(p).value());
  }();
  return *t;
}

struct Imported {
  PriceTable table;
  VmsImportReport report;
};

Imported Import(const std::string& fixture, const std::string& provider = "") {
  VmsImportReport rep;
  Result<PriceTable> t = PriceTable::ImportVmsCsv(Fixture(fixture), provider, &rep);
  EXPECT_TRUE(t.ok()) << t.status().message();
  if (!t.ok()) return {};
  return {std::move(t).value(), rep};
}

// The cheapest on-demand offer for a GPU; fails the test when there is none.
Offer Cheapest(const PriceTable& t, const std::string& gpu) {
  std::vector<Offer> o = t.ForGpu(gpu);
  EXPECT_FALSE(o.empty()) << "no offer for " << gpu;
  return o.empty() ? Offer{} : o.front();
}

// The cheapest spot offer ($/GPU-hour) for a GPU.
std::optional<Offer> CheapestSpot(const PriceTable& t, const std::string& gpu) {
  std::optional<Offer> best;
  for (const Offer& o : t.ForGpu(gpu)) {
    if (!o.SpotUsdPerGpuHour()) continue;
    if (!best || *o.SpotUsdPerGpuHour() < *best->SpotUsdPerGpuHour()) best = o;
  }
  return best;
}

const Offer* Find(const std::vector<Offer>& offers, const std::string& instance, const std::string& region) {
  for (const Offer& o : offers) {
    if (o.instance == instance && o.region == region) return &o;
  }
  return nullptr;
}

void ExpectAscending(const std::vector<Offer>& offers) {
  for (size_t i = 1; i < offers.size(); ++i) {
    EXPECT_LE(offers[i - 1].OnDemandUsdPerGpuHour(), offers[i].OnDemandUsdPerGpuHour())
        << offers[i - 1].instance << " before " << offers[i].instance;
  }
}

// ---- shipped table -------------------------------------------------------------------------

TEST(ShippedPrices, LoadsWithSourcesAndKnownGpus) {
  const PriceTable& t = Shipped();
  ASSERT_GE(t.offers().size(), 50u);
  Result<HardwareCatalog> hw = HardwareCatalog::Load(DLCOST_TEST_DATA_DIR);
  ASSERT_TRUE(hw.ok()) << hw.status().message();
  std::vector<std::string> ids = hw->Ids();
  for (const Offer& o : t.offers()) {
    // Rows use the catalog id itself, not an alias.
    EXPECT_NE(std::find(ids.begin(), ids.end(), o.gpu), ids.end()) << o.provider << ":" << o.instance << " gpu " << o.gpu;
    EXPECT_FALSE(o.provider.empty());
    EXPECT_FALSE(o.instance.empty());
    EXPECT_FALSE(o.as_of.empty()) << o.instance;
    EXPECT_FALSE(o.source.empty()) << o.instance;
    EXPECT_GE(o.gpu_count, 1) << o.instance;
    EXPECT_TRUE(std::isfinite(o.on_demand_usd_per_hour) && o.on_demand_usd_per_hour > 0) << o.instance;
    if (o.spot_usd_per_hour) {
      EXPECT_TRUE(*o.spot_usd_per_hour > 0 && *o.spot_usd_per_hour <= o.on_demand_usd_per_hour) << o.instance;
    }
  }
}

TEST(ShippedPrices, ForGpuSortsCheapestFirst) {
  Result<HardwareCatalog> hw = HardwareCatalog::Load(DLCOST_TEST_DATA_DIR);
  ASSERT_TRUE(hw.ok());
  size_t total = 0;
  for (const std::string& id : hw->Ids()) {
    std::vector<Offer> offers = Shipped().ForGpu(id);
    total += offers.size();
    for (const Offer& o : offers) EXPECT_EQ(o.gpu, id);
    ExpectAscending(offers);
  }
  EXPECT_EQ(total, Shipped().offers().size());
  std::vector<Offer> h100 = Shipped().ForGpu("h100-sxm-80gb");
  ASSERT_GE(h100.size(), 5u);
  EXPECT_EQ(h100.front().provider, "runpod");
  EXPECT_NEAR(h100.front().OnDemandUsdPerGpuHour(), 2.69, kUsdTolerance);
  // Aliases are not ids: ForGpu takes catalog ids only.
  EXPECT_TRUE(Shipped().ForGpu("h100").empty());
}

TEST(ShippedPrices, TiesBreakByProviderInstanceRegion) {
  // p5.48xlarge (8 GPUs) and p5.4xlarge (1 GPU) both cost $6.88 per GPU-hour.
  std::vector<Offer> h100 = Shipped().ForGpu("h100-sxm-80gb");
  const Offer* big = Find(h100, "p5.48xlarge", "us-east-1");
  const Offer* small = Find(h100, "p5.4xlarge", "us-east-1");
  ASSERT_NE(big, nullptr);
  ASSERT_NE(small, nullptr);
  EXPECT_NEAR(big->OnDemandUsdPerGpuHour(), small->OnDemandUsdPerGpuHour(), kUsdTolerance);
  EXPECT_LT(big - h100.data(), small - h100.data());  // "p5.48xlarge" < "p5.4xlarge"
}

TEST(ShippedPrices, FindOffer) {
  Result<Offer> p5 = Shipped().FindOffer("aws:p5.48xlarge");
  ASSERT_TRUE(p5.ok()) << p5.status().message();
  EXPECT_EQ(p5->provider, "aws");
  EXPECT_EQ(p5->instance, "p5.48xlarge");
  EXPECT_EQ(p5->gpu, "h100-sxm-80gb");
  EXPECT_EQ(p5->gpu_count, 8);
  EXPECT_NEAR(p5->on_demand_usd_per_hour, 55.04, kUsdTolerance);
  EXPECT_NEAR(p5->OnDemandUsdPerGpuHour(), 6.88, kUsdTolerance);

  Result<Offer> upper = Shipped().FindOffer("AWS:P5.48XLARGE");
  ASSERT_TRUE(upper.ok());
  EXPECT_EQ(upper->instance, "p5.48xlarge");

  Result<Offer> with_region = Shipped().FindOffer("aws:p5.48xlarge:us-east-1");
  ASSERT_TRUE(with_region.ok());
  EXPECT_EQ(with_region->region, "us-east-1");

  Result<Offer> wrong_region = Shipped().FindOffer("aws:p5.48xlarge:mars-1");
  ASSERT_FALSE(wrong_region.ok());
  EXPECT_EQ(wrong_region.status().code(), StatusCode::kNotFound);

  Result<Offer> typo = Shipped().FindOffer("aws:p5.48xlarg");
  ASSERT_FALSE(typo.ok());
  EXPECT_EQ(typo.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(typo.status().message(), "did you mean")) << typo.status().message();
  EXPECT_TRUE(Contains(typo.status().message(), "aws:p5.48xlarge")) << typo.status().message();

  for (const char* bad : {"p5.48xlarge", "aws:", ":p5.48xlarge", "a:b:c:d", ""}) {
    Result<Offer> r = Shipped().FindOffer(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput) << bad;
  }
}

TEST(ShippedPrices, MissingFileIsInvalidInput) {
  Result<PriceTable> t = PriceTable::LoadShipped("/no/such/data");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidInput);
  EXPECT_TRUE(Contains(t.status().message(), "cloud_prices.csv"));
}

// ---- SkyPilot accelerator names ------------------------------------------------------------

TEST(SkypilotNames, MapToCatalogIds) {
  struct Case {
    const char* name;
    const char* instance;
    const char* id;  // nullptr: no dlcost id
  };
  const Case cases[] = {
      {"A100", "p4d.24xlarge", "a100-sxm-40gb"},
      {"A100-80GB", "p4de.24xlarge", "a100-sxm-80gb"},
      {"A100-80GB", "Standard_NC24ads_A100_v4", "a100-pcie-80gb"},
      {"A100-80GB", "Standard_ND96amsr_A100_v4", "a100-sxm-80gb"},
      {"H100", "p5.48xlarge", "h100-sxm-80gb"},
      {"H100-MEGA", "a3-megagpu-8g", "h100-sxm-80gb"},
      {"H200", "", "h200-sxm-141gb"},
      {"B200", "", "b200"},
      {"GH200", "", "gh200"},
      {"L4", "", "l4"},
      {"L40S", "", "l40s"},
      {"A10G", "g5.xlarge", "a10g"},
      {"T4", "", "t4"},
      {"V100", "", "v100-sxm-16gb"},
      {"V100-32GB", "", "v100-sxm-32gb"},
      {"MI300X", "", "mi300x"},
      {"A10", "Standard_NV36ads_A10_v5", nullptr},
      {"tpu-v6e-1", "", nullptr},
      {"P100", "", nullptr},
      {"P4", "", nullptr},
      {"K80", "", nullptr},
  };
  Result<HardwareCatalog> hw = HardwareCatalog::Load(DLCOST_TEST_DATA_DIR);
  ASSERT_TRUE(hw.ok());
  std::vector<std::string> ids = hw->Ids();
  for (const Case& c : cases) {
    std::optional<std::string> id = MapSkypilotAccelerator(c.name, c.instance);
    if (c.id == nullptr) {
      EXPECT_FALSE(id.has_value()) << c.name << " -> " << id.value_or("");
    } else {
      ASSERT_TRUE(id.has_value()) << c.name;
      EXPECT_EQ(*id, c.id) << c.name << " " << c.instance;
      EXPECT_NE(std::find(ids.begin(), ids.end(), *id), ids.end()) << *id;
    }
  }
}

// ---- aws_vms.csv ---------------------------------------------------------------------------

TEST(VmsImport, AwsRowsAndSkips) {
  Imported aws = Import("aws_vms.csv");
  EXPECT_EQ(aws.report.rows, 16);
  EXPECT_EQ(aws.report.offers, 15);  // every row but a1.large
  EXPECT_EQ(aws.report.skipped_unknown_gpu, 0);
  EXPECT_TRUE(aws.report.unknown_accelerators.empty());
  EXPECT_EQ(aws.table.offers().size(), 15u);
  for (const Offer& o : aws.table.offers()) {
    EXPECT_NE(o.instance, "a1.large");
    EXPECT_EQ(o.provider, "aws_vms");  // the file stem when the folder is not a cloud name
  }
}

TEST(VmsImport, AwsEmptySpotMeansNoSpotOffer) {
  Imported aws = Import("aws_vms.csv");
  for (const Offer& o : aws.table.offers()) {
    bool no_spot = o.instance == "g5.48xlarge" || o.instance == "p3dn.24xlarge" ||
                   o.instance == "p4d.24xlarge" || o.instance == "p4de.24xlarge" || o.instance == "p5.48xlarge";
    EXPECT_EQ(o.spot_usd_per_hour.has_value(), !no_spot) << o.instance << " " << o.region;
  }
}

TEST(VmsImport, AwsSameInstanceInTwoRegions) {
  Imported aws = Import("aws_vms.csv");
  std::vector<Offer> a100 = aws.table.ForGpu("a100-sxm-40gb");
  const Offer* east = Find(a100, "p4d.24xlarge", "us-east-1");
  const Offer* west = Find(a100, "p4d.24xlarge", "eu-west-1");
  ASSERT_NE(east, nullptr);
  ASSERT_NE(west, nullptr);
  EXPECT_NEAR(east->on_demand_usd_per_hour, 21.957642, kUsdTolerance);
  EXPECT_NEAR(west->on_demand_usd_per_hour, 23.71569, kUsdTolerance);
  std::vector<Offer> a10g = aws.table.ForGpu("a10g");
  ASSERT_NE(Find(a10g, "g5.xlarge", "us-east-1"), nullptr);
  ASSERT_NE(Find(a10g, "g5.xlarge", "eu-central-1"), nullptr);
  EXPECT_NEAR(Find(a10g, "g5.xlarge", "eu-central-1")->on_demand_usd_per_hour, 1.258, kUsdTolerance);
}

TEST(VmsImport, AwsCheapestOffers) {
  Imported aws = Import("aws_vms.csv");
  const PriceTable& t = aws.table;

  Offer a100 = Cheapest(t, "a100-sxm-40gb");
  EXPECT_EQ(a100.instance, "p4d.24xlarge");
  EXPECT_EQ(a100.region, "us-east-1");
  EXPECT_EQ(a100.gpu_count, 8);
  EXPECT_NEAR(a100.OnDemandUsdPerGpuHour(), 2.74470525, kUsdTolerance);

  Offer a100_80 = Cheapest(t, "a100-sxm-80gb");
  EXPECT_EQ(a100_80.instance, "p4de.24xlarge");
  EXPECT_NEAR(a100_80.OnDemandUsdPerGpuHour(), 3.43088125, kUsdTolerance);

  std::vector<Offer> h100 = t.ForGpu("h100-sxm-80gb");
  ASSERT_EQ(h100.size(), 2u);
  EXPECT_EQ(h100[0].instance, "p5.48xlarge");
  EXPECT_NEAR(h100[0].OnDemandUsdPerGpuHour(), 6.88, kUsdTolerance);
  EXPECT_NEAR(h100[1].OnDemandUsdPerGpuHour(), 6.88, kUsdTolerance);
  // The tie breaks the same way every time (region name).
  EXPECT_EQ(h100[0].region, "us-east-1");
  EXPECT_EQ(h100[1].region, "us-west-2");
  std::vector<Offer> again = Import("aws_vms.csv").table.ForGpu("h100-sxm-80gb");
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].region, h100[0].region);

  Offer t4 = Cheapest(t, "t4");
  EXPECT_EQ(t4.instance, "g4dn.xlarge");
  EXPECT_NEAR(t4.OnDemandUsdPerGpuHour(), 0.526, kUsdTolerance);
  std::vector<Offer> t4_offers = t.ForGpu("t4");
  const Offer* t4x4 = Find(t4_offers, "g4dn.12xlarge", "us-east-1");
  ASSERT_NE(t4x4, nullptr);
  EXPECT_EQ(t4x4->gpu_count, 4);
  EXPECT_NEAR(t4x4->OnDemandUsdPerGpuHour(), 0.978, kUsdTolerance);
  std::optional<Offer> t4_spot = CheapestSpot(t, "t4");
  ASSERT_TRUE(t4_spot.has_value());
  EXPECT_EQ(t4_spot->instance, "g4dn.xlarge");
  EXPECT_EQ(t4_spot->region, "us-west-2");
  EXPECT_NEAR(*t4_spot->SpotUsdPerGpuHour(), 0.1987, kUsdTolerance);

  Offer a10g = Cheapest(t, "a10g");
  EXPECT_EQ(a10g.instance, "g5.xlarge");
  EXPECT_EQ(a10g.region, "us-east-1");
  EXPECT_NEAR(a10g.OnDemandUsdPerGpuHour(), 1.006, kUsdTolerance);

  Offer v100_32 = Cheapest(t, "v100-sxm-32gb");
  EXPECT_EQ(v100_32.instance, "p3dn.24xlarge");
  EXPECT_NEAR(v100_32.OnDemandUsdPerGpuHour(), 3.9015, kUsdTolerance);

  Offer l40s = Cheapest(t, "l40s");
  EXPECT_EQ(l40s.instance, "g6e.xlarge");
  EXPECT_NEAR(l40s.OnDemandUsdPerGpuHour(), 1.861, kUsdTolerance);

  Offer l4 = Cheapest(t, "l4");
  EXPECT_EQ(l4.instance, "g6.2xlarge");
  EXPECT_NEAR(l4.OnDemandUsdPerGpuHour(), 0.9776, kUsdTolerance);

  Offer v100 = Cheapest(t, "v100-sxm-16gb");
  EXPECT_EQ(v100.instance, "p3.2xlarge");
}

TEST(VmsImport, ProviderLabel) {
  Imported labelled = Import("aws_vms.csv", "aws");
  for (const Offer& o : labelled.table.offers()) EXPECT_EQ(o.provider, "aws");
  // A catalog laid out as SkyPilot's catalogs/v7/<cloud>/vms.csv takes the cloud's name.
  TempDir tmp;
  std::filesystem::create_directories(tmp.path() / "gcp");
  std::filesystem::copy_file(Fixture("gcp_vms.csv"), tmp.path() / "gcp" / "vms.csv");
  Result<PriceTable> gcp = PriceTable::ImportVmsCsv((tmp.path() / "gcp" / "vms.csv").string(), "", nullptr);
  ASSERT_TRUE(gcp.ok()) << gcp.status().message();
  ASSERT_FALSE(gcp->offers().empty());
  for (const Offer& o : gcp->offers()) EXPECT_EQ(o.provider, "gcp");
}

// ---- columns_reordered.csv -----------------------------------------------------------------

TEST(VmsImport, ColumnOrderDoesNotMatter) {
  Imported aws = Import("aws_vms.csv", "aws");
  Imported shuffled = Import("columns_reordered.csv", "aws");
  EXPECT_EQ(shuffled.report.rows, aws.report.rows);
  EXPECT_EQ(shuffled.report.offers, aws.report.offers);
  EXPECT_EQ(shuffled.report.skipped_unknown_gpu, aws.report.skipped_unknown_gpu);
  const std::vector<Offer>& a = aws.table.offers();
  const std::vector<Offer>& b = shuffled.table.offers();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(a[i].instance + " " + a[i].region);
    EXPECT_EQ(a[i].provider, b[i].provider);
    EXPECT_EQ(a[i].instance, b[i].instance);
    EXPECT_EQ(a[i].gpu, b[i].gpu);
    EXPECT_EQ(a[i].gpu_count, b[i].gpu_count);
    EXPECT_EQ(a[i].region, b[i].region);
    EXPECT_EQ(a[i].on_demand_usd_per_hour, b[i].on_demand_usd_per_hour);
    EXPECT_EQ(a[i].spot_usd_per_hour, b[i].spot_usd_per_hour);
    EXPECT_EQ(a[i].as_of, b[i].as_of);
  }
}

// ---- gcp_vms.csv ---------------------------------------------------------------------------

TEST(VmsImport, GcpHostPlusAcceleratorSums) {
  Imported gcp = Import("gcp_vms.csv");
  const PriceTable& t = gcp.table;
  EXPECT_EQ(gcp.report.rows, 18);

  std::vector<Offer> a100 = t.ForGpu("a100-sxm-40gb");
  const Offer* one = Find(a100, "a2-highgpu-1g", "us-central1");
  ASSERT_NE(one, nullptr);
  EXPECT_EQ(one->gpu_count, 1);
  EXPECT_NEAR(one->on_demand_usd_per_hour, 0.73948 + 2.933908, kUsdTolerance);
  EXPECT_NEAR(one->OnDemandUsdPerGpuHour(), 3.673388, kUsdTolerance);
  ASSERT_TRUE(one->spot_usd_per_hour.has_value());
  EXPECT_NEAR(*one->spot_usd_per_hour, 1.46936, kUsdTolerance);
  const Offer* eu = Find(a100, "a2-highgpu-1g", "europe-west4");
  ASSERT_NE(eu, nullptr);
  EXPECT_NEAR(eu->OnDemandUsdPerGpuHour(), 3.747968, kUsdTolerance);

  const Offer* eight = Find(a100, "a2-highgpu-8g", "us-central1");
  ASSERT_NE(eight, nullptr);
  EXPECT_EQ(eight->gpu_count, 8);
  EXPECT_NEAR(eight->on_demand_usd_per_hour, 29.387084, kUsdTolerance);
  EXPECT_NEAR(eight->OnDemandUsdPerGpuHour(), 3.6733855, kUsdTolerance);
  Offer cheapest_a100 = Cheapest(t, "a100-sxm-40gb");
  EXPECT_EQ(cheapest_a100.instance, "a2-highgpu-8g");
  EXPECT_EQ(a100.size(), 3u);

  Offer a100_80 = Cheapest(t, "a100-sxm-80gb");
  EXPECT_EQ(a100_80.instance, "a2-ultragpu-1g");
  EXPECT_NEAR(a100_80.OnDemandUsdPerGpuHour(), 5.0277, kUsdTolerance);

  Offer h100 = Cheapest(t, "h100-sxm-80gb");
  EXPECT_EQ(h100.instance, "a3-highgpu-4g");
  EXPECT_EQ(h100.gpu_count, 4);
  EXPECT_NEAR(h100.on_demand_usd_per_hour, 21.53307, kUsdTolerance);
  EXPECT_NEAR(h100.OnDemandUsdPerGpuHour(), 5.3832675, kUsdTolerance);
}

TEST(VmsImport, GcpN1HostsWithT4AndV100) {
  Imported gcp = Import("gcp_vms.csv");
  std::vector<Offer> t4 = gcp.table.ForGpu("t4");
  ASSERT_EQ(t4.size(), 3u);
  // Cheapest t4: n1-standard-8 + 2 x T4 in us-central1.
  EXPECT_EQ(t4[0].gpu_count, 2);
  EXPECT_EQ(t4[0].region, "us-central1");
  EXPECT_NEAR(t4[0].on_demand_usd_per_hour, 1.079998, kUsdTolerance);
  EXPECT_NEAR(t4[0].OnDemandUsdPerGpuHour(), 0.539999, kUsdTolerance);
  EXPECT_TRUE(Contains(t4[0].instance, "n1-standard-8")) << t4[0].instance;
  int singles = 0;
  for (const Offer& o : t4) {
    EXPECT_TRUE(Contains(o.instance, "n1-standard-8")) << o.instance;
    if (o.gpu_count != 1) continue;
    ++singles;
    if (o.region == "us-central1") {
      EXPECT_NEAR(o.on_demand_usd_per_hour, 0.729998, kUsdTolerance);
    } else if (o.region == "us-east4") {
      EXPECT_NEAR(o.on_demand_usd_per_hour, 0.797994, kUsdTolerance);
    } else {
      ADD_FAILURE() << "unexpected t4 region " << o.region;
    }
  }
  EXPECT_EQ(singles, 2);

  std::vector<Offer> v100 = gcp.table.ForGpu("v100-sxm-16gb");
  ASSERT_EQ(v100.size(), 1u);
  EXPECT_NEAR(v100[0].OnDemandUsdPerGpuHour(), 2.859998, kUsdTolerance);
  EXPECT_TRUE(Contains(v100[0].instance, "n1-standard-8"));
}

TEST(VmsImport, GcpUnpairedAndUnknownAccelerators) {
  Imported gcp = Import("gcp_vms.csv");
  // A100 rows never pair with n1 hosts.
  for (const Offer& o : gcp.table.offers()) {
    if (o.gpu.rfind("a100", 0) == 0) {
      EXPECT_EQ(o.instance.rfind("n1-", 0), std::string::npos) << o.instance;
    }
  }
  // The L4 row in asia-east1-a has no g2 host.
  EXPECT_TRUE(gcp.table.ForGpu("l4").empty());
  // tpu-v6e-1 has no dlcost id: skipped and counted.
  EXPECT_EQ(gcp.report.skipped_unknown_gpu, 1);
  EXPECT_EQ(gcp.report.unknown_accelerators, std::vector<std::string>{"tpu-v6e-1"});
  EXPECT_EQ(gcp.report.offers, 9);
  EXPECT_EQ(gcp.table.offers().size(), 9u);
}

// ---- azure_vms.csv -------------------------------------------------------------------------

TEST(VmsImport, AzureOffersAndPcieOverride) {
  Imported az = Import("azure_vms.csv");
  const PriceTable& t = az.table;
  EXPECT_EQ(az.report.rows, 9);
  EXPECT_EQ(az.report.offers, 7);
  EXPECT_EQ(az.report.skipped_unknown_gpu, 1);
  EXPECT_EQ(az.report.unknown_accelerators, std::vector<std::string>{"A10"});

  Offer a100 = Cheapest(t, "a100-sxm-40gb");
  EXPECT_EQ(a100.instance, "Standard_ND96asr_v4");
  EXPECT_NEAR(a100.OnDemandUsdPerGpuHour(), 3.399625, kUsdTolerance);

  std::vector<Offer> pcie = t.ForGpu("a100-pcie-80gb");
  ASSERT_EQ(pcie.size(), 1u);
  EXPECT_EQ(pcie[0].instance, "Standard_NC24ads_A100_v4");
  EXPECT_NEAR(pcie[0].OnDemandUsdPerGpuHour(), 3.673, kUsdTolerance);

  std::vector<Offer> sxm80 = t.ForGpu("a100-sxm-80gb");
  ASSERT_EQ(sxm80.size(), 1u);
  EXPECT_EQ(sxm80[0].instance, "Standard_ND96amsr_A100_v4");
  EXPECT_NEAR(sxm80[0].OnDemandUsdPerGpuHour(), 4.09625, kUsdTolerance);

  EXPECT_NEAR(Cheapest(t, "h100-sxm-80gb").OnDemandUsdPerGpuHour(), 12.29, kUsdTolerance);
  EXPECT_NEAR(Cheapest(t, "mi300x").OnDemandUsdPerGpuHour(), 6.0, kUsdTolerance);

  std::vector<Offer> t4 = t.ForGpu("t4");
  ASSERT_EQ(t4.size(), 2u);
  EXPECT_EQ(t4[0].region, "eastus");
  EXPECT_NEAR(t4[0].OnDemandUsdPerGpuHour(), 0.526, kUsdTolerance);
  EXPECT_EQ(t4[1].region, "westeurope");
  EXPECT_NEAR(t4[1].OnDemandUsdPerGpuHour(), 0.752, kUsdTolerance);

  for (const Offer& o : t.offers()) {
    EXPECT_NE(o.instance, "Standard_D8s_v5");
    EXPECT_NE(o.instance, "Standard_NV36ads_A10_v5");
  }
}

// ---- rejected files ------------------------------------------------------------------------

TEST(VmsImport, MissingPriceColumnRejectsTheFile) {
  VmsImportReport rep;
  Result<PriceTable> t = PriceTable::ImportVmsCsv(Fixture("missing_price_column.csv"), "", &rep);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidInput);
  EXPECT_TRUE(Contains(t.status().message(), "missing_price_column.csv")) << t.status().message();
  EXPECT_TRUE(Contains(t.status().message(), "'Price'")) << t.status().message();
}

TEST(VmsImport, BadPriceNamesLineAndColumn) {
  Result<PriceTable> t = PriceTable::ImportVmsCsv(Fixture("bad_price.csv"), "", nullptr);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidInput);
  const std::string& m = t.status().message();
  EXPECT_TRUE(Contains(m, "bad_price.csv")) << m;
  EXPECT_TRUE(Contains(m, "line 4")) << m;
  EXPECT_TRUE(Contains(m, "Price")) << m;
  EXPECT_TRUE(Contains(m, "abc")) << m;
}

TEST(VmsImport, OtherBadFiles) {
  const std::string header =
      "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone\n";
  struct Case {
    const char* name;
    std::string text;
    const char* expect;  // part of the message
  };
  const Case cases[] = {
      {"negative_price", header + "g5.xlarge,A10G,1,4,16,,-1.0,,us-east-1,a\n", "negative"},
      {"nan_price", header + "g5.xlarge,A10G,1,4,16,,nan,,us-east-1,a\n", "Price"},
      {"empty_price", header + "g5.xlarge,A10G,1,4,16,,,,us-east-1,a\n", "Price"},
      {"bad_spot", header + "g5.xlarge,A10G,1,4,16,,1.0,cheap,us-east-1,a\n", "SpotPrice"},
      {"zero_count", header + "g5.xlarge,A10G,0,4,16,,1.0,,us-east-1,a\n", "AcceleratorCount"},
      {"fractional_count", header + "g5.xlarge,A10G,1.5,4,16,,1.0,,us-east-1,a\n", "AcceleratorCount"},
      {"missing_count", header + "g5.xlarge,A10G,,4,16,,1.0,,us-east-1,a\n", "AcceleratorCount"},
      {"no_instance_no_accel", header + ",,,4,16,,1.0,,us-east-1,a\n", "InstanceType"},
      {"missing_region_column", "InstanceType,AcceleratorName,AcceleratorCount,Price\ng5.xlarge,A10G,1,1.0\n",
       "'Region'"},
      {"empty_file", "", "header"},
  };
  TempDir tmp;
  for (const Case& c : cases) {
    std::string path = tmp.Write(std::string(c.name) + ".csv", c.text);
    Result<PriceTable> t = PriceTable::ImportVmsCsv(path, "", nullptr);
    ASSERT_FALSE(t.ok()) << c.name;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidInput) << c.name;
    EXPECT_TRUE(Contains(t.status().message(), path)) << c.name << ": " << t.status().message();
    EXPECT_TRUE(Contains(t.status().message(), c.expect)) << c.name << ": " << t.status().message();
  }
  Result<PriceTable> missing = PriceTable::ImportVmsCsv(tmp.path().string() + "/nope.csv", "", nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidInput);
}

TEST(VmsImport, CountWrittenAsFloatIsAccepted) {
  TempDir tmp;
  std::string path = tmp.Write(
      "vms.csv",
      "InstanceType,AcceleratorName,AcceleratorCount,Price,SpotPrice,Region,AvailabilityZone\n"
      "p4d.24xlarge,A100,8.0,21.957642,,us-east-1,use1-az2\n");
  VmsImportReport rep;
  Result<PriceTable> t = PriceTable::ImportVmsCsv(path, "aws", &rep);
  ASSERT_TRUE(t.ok()) << t.status().message();
  ASSERT_EQ(t->offers().size(), 1u);
  EXPECT_EQ(t->offers()[0].gpu_count, 8);
  EXPECT_FALSE(t->offers()[0].spot_usd_per_hour.has_value());
}

TEST(VmsImport, ZoneRepeatsKeepTheCheapestPerRegion) {
  // SkyPilot repeats a row once per availability zone; an offer is per region.
  TempDir tmp;
  std::string path = tmp.Write(
      "vms.csv",
      "InstanceType,AcceleratorName,AcceleratorCount,Price,SpotPrice,Region,AvailabilityZone\n"
      "p5.48xlarge,H100,8,55.04,20.0,us-east-1,use1-az1\n"
      "p5.48xlarge,H100,8,55.04,18.0,us-east-1,use1-az2\n"
      "p5.48xlarge,H100,8,56.00,,us-east-1,use1-az3\n"
      "p5.48xlarge,H100,8,60.00,,us-west-2,usw2-az1\n");
  VmsImportReport rep;
  Result<PriceTable> t = PriceTable::ImportVmsCsv(path, "aws", &rep);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(rep.rows, 4);
  EXPECT_EQ(rep.offers, 2);
  std::vector<Offer> h100 = t->ForGpu("h100-sxm-80gb");
  ASSERT_EQ(h100.size(), 2u);
  EXPECT_EQ(h100[0].region, "us-east-1");
  EXPECT_NEAR(h100[0].on_demand_usd_per_hour, 55.04, kUsdTolerance);
  ASSERT_TRUE(h100[0].spot_usd_per_hour.has_value());
  EXPECT_NEAR(*h100[0].spot_usd_per_hour, 18.0, kUsdTolerance);
  EXPECT_EQ(h100[1].region, "us-west-2");
}

TEST(VmsImport, GcpZonesPairSeparately) {
  // Host and accelerator rows pair only within one zone; two zones of a region give one offer.
  TempDir tmp;
  std::string path = tmp.Write(
      "vms.csv",
      "InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice\n"
      "a2-highgpu-1g,12,85,,,,us-central1,us-central1-a,0.7,0.3\n"
      "a2-highgpu-1g,12,85,,,,us-central1,us-central1-b,0.7,0.3\n"
      ",,,A100,1,,us-central1,us-central1-a,3.0,1.0\n"
      ",,,A100,1,,us-central1,us-central1-b,2.0,1.0\n"
      ",,,A100,1,,us-central1,us-central1-c,1.0,1.0\n");
  Result<PriceTable> t = PriceTable::ImportVmsCsv(path, "gcp", nullptr);
  ASSERT_TRUE(t.ok()) << t.status().message();
  std::vector<Offer> a100 = t->ForGpu("a100-sxm-40gb");
  ASSERT_EQ(a100.size(), 1u);
  // Zone c has no host; the cheapest pairing is zone b.
  EXPECT_NEAR(a100[0].on_demand_usd_per_hour, 2.7, kUsdTolerance);
}

}  // namespace
}  // namespace dlcost
