#include <gtest/gtest.h>

#include "common/csv.h"

namespace dlcost {
namespace {

TEST(Csv, QuotesCommasAndNewlines) {
  Result<CsvTable> t = CsvTable::Parse("a,b,c\n1,\"x, y\",\"he said \"\"hi\"\"\"\n2,\"multi\nline\",3\n", "t.csv");
  ASSERT_TRUE(t.ok()) << t.status().message();
  ASSERT_EQ(t->rows().size(), 2u);
  EXPECT_EQ(t->rows()[0].fields[1], "x, y");
  EXPECT_EQ(t->rows()[0].fields[2], "he said \"hi\"");
  EXPECT_EQ(t->rows()[1].fields[1], "multi\nline");
  EXPECT_EQ(t->rows()[1].line, 3);
}

TEST(Csv, ColumnsByNameCaseInsensitive) {
  Result<CsvTable> t = CsvTable::Parse("Price,Region\r\n1.5,us\r\n", "t.csv");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t->Column("price"), 0u);
  EXPECT_FALSE(t->Column("SpotPrice").has_value());
  Result<size_t> missing = t->RequireColumn("SpotPrice");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("t.csv: missing column 'SpotPrice'"), std::string::npos);
}

TEST(Csv, NumbersRejectJunkWithLineAndColumn) {
  Result<CsvTable> t = CsvTable::Parse("x,y\n1,2\nnan,abc\n", "f.csv");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(**t->Number(t->rows()[0], 0), 1.0);
  Result<std::optional<double>> bad = t->Number(t->rows()[1], 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("f.csv: line 3: column 'x'"), std::string::npos) << bad.status().message();
}

TEST(Csv, UnterminatedQuoteAndTooManyFields) {
  EXPECT_FALSE(CsvTable::Parse("a,b\n\"open,1\n", "t.csv").ok());
  Result<CsvTable> t = CsvTable::Parse("a,b\n1,2,3\n", "t.csv");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("line 2"), std::string::npos);
}

}  // namespace
}  // namespace dlcost
