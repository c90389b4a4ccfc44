// Text normalisation, word and shingle hashes, exact Jaccard.
#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>

#include "audit/internal.h"
#include "dlcost/audit.h"

namespace dlcost::audit {
namespace {

// NFKC with full case folding (UTF8PROC_STABLE keeps it stable across Unicode versions for
// assigned code points).
constexpr auto kFoldOptions =
    static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD);

// ASCII classes: 0 drop (punctuation, symbols, controls), 1 separator (whitespace), otherwise
// the lowercase byte to keep.
constexpr std::array<uint8_t, 128> MakeAsciiTable() {
  std::array<uint8_t, 128> t{};
  for (int c = 0; c < 128; ++c) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') t[c] = 1;
    else if (c >= 'A' && c <= 'Z') t[c] = static_cast<uint8_t>(c - 'A' + 'a');
    else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) t[c] = static_cast<uint8_t>(c);
    else t[c] = 0;
  }
  return t;
}
constexpr std::array<uint8_t, 128> kAscii = MakeAsciiTable();

enum class CpClass { kKeep, kSpace, kDrop };

// Class of a non-ASCII code point of NFKC-case-folded text, by its Unicode general category
// (utf8proc's tables): separators (Z*) and the whitespace controls separate words; punctuation
// (P*), symbols (S*), other controls (Cc) and format characters (Cf: zero-width and direction
// marks, the byte order mark) are dropped; letters, marks, numbers, private-use and unassigned
// code points are kept.
CpClass Classify(uint32_t cp) {
  if (cp == 0x85) return CpClass::kSpace;  // NEXT LINE, a Cc that Unicode counts as whitespace
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: return CpClass::kSpace;
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
    case UTF8PROC_CATEGORY_SM:
    case UTF8PROC_CATEGORY_SC:
    case UTF8PROC_CATEGORY_SK:
    case UTF8PROC_CATEGORY_SO:
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF: return CpClass::kDrop;
    default: return CpClass::kKeep;
  }
}

// Decodes one code point at s[i]; returns its length, or 0 for an invalid sequence.
int DecodeUtf8(std::string_view s, size_t i, uint32_t* cp) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = b(i);
  int len;
  uint32_t v;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    v = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    v = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    v = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (int k = 1; k < len; ++k) {
    uint8_t cc = b(i + k);
    if ((cc & 0xC0) != 0x80) return 0;
    v = (v << 6) | (cc & 0x3F);
  }
  if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10FFFF)) || (v >= 0xD800 && v <= 0xDFFF)) {
    return 0;
  }
  *cp = v;
  return len;
}

// NFKC with full case folding of a valid UTF-8 run, as code points, into a buffer reused across
// calls (utf8proc_decompose, then utf8proc_normalize_utf32 to compose; UTF8PROC_STABLE keeps the
// mapping stable across Unicode versions for assigned code points). False when utf8proc fails,
// which it only does on invalid input.
bool NfkcCasefold(std::string_view run, std::vector<utf8proc_int32_t>* cps) {
  const auto* str = reinterpret_cast<const utf8proc_uint8_t*>(run.data());
  const auto len = static_cast<utf8proc_ssize_t>(run.size());
  if (cps->size() < run.size()) cps->resize(run.size());  // a code point takes at least one byte
  utf8proc_ssize_t n = utf8proc_decompose(str, len, cps->data(), static_cast<utf8proc_ssize_t>(cps->size()), kFoldOptions);
  if (n > static_cast<utf8proc_ssize_t>(cps->size())) {  // decompositions longer than the text
    cps->resize(static_cast<size_t>(n));
    n = utf8proc_decompose(str, len, cps->data(), n, kFoldOptions);
  }
  if (n < 0) return false;
  n = utf8proc_normalize_utf32(cps->data(), n, kFoldOptions);
  if (n < 0) return false;
  cps->resize(static_cast<size_t>(n));
  return true;
}

// The words of text that holds no invalid UTF-8: ASCII by the table, other code points by their
// class. `in_word` carries over from the text before.
template <typename Sink>
void NormalizeValid(std::string_view s, bool* in_word, Sink& sink) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    uint8_t c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      uint8_t t = kAscii[c];
      ++i;
      if (t > 1) {
        sink.Byte(t);
        *in_word = true;
      } else if (t == 1 && *in_word) {
        sink.EndWord();
        *in_word = false;
      }
      continue;
    }
    uint32_t cp = 0;
    int len = DecodeUtf8(s, i, &cp);
    if (len == 0) len = 1;  // not reached: the caller passes valid UTF-8
    CpClass k = Classify(cp);
    if (k == CpClass::kSpace) {
      if (*in_word) sink.EndWord();
      *in_word = false;
    } else if (k == CpClass::kKeep) {
      for (int j = 0; j < len; ++j) sink.Byte(static_cast<uint8_t>(s[i + j]));
      *in_word = true;
    }
    i += len;
  }
}

// The words of folded code points, as NormalizeValid reads bytes.
template <typename Sink>
void NormalizeCodePoints(const std::vector<utf8proc_int32_t>& cps, bool* in_word, Sink& sink) {
  for (utf8proc_int32_t cp : cps) {
    if (cp < 0x80) {
      uint8_t t = kAscii[cp];
      if (t > 1) {
        sink.Byte(t);
        *in_word = true;
      } else if (t == 1 && *in_word) {
        sink.EndWord();
        *in_word = false;
      }
      continue;
    }
    CpClass k = Classify(static_cast<uint32_t>(cp));
    if (k == CpClass::kSpace) {
      if (*in_word) sink.EndWord();
      *in_word = false;
    } else if (k == CpClass::kKeep) {
      utf8proc_uint8_t buf[4];
      utf8proc_ssize_t m = utf8proc_encode_char(cp, buf);
      for (utf8proc_ssize_t j = 0; j < m; ++j) sink.Byte(buf[j]);
      *in_word = true;
    }
  }
}

bool AsciiSpace(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// Walks the normalised text: sink.Byte(c) for every kept byte, sink.EndWord() after each word.
// The text is cut at ASCII whitespace (nothing composes with it, and canonical reordering stops
// at it) and at invalid UTF-8 bytes, which are kept as they are, as word characters. A piece of
// ASCII and fold-inert code points is read as it is (ASCII folding is lowercasing); any other
// piece is NFKC-case-folded by utf8proc first.
template <typename Sink>
void Normalize(std::string_view s, Sink& sink) {
  bool in_word = false;
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    size_t end = i;
    bool inert = true, invalid = false;
    while (end < n) {
      uint8_t c = static_cast<uint8_t>(s[end]);
      if (c < 0x80) {
        if (AsciiSpace(c)) {
          if (end == i) ++end;  // a piece of its own
          break;
        }
        ++end;
        continue;
      }
      uint32_t cp;
      int len = DecodeUtf8(s, end, &cp);
      if (len == 0) {
        invalid = true;
        break;
      }
      if (inert && !FoldInert(cp)) inert = false;
      end += len;
    }
    std::string_view piece = s.substr(i, end - i);
    thread_local std::vector<utf8proc_int32_t> folded;
    if (!inert && NfkcCasefold(piece, &folded)) {
      NormalizeCodePoints(folded, &in_word, sink);
    } else {
      NormalizeValid(piece, &in_word, sink);
    }
    i = end;
    if (invalid) {  // the piece stopped at an invalid byte
      sink.Byte(static_cast<uint8_t>(s[i]));
      in_word = true;
      ++i;
    }
  }
  if (in_word) sink.EndWord();
}

// FNV-1a 64-bit offset basis and prime (Fowler, Noll, Vo; IETF draft-eastlake-fnv).
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;
// 2^64 / golden ratio (Knuth, TAOCP vol. 3, 6.4, multiplicative hashing).
constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

struct StringSink {
  std::string* out;
  bool pending_space = false;
  void Byte(uint8_t c) {
    if (pending_space) out->push_back(' ');
    pending_space = false;
    out->push_back(static_cast<char>(c));
  }
  void EndWord() { pending_space = true; }
};

struct HashSink {
  std::vector<uint64_t>* out;
  uint64_t h = kFnvOffset;
  void Byte(uint8_t c) { h = (h ^ c) * kFnvPrime; }
  void EndWord() {
    out->push_back(Fmix64(h));
    h = kFnvOffset;
  }
};

}  // namespace

namespace {

// Whether utf8proc folds the code point, alone, to itself, and can neither take it as the second
// of a composition pair (its comb_index is below 0x8000 or unset) nor reorder it (class 0).
bool ComputeFoldInert(uint32_t cp) {
  if ((cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0xAC00 && cp <= 0xD7A3)) return false;
  const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
  if (p->combining_class != 0 || (p->comb_index != UINT16_MAX && p->comb_index >= 0x8000)) return false;
  utf8proc_uint8_t utf8[4];
  utf8proc_ssize_t len = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), utf8);
  utf8proc_int32_t out[32];
  utf8proc_ssize_t n = utf8proc_decompose(utf8, len, out, 32, kFoldOptions);
  if (n < 0 || n > 32) return false;
  n = utf8proc_normalize_utf32(out, n, kFoldOptions);
  return n == 1 && out[0] == static_cast<utf8proc_int32_t>(cp);
}

// FoldInert for every code point, computed a page of 256 at a time on first use. Two threads
// may compute the same page; they write the same bits.
class FoldInertTable {
 public:
  bool Get(uint32_t cp) {
    const uint32_t page = cp >> 8;
    if (ready_[page].load(std::memory_order_acquire) == 0) Fill(page);
    return (bits_[cp >> 6].load(std::memory_order_relaxed) >> (cp & 63)) & 1;
  }

 private:
  void Fill(uint32_t page) {
    for (uint32_t w = 0; w < 4; ++w) {
      uint64_t word = 0;
      for (uint32_t k = 0; k < 64; ++k) {
        uint32_t cp = (page << 8) | (w << 6) | k;
        if (!(cp >= 0xD800 && cp <= 0xDFFF) && ComputeFoldInert(cp)) word |= uint64_t{1} << k;
      }
      bits_[page * 4 + w].store(word, std::memory_order_relaxed);
    }
    ready_[page].store(1, std::memory_order_release);
  }
  static constexpr uint32_t kCodePoints = 0x110000;
  std::array<std::atomic<uint8_t>, kCodePoints / 256> ready_{};
  std::array<std::atomic<uint64_t>, kCodePoints / 64> bits_{};
};

}  // namespace

bool FoldInert(uint32_t cp) {
  static FoldInertTable table;
  return cp < 0x110000 && table.Get(cp);
}

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    // Fast path: 8 ASCII bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    uint32_t cp;
    int len = DecodeUtf8(s, i, &cp);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string NormalizeText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  StringSink sink{&out};
  Normalize(text, sink);
  return out;
}

void WordHashes(std::string_view text, std::vector<uint64_t>* out) {
  out->clear();
  HashSink sink{out};
  Normalize(text, sink);
}

ContentKey ContentKeyOf(const std::vector<uint64_t>& words) {
  ContentKey k{kFnvOffset, kGolden};
  for (uint64_t w : words) {
    k.h1 = Fmix64(k.h1 ^ w) + kGolden;
    k.h2 = (k.h2 ^ (w >> 7) ^ (w << 57)) * kFnvPrime + 1;
  }
  k.h1 = Fmix64(k.h1 ^ words.size());
  k.h2 = Fmix64(k.h2);
  return k;
}

void RawShingles(const std::vector<uint64_t>& words, int n, std::vector<uint64_t>* out) {
  out->clear();
  if (words.empty() || n <= 0) return;
  const size_t w = words.size();
  const size_t k = std::min<size_t>(static_cast<size_t>(n), w);
  out->reserve(w - k + 1);
  for (size_t i = 0; i + k <= w; ++i) {
    uint64_t h = k;
    for (size_t j = 0; j < k; ++j) h = h * kGolden + words[i + j];
    out->push_back(Fmix64(h));
  }
}

void SortUnique(std::vector<uint64_t>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

void Shingles(const std::vector<uint64_t>& words, int n, std::vector<uint64_t>* out) {
  RawShingles(words, n, out);
  SortUnique(out);
}

double Jaccard(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  if (a.empty() && b.empty()) return 1.0;
  size_t i = 0, j = 0, inter = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] < b[j]) ++i;
    else if (b[j] < a[i]) ++j;
    else {
      ++inter;
      ++i;
      ++j;
    }
  }
  return static_cast<double>(inter) / static_cast<double>(a.size() + b.size() - inter);
}

int64_t CountWords(std::string_view text) {
  int64_t n = 0;
  bool in = false;
  for (char ch : text) {
    bool space = ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
    if (!space && !in) ++n;
    in = !space;
  }
  return n;
}

}  // namespace dlcost::audit
