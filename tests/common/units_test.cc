#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "dlcost/strings.h"
#include "dlcost/units.h"

namespace dlcost {
namespace {

TEST(ParseCount, Suffixes) {
  EXPECT_EQ(*ParseCount("1T", "--tokens"), 1e12);
  EXPECT_EQ(*ParseCount("500B", "--tokens"), 5e11);
  EXPECT_EQ(*ParseCount("8k", "--seq"), 8000);
  EXPECT_EQ(*ParseCount("8Ki", "--seq"), 8192);
  EXPECT_EQ(*ParseCount("1.5M", "--x"), 1.5e6);
  EXPECT_EQ(*ParseCount(" 42 ", "--x"), 42);
  EXPECT_EQ(*ParseCount("2e3", "--x"), 2000);
}

TEST(ParseCount, RejectsBadInputNamingTheField) {
  for (const char* bad : {"", "abc", "nan", "NaN", "inf", "-5", "1X", "1e400", "2e18", "0x10"}) {
    Result<double> r = ParseCount(bad, "--tokens");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
    EXPECT_NE(r.status().message().find("--tokens"), std::string::npos) << r.status().message();
  }
}

TEST(ParsePositiveInt, WholeNumbersOnly) {
  EXPECT_EQ(*ParsePositiveInt("4k", "--seq"), 4000);
  EXPECT_FALSE(ParsePositiveInt("0", "--gpus").ok());
  EXPECT_FALSE(ParsePositiveInt("1.5", "--gpus").ok());
}

TEST(ParseDuration, Units) {
  EXPECT_EQ(*ParseDurationSeconds("30d", "--deadline"), 30 * 86400.0);
  EXPECT_EQ(*ParseDurationSeconds("12h", "--deadline"), 43200.0);
  EXPECT_EQ(*ParseDurationSeconds("90", "--deadline"), 90.0);
  EXPECT_FALSE(ParseDurationSeconds("0d", "--deadline").ok());
  EXPECT_FALSE(ParseDurationSeconds("-3h", "--deadline").ok());
  // --deadline's number takes count suffixes; its unit is one lower-case letter.
  EXPECT_EQ(*ParseDurationSeconds("1k", "--deadline"), 1000.0);
  EXPECT_EQ(*ParseDurationSeconds("1M", "--deadline"), 1e6);
  EXPECT_EQ(ParseDurationSeconds("1H", "--deadline").status().message(),
            "--deadline: unknown suffix 'H' in '1H' (use k, M, B, T, P (or m, b, t, p) or Ki, Mi, Gi, Ti)");
  EXPECT_EQ(ParseDurationSeconds("0d", "--deadline").status().message(), "--deadline: duration '0d' must be positive");
  EXPECT_EQ(ParseDurationSeconds("", "--deadline").status().code(), StatusCode::kInvalidInput);
}

TEST(ParseDuration, WindowSyntax) {
  auto window = [](std::string_view text) { return ParseDurationSeconds(text, "--window", DurationSyntax::kWindow); };
  EXPECT_EQ(*window("1d"), 86400.0);
  EXPECT_EQ(*window("12h"), 43200.0);
  EXPECT_EQ(*window("90"), 90.0);
  EXPECT_EQ(*window("30 min"), 1800.0);
  EXPECT_EQ(*window("1M"), 60.0);  // units in any case: minutes, not a count suffix
  EXPECT_EQ(*window("2W"), 2 * 7 * 86400.0);
  EXPECT_EQ(window("1x").status().code(), StatusCode::kUsage);
  EXPECT_EQ(window("1x").status().message(), "--window: unknown unit 'x' in '1x' (s, m, h, d, w)");
  EXPECT_EQ(window("0s").status().message(), "--window: '0s' must be at least 1 second");
  EXPECT_EQ(window("0.5").status().message(), "--window: '0.5' must be at least 1 second");
  EXPECT_EQ(window("+5").status().message(), "--window: '+5' is not a duration (for example 1d, 12h, 30m, 3600)");
  EXPECT_FALSE(window("1k").ok());
}

TEST(CheckPositive, NanAndNegatives) {
  EXPECT_TRUE(CheckPositive(1.0, "x").ok());
  EXPECT_FALSE(CheckPositive(std::nan(""), "x").ok());
  EXPECT_FALSE(CheckPositive(-1, "x").ok());
  EXPECT_FALSE(CheckPositive(0, "x").ok());
  EXPECT_TRUE(CheckPositive(0, "x", true).ok());
}

TEST(HumanCount, Scales) {
  EXPECT_EQ(HumanCount(6.74e9), "6.74B");
  EXPECT_EQ(HumanCount(1.0e12), "1T");
  EXPECT_EQ(HumanCount(124439808), "124M");
}

TEST(NearestNames, SuggestsCloseOnes) {
  std::vector<std::string> known = {"h100-sxm-80gb", "h100-pcie-80gb", "a100-sxm-80gb", "t4"};
  auto near = NearestNames("h100", known);
  ASSERT_EQ(near.size(), 2u);
  EXPECT_EQ(near[0], "h100-sxm-80gb");
  EXPECT_TRUE(NearestNames("zzzzzzzz", known).empty());
}

// A huge unknown name (found by fuzz_validate: a 60 KB gpu cell took over 10 s) gets no
// suggestion and is quoted shortened in the message.
TEST(NearestNames, HugeQueryGetsNoSuggestionAndAShortMessage) {
  std::vector<std::string> known = {"h100-sxm-80gb", "a100-sxm-80gb"};
  std::string huge(100000, 'h');
  EXPECT_TRUE(NearestNames(huge, known).empty());
  std::string msg = UnknownNameMessage("GPU", huge, known);
  EXPECT_LT(msg.size(), 120u);
  EXPECT_EQ(msg.find('\n'), std::string::npos);
  EXPECT_EQ(UnknownNameMessage("GPU", "h100-sxm-80gbx", known), "unknown GPU 'h100-sxm-80gbx' (did you mean h100-sxm-80gb, a100-sxm-80gb?)");
}

}  // namespace
}  // namespace dlcost

TEST(StatusTest, FieldSurvivesContextAndIsEmptyByDefault) {
  dlcost::Status plain = dlcost::InvalidInput("--tp: must be positive");
  EXPECT_EQ(plain.field(), "");
  dlcost::Status s = dlcost::InvalidInput("--activations: fp8 is not supported on a100").WithField("--activations");
  EXPECT_EQ(s.field(), "--activations");
  dlcost::Status c = s.WithContext("case 7");
  EXPECT_EQ(c.field(), "--activations");
  EXPECT_EQ(c.message(), "case 7: --activations: fp8 is not supported on a100");
  EXPECT_EQ(c.code(), dlcost::StatusCode::kInvalidInput);
  EXPECT_EQ(dlcost::Status::Ok().WithField("x").field(), "");
}
