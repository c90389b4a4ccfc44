// Grid carbon intensity and PUE lookups over the shipped Green Algorithms and CodeCarbon data.
#include <algorithm>
#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "dlcost/carbon.h"

namespace dlcost {
namespace {

const CarbonData& Carbon() {
  static const CarbonData* c = [] {
    Result<CarbonData> d = CarbonData::Load(DLCOST_TEST_DATA_DIR);
    if (!d.ok()) {
      ADD_FAILURE() << d.status().message();
      return new CarbonData();
    }
    return new CarbonData(std::move(d).value());
  }();
  return *c;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Carbon, Loads) {
  std::vector<std::string> codes = Carbon().LocationCodes();
  EXPECT_GE(codes.size(), 100u);
  EXPECT_NE(std::find(codes.begin(), codes.end(), "WORLD"), codes.end());
  EXPECT_NE(std::find(codes.begin(), codes.end(), "gcp:us-central1"), codes.end());
}

TEST(Carbon, MissingDataDirIsInvalidInput) {
  Result<CarbonData> c = CarbonData::Load("/no/such/data");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidInput);
  EXPECT_TRUE(Contains(c.status().message(), "/no/such/data"));
}

TEST(Carbon, CountryCode) {
  Result<GridInfo> fr = Carbon().Lookup("FR");
  ASSERT_TRUE(fr.ok()) << fr.status().message();
  EXPECT_EQ(fr->region, "FR");
  EXPECT_EQ(fr->location, "FR");
  EXPECT_TRUE(Contains(fr->location_name, "France")) << fr->location_name;
  EXPECT_DOUBLE_EQ(fr->carbon_g_per_kwh, 51.28);
  EXPECT_FALSE(fr->pue.has_value());
  EXPECT_FALSE(fr->source.empty());
  // Case does not matter.
  Result<GridInfo> lower = Carbon().Lookup("fr");
  ASSERT_TRUE(lower.ok());
  EXPECT_DOUBLE_EQ(lower->carbon_g_per_kwh, 51.28);
}

TEST(Carbon, SubnationalRegion) {
  Result<GridInfo> ca = Carbon().Lookup("US-CA");
  ASSERT_TRUE(ca.ok()) << ca.status().message();
  EXPECT_EQ(ca->location, "US-CA");
  EXPECT_TRUE(Contains(ca->location_name, "California")) << ca->location_name;
  EXPECT_DOUBLE_EQ(ca->carbon_g_per_kwh, 216.43);
  EXPECT_FALSE(ca->pue.has_value());
}

TEST(Carbon, World) {
  Result<GridInfo> w = Carbon().Lookup("WORLD");
  ASSERT_TRUE(w.ok());
  EXPECT_DOUBLE_EQ(w->carbon_g_per_kwh, 475);
}

TEST(Carbon, CloudRegionWithPue) {
  Result<GridInfo> g = Carbon().Lookup("gcp:us-central1");
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g->region, "gcp:us-central1");
  EXPECT_EQ(g->location, "US-IA");
  EXPECT_TRUE(Contains(g->location_name, "Iowa")) << g->location_name;
  EXPECT_DOUBLE_EQ(g->carbon_g_per_kwh, 293.85);
  ASSERT_TRUE(g->pue.has_value());
  EXPECT_DOUBLE_EQ(*g->pue, 1.11);
  EXPECT_TRUE(Contains(g->source, "us-central1")) << g->source;

  // A bare region name finds the same data centre; the provider prefix is case-insensitive.
  for (const char* name : {"us-central1", "GCP:us-central1"}) {
    Result<GridInfo> bare = Carbon().Lookup(name);
    ASSERT_TRUE(bare.ok()) << name << ": " << bare.status().message();
    EXPECT_EQ(bare->location, "US-IA") << name;
    ASSERT_TRUE(bare->pue.has_value()) << name;
    EXPECT_DOUBLE_EQ(*bare->pue, 1.11) << name;
  }
}

TEST(Carbon, CloudRegionWithoutPue) {
  // us-west2 has no PUE in the source: the lookup says so rather than inventing one.
  Result<GridInfo> g = Carbon().Lookup("gcp:us-west2");
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g->location, "US-CA");
  EXPECT_DOUBLE_EQ(g->carbon_g_per_kwh, 216.43);
  EXPECT_FALSE(g->pue.has_value());
}

TEST(Carbon, Iso3CountryCode) {
  Result<GridInfo> fra = Carbon().Lookup("FRA");
  ASSERT_TRUE(fra.ok()) << fra.status().message();
  EXPECT_EQ(fra->location, "FRA");
  EXPECT_EQ(fra->location_name, "France");
  EXPECT_DOUBLE_EQ(fra->carbon_g_per_kwh, 56.039);
  EXPECT_FALSE(fra->pue.has_value());
  EXPECT_TRUE(Contains(fra->source, "CodeCarbon")) << fra->source;

  Result<GridInfo> deu = Carbon().Lookup("deu");
  ASSERT_TRUE(deu.ok()) << deu.status().message();
  EXPECT_DOUBLE_EQ(deu->carbon_g_per_kwh, 380.95);
}

TEST(Carbon, UnknownRegionSuggestsNearOnes) {
  Result<GridInfo> g = Carbon().Lookup("gcp:us-centrl1");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(g.status().message(), "gcp:us-centrl1")) << g.status().message();
  EXPECT_TRUE(Contains(g.status().message(), "did you mean")) << g.status().message();
  EXPECT_TRUE(Contains(g.status().message(), "gcp:us-central1")) << g.status().message();

  Result<GridInfo> none = Carbon().Lookup("atlantis-9");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);

  // A provider prefix restricts the search to that provider's data centres.
  Result<GridInfo> wrong_provider = Carbon().Lookup("azure:us-central1");
  ASSERT_FALSE(wrong_provider.ok());
  EXPECT_EQ(wrong_provider.status().code(), StatusCode::kNotFound);
}

TEST(Carbon, DefaultPue) {
  auto [aws, aws_source] = Carbon().DefaultPue("aws");
  EXPECT_DOUBLE_EQ(aws, 1.2);
  EXPECT_FALSE(aws_source.empty());
  EXPECT_DOUBLE_EQ(Carbon().DefaultPue("AWS").first, 1.2);
  EXPECT_DOUBLE_EQ(Carbon().DefaultPue("gcp").first, 1.12);
  EXPECT_DOUBLE_EQ(Carbon().DefaultPue("azure").first, 1.12);

  auto [other, other_source] = Carbon().DefaultPue("my-basement");
  EXPECT_DOUBLE_EQ(other, 1.56);
  EXPECT_TRUE(Contains(other_source, "uptimeinstitute")) << other_source;
  EXPECT_DOUBLE_EQ(Carbon().DefaultPue("").first, 1.56);
}

}  // namespace
}  // namespace dlcost
