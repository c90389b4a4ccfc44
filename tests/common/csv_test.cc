#include <gtest/gtest.h>

#include <charconv>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/csv.h"
#include "dlcost/strings.h"

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

TEST(Csv, TableErrorsNameTheLine) {
  Result<CsvTable> open = CsvTable::Parse("a,b\n1,2\n\n3,\"never\nclosed\n", "t.csv");
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.status().message(), "t.csv: line 4: unterminated quoted field");
  Result<CsvTable> wide = CsvTable::Parse("a,b\r\n\"x\r\ny\",2\r\n1,2,3\r\n", "w.csv");
  ASSERT_FALSE(wide.ok());
  EXPECT_EQ(wide.status().message(), "w.csv: line 4: 3 fields but the header has 2");
  EXPECT_EQ(CsvTable::Parse("\n\n", "e.csv").status().message(), "e.csv: no header row");
}

TEST(Csv, TableSkipsBlankRowsAndByteOrderMark) {
  Result<CsvTable> t = CsvTable::Parse("\xEF\xBB\xBFid,v\r\n\r\n\"\"\r\na,1\r\n\nb,2", "t.csv");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->header()[0], "id");
  ASSERT_EQ(t->rows().size(), 2u);
  EXPECT_EQ(t->rows()[0].line, 4);
  EXPECT_EQ(t->rows()[1].fields[1], "2");
  EXPECT_EQ(t->rows()[1].line, 6);
}

std::vector<std::vector<std::string>> Fields(std::string_view text, bool skip_blank = true) {
  std::vector<std::vector<std::string>> out;
  CsvReader reader(text, skip_blank);
  CsvRecordView rec;
  while (reader.Next(&rec)) out.emplace_back(rec.fields.begin(), rec.fields.end());
  return out;
}

TEST(CsvReader, LineEndsLfCrlfAndLoneCr) {
  using Rows = std::vector<std::vector<std::string>>;
  EXPECT_EQ(Fields("a,b\nc,d\n"), (Rows{{"a", "b"}, {"c", "d"}}));
  EXPECT_EQ(Fields("a,b\r\nc,d\r\n"), (Rows{{"a", "b"}, {"c", "d"}}));
  EXPECT_EQ(Fields("a,b\rc,d"), (Rows{{"a", "b"}, {"c", "d"}}));
  EXPECT_EQ(Fields("a,\n,b\n,\n"), (Rows{{"a", ""}, {"", "b"}, {"", ""}}));
  EXPECT_EQ(Fields("a\n\n\r\nb\n", false), (Rows{{"a"}, {""}, {""}, {"b"}}));
}

TEST(CsvReader, QuotedFields) {
  using Rows = std::vector<std::vector<std::string>>;
  // Escaped quotes, separators and line ends inside quotes, text after a closing quote kept as
  // written, a quote inside an unquoted field is text.
  EXPECT_EQ(Fields("\"a\"\"b\",\"c,d\",\"e\r\nf\"\n"), (Rows{{"a\"b", "c,d", "e\r\nf"}}));
  EXPECT_EQ(Fields("\"ab\"cd,x\"y\"\n"), (Rows{{"abcd", "x\"y\""}}));
  EXPECT_EQ(Fields("\"\",\"\"\"\"\n"), (Rows{{"", "\""}}));
  // Two quoted fields in one record both stay readable.
  EXPECT_EQ(Fields("\"first\",\"second\",third"), (Rows{{"first", "second", "third"}}));
}

TEST(CsvReader, LineNumbersRawAndByteOrderMark) {
  CsvReader reader("\xEF\xBB\xBFh1,h2\r\n\"two\nlines\",x\r\n\r\nlast,\"open\n");
  CsvRecordView rec;
  ASSERT_TRUE(reader.Next(&rec));
  EXPECT_EQ(rec.line, 1);
  EXPECT_EQ(rec.fields[0], "h1");
  EXPECT_EQ(rec.raw, "h1,h2");
  ASSERT_TRUE(reader.Next(&rec));
  EXPECT_EQ(rec.line, 2);
  EXPECT_EQ(rec.raw, "\"two\nlines\",x");
  EXPECT_FALSE(rec.open_quote);
  ASSERT_TRUE(reader.Next(&rec));
  EXPECT_EQ(rec.line, 5);
  EXPECT_TRUE(rec.open_quote);
  EXPECT_EQ(rec.fields[1], "open\n");
  EXPECT_FALSE(reader.Next(&rec));
}

TEST(CsvCursor, NumbersInPlace) {
  std::string text = "1.5,x,\"2\",3e2\n";
  CsvCursor c(text.data(), text.data() + text.size());
  double v = 0;
  EXPECT_EQ(c.ReadNumber(&v), CsvEnd::kComma);
  EXPECT_EQ(v, 1.5);
  EXPECT_FALSE(c.ReadNumber(&v).has_value());  // not a number: nothing consumed
  std::string_view f;
  EXPECT_EQ(c.ReadField(&f), CsvEnd::kComma);
  EXPECT_EQ(f, "x");
  EXPECT_FALSE(c.ReadNumber(&v).has_value());  // quoted: read as a field
  EXPECT_EQ(c.ReadField(&f), CsvEnd::kComma);
  EXPECT_EQ(f, "2");
  EXPECT_EQ(c.ReadNumber(&v), CsvEnd::kLineEnd);
  EXPECT_EQ(v, 300.0);
  EXPECT_EQ(c.newlines(), 1);
  EXPECT_TRUE(c.AtEnd());
}

TEST(CsvCursor, NumbersMatchFromCharsBitForBit) {
  // ReadNumber's own path for plain decimals must give exactly what std::from_chars gives, and
  // take or leave the same fields.
  std::mt19937_64 rng(3);
  auto digits = [&](int n) {
    std::string d;
    for (int i = 0; i < n; ++i) d += static_cast<char>('0' + rng() % 10);
    return d;
  };
  const char* tails[] = {",", "\n", "\r\n", "", "x", "e5,", ".", "-"};
  for (int iter = 0; iter < 300000; ++iter) {
    std::string text = rng() % 3 == 0 ? "-" : "";
    text += digits(static_cast<int>(rng() % 18));
    if (rng() % 4 != 0) {
      text += '.';
      text += digits(static_cast<int>(rng() % 18));
    }
    text += tails[rng() % 8];
    double want = 0;
    auto r = std::from_chars(text.data(), text.data() + text.size(), want);
    const bool whole = r.ec == std::errc() && (r.ptr == text.data() + text.size() || *r.ptr == ',' ||
                                               *r.ptr == '\n' || *r.ptr == '\r');
    CsvCursor c(text.data(), text.data() + text.size());
    double got = 0;
    std::optional<CsvEnd> end = c.ReadNumber(&got);
    ASSERT_EQ(end.has_value(), whole) << text;
    if (!whole) continue;
    ASSERT_EQ(std::memcmp(&got, &want, sizeof got), 0) << text << " " << got << " " << want;
    ASSERT_EQ(c.field_end(), r.ptr) << text;
  }
}

// Hands out a string in blocks of a few bytes, optionally failing at the end.
class StringSource : public CsvSource {
 public:
  StringSource(std::string text, size_t block, bool fail = false) : text_(std::move(text)), block_(block), fail_(fail) {}
  size_t Read(char* buffer, size_t capacity) override {
    size_t n = std::min({capacity, block_, text_.size() - pos_});
    text_.copy(buffer, n, pos_);
    pos_ += n;
    return n;
  }
  bool failed() const override { return fail_ && pos_ == text_.size(); }

 private:
  std::string text_;
  size_t pos_ = 0, block_;
  bool fail_;
};

struct Rec {
  std::vector<std::string> fields;
  int64_t line;
  std::string raw;
  bool open_quote, too_long;
  bool operator==(const Rec&) const = default;
};

std::vector<Rec> ReadBuffer(const std::string& text, bool skip_blank) {
  std::vector<Rec> out;
  CsvReader reader(text, skip_blank);
  CsvRecordView r;
  while (reader.Next(&r)) out.push_back({{r.fields.begin(), r.fields.end()}, r.line, std::string(r.raw), r.open_quote, false});
  return out;
}

std::vector<Rec> ReadStream(const std::string& text, bool skip_blank, size_t source_block, size_t reader_block,
                            int64_t max_bytes = int64_t{1} << 40) {
  std::vector<Rec> out;
  StringSource src(text, source_block);
  CsvStreamReader reader(&src, max_bytes, skip_blank, reader_block);
  CsvRecordView r;
  while (reader.Next(&r)) {
    out.push_back({{r.fields.begin(), r.fields.end()}, r.line, std::string(r.raw), r.open_quote, r.too_long});
  }
  return out;
}

TEST(CsvStreamReader, SameRecordsAsTheBufferReaderWhateverTheBlocks) {
  // Random texts over the characters that matter: every record, line, raw text and open quote
  // must match the in-memory reader, whatever block boundaries cut through.
  std::mt19937 rng(7);
  const char alphabet[] = {'a', 'b', ',', '"', '\n', '\r', ' '};
  for (int iter = 0; iter < 3000; ++iter) {
    std::string text = iter % 10 == 0 ? "\xEF\xBB\xBF" : "";
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) text += alphabet[rng() % sizeof(alphabet)];
    for (bool skip_blank : {true, false}) {
      std::vector<Rec> want = ReadBuffer(text, skip_blank);
      for (size_t block : {1, 2, 3, 5, 64}) {
        ASSERT_EQ(ReadStream(text, skip_blank, block, block), want)
            << "text '" << text << "' block " << block << " skip_blank " << skip_blank;
      }
    }
  }
}

TEST(CsvStreamReader, LongRecordsArePassedOver) {
  std::string text = "id,text\n1,short\n2,\"" + std::string(100, 'x') + "\nmore\"\n3,\"ok\"\n4," + std::string(50, 'y');
  std::vector<Rec> recs = ReadStream(text, true, 7, 8, 40);
  ASSERT_EQ(recs.size(), 5u);
  EXPECT_FALSE(recs[1].too_long);
  EXPECT_TRUE(recs[2].too_long);
  EXPECT_TRUE(recs[2].fields.empty());
  EXPECT_EQ(recs[2].line, 3);
  EXPECT_FALSE(recs[3].too_long);
  EXPECT_EQ(recs[3].fields[1], "ok");
  EXPECT_EQ(recs[3].line, 5);
  EXPECT_TRUE(recs[4].too_long);  // the last record, without a line end
  EXPECT_EQ(recs[4].line, 6);
}

TEST(CsvStreamReader, BrokenStreamDropsTheRecordItCut) {
  StringSource src("a,b\n1,2\n3,", 4, /*fail=*/true);
  CsvStreamReader reader(&src, 1000);
  CsvRecordView r;
  ASSERT_TRUE(reader.Next(&r));
  ASSERT_TRUE(reader.Next(&r));
  EXPECT_EQ(r.fields[1], "2");
  EXPECT_FALSE(reader.Next(&r));
  EXPECT_EQ(reader.next_line(), 3);
}

TEST(CsvStreamReader, EmptyInput) {
  EXPECT_TRUE(ReadStream("", true, 4, 4).empty());
  EXPECT_TRUE(ReadStream("\xEF\xBB\xBF", true, 1, 1).empty());
  EXPECT_EQ(ReadStream("\xEF\xBB\xBF", false, 1, 1).size(), 1u);  // the mark's line, blank
  EXPECT_TRUE(ReadStream("\n\r\n", true, 1, 1).empty());
  EXPECT_EQ(ReadStream("\n\r\n", false, 1, 1).size(), 2u);
}

TEST(CsvReader, ArbitraryBytesNeverBreakIt) {
  std::mt19937 rng(11);
  for (int iter = 0; iter < 500; ++iter) {
    std::string text(rng() % 200, '\0');
    for (char& c : text) c = static_cast<char>(rng() % 256);
    std::vector<Rec> want = ReadBuffer(text, false);
    EXPECT_EQ(ReadStream(text, false, 3, 16), want);
    Result<CsvTable> t = CsvTable::Parse(text, "x.csv");
    (void)t;
  }
}

}  // namespace
}  // namespace dlcost

namespace dlcost {
namespace {

TEST(ForMessage, OneLinePrintableAndShort) {
  EXPECT_EQ(ForMessage("plain"), "plain");
  EXPECT_EQ(ForMessage("a\nb\tc\rd"), "a\\nb\\tc\\x0dd");
  EXPECT_EQ(ForMessage(std::string("x\xff\xc3(y", 5)), "x\\xff\\xc3(y");  // not UTF-8
  EXPECT_EQ(ForMessage("caf\xc3\xa9"), "caf\xc3\xa9");                    // UTF-8 kept
  EXPECT_EQ(ForMessage(std::string(100, 'z'), 10), std::string(10, 'z') + "...");
}

TEST(CsvTable, NumberErrorIsOneLineWhateverTheCellHolds) {
  // A quoted cell spanning lines with a byte that is not UTF-8, in a number column.
  Result<CsvTable> t = CsvTable::Parse("name,price\nx,\"12\n\xff""3\"\n", "t.csv");
  ASSERT_TRUE(t.ok()) << t.status().message();
  Result<std::optional<double>> v = t->Number(t->rows()[0], 1);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message().find('\n'), std::string::npos) << v.status().message();
  EXPECT_NE(v.status().message().find("12\\n\\xff3"), std::string::npos) << v.status().message();
}

}  // namespace
}  // namespace dlcost
