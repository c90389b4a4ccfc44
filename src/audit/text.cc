// Text normalisation, word and shingle hashes, exact Jaccard.
#include <algorithm>
#include <array>
#include <cstring>

#include "audit/internal.h"
#include "dlcost/audit.h"

namespace dlcost::audit {
namespace {

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

// Unicode-light classification of a non-ASCII code point (ranges from the Unicode code charts).
CpClass Classify(uint32_t cp) {
  if (cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
      cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000) {
    return CpClass::kSpace;
  }
  if (cp < 0xA0) return CpClass::kDrop;  // C1 controls
  // Latin-1 punctuation and symbols, except the letters ª µ º.
  if (cp <= 0xBF) return (cp == 0xAA || cp == 0xB5 || cp == 0xBA) ? CpClass::kKeep : CpClass::kDrop;
  if (cp == 0xD7 || cp == 0xF7) return CpClass::kDrop;  // × ÷
  if (cp >= 0x200B && cp <= 0x200F) return CpClass::kDrop;  // zero-width and direction marks
  if (cp >= 0x2010 && cp <= 0x2027) return CpClass::kDrop;  // General Punctuation
  if (cp >= 0x2030 && cp <= 0x205E) return CpClass::kDrop;
  if (cp >= 0x2060 && cp <= 0x206F) return CpClass::kDrop;  // invisible operators
  if (cp >= 0x20A0 && cp <= 0x20CF) return CpClass::kDrop;  // currency symbols
  if (cp >= 0x2190 && cp <= 0x2BFF) return CpClass::kDrop;  // arrows, math operators, shapes
  if (cp >= 0x3001 && cp <= 0x3003) return CpClass::kDrop;  // CJK comma, full stop, ditto
  if (cp >= 0x3008 && cp <= 0x3011) return CpClass::kDrop;  // CJK brackets
  if (cp == 0xFEFF) return CpClass::kDrop;                  // byte order mark
  if ((cp >= 0xFF01 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20)) return CpClass::kDrop;  // fullwidth
  return CpClass::kKeep;
}

// Lowercase of a code point for Latin-1, Latin Extended-A, Greek and Cyrillic; others unchanged.
uint32_t Lower(uint32_t cp) {
  if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 0x20;
  if (cp >= 0x100 && cp <= 0x17F) {
    if (cp == 0x130) return 'i';
    if (cp == 0x178) return 0xFF;
    bool even_upper = (cp <= 0x137) || (cp >= 0x14A && cp <= 0x177);
    bool odd_upper = (cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E);
    if (even_upper && cp % 2 == 0) return cp + 1;
    if (odd_upper && cp % 2 == 1) return cp + 1;
    return cp;
  }
  if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) return cp + 0x20;
  if (cp >= 0x410 && cp <= 0x42F) return cp + 0x20;
  if (cp >= 0x400 && cp <= 0x40F) return cp + 0x50;
  return cp;
}

int EncodeUtf8(uint32_t cp, char* out) {
  if (cp < 0x80) {
    out[0] = static_cast<char>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<char>(0xC0 | (cp >> 6));
    out[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<char>(0xE0 | (cp >> 12));
    out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<char>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<char>(0xF0 | (cp >> 18));
  out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return 4;
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

// Walks the normalised text: sink.Byte(c) for every kept byte, sink.EndWord() after each word.
template <typename Sink>
void Normalize(std::string_view s, Sink& sink) {
  bool in_word = false;
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    uint8_t c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      uint8_t t = kAscii[c];
      ++i;
      if (t > 1) {
        sink.Byte(t);
        in_word = true;
      } else if (t == 1 && in_word) {
        sink.EndWord();
        in_word = false;
      }
      continue;
    }
    uint32_t cp = 0;
    int len = DecodeUtf8(s, i, &cp);
    if (len == 0) {  // an invalid byte is kept as it is
      sink.Byte(c);
      in_word = true;
      ++i;
      continue;
    }
    i += len;
    CpClass k = Classify(cp);
    if (k == CpClass::kSpace) {
      if (in_word) sink.EndWord();
      in_word = false;
    } else if (k == CpClass::kKeep) {
      char buf[4];
      int m = EncodeUtf8(Lower(cp), buf);
      for (int j = 0; j < m; ++j) sink.Byte(static_cast<uint8_t>(buf[j]));
      in_word = true;
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
