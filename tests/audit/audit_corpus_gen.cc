// Writes a planted JSONL corpus for the audit tests and timings: random documents of words
// "w<N>", with near-duplicate variants (a few words replaced), exact copies (capitals and
// punctuation added, equal after normalisation) and, now and then, a bad record (no text),
// so that every dedup path is exercised. The same arguments always give the same bytes.
//
//   audit_corpus_gen --docs 200000 --words 150 --seed 1 > corpus.jsonl
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

struct Args {
  int64_t docs = 1000;
  int words = 150;
  uint64_t seed = 1;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr, "audit_corpus_gen: %s\nusage: audit_corpus_gen [--docs N] [--words W] [--seed S]\n", why);
  std::exit(2);
}

int64_t Number(const char* flag, const char* text, int64_t lo, int64_t hi) {
  char* end = nullptr;
  long long v = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || v < lo || v > hi) {
    std::fprintf(stderr, "audit_corpus_gen: %s: '%s' is not a whole number in %lld..%lld\n", flag, text,
                 static_cast<long long>(lo), static_cast<long long>(hi));
    std::exit(2);
  }
  return v;
}

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    if (i + 1 >= argc) Usage("every option takes a value");
    if (std::strcmp(argv[i], "--docs") == 0) a.docs = Number("--docs", argv[++i], 1, 100000000);
    else if (std::strcmp(argv[i], "--words") == 0) a.words = static_cast<int>(Number("--words", argv[++i], 1, 100000));
    else if (std::strcmp(argv[i], "--seed") == 0) a.seed = static_cast<uint64_t>(Number("--seed", argv[++i], 0, INT64_MAX));
    else Usage("unknown option");
  }
  return a;
}

// `prefix` followed by the decimal digits of `n`.
std::string Word(char prefix, uint64_t n) {
  std::string w(1, prefix);
  w += std::to_string(n);
  return w;
}

std::string Join(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& w : words) {
    if (!text.empty()) text += ' ';
    text += w;
  }
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = Parse(argc, argv);
  std::mt19937_64 rng(a.seed);
  std::string out;
  int64_t written = 0, family = 0;
  auto emit = [&](const std::string& id, const std::string& text) {
    out.append("{\"id\":\"").append(id).append("\",\"text\":\"").append(text).append("\"}\n");
    ++written;
    if (out.size() > (1u << 20)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  };
  while (written < a.docs) {
    // A family: one base document and 0-4 copies; about one family in ten has copies.
    std::vector<std::string> base(a.words);
    for (std::string& w : base) w = Word('w', rng() % 50000);
    const std::string fid = Word('f', family++);
    emit(fid, Join(base));
    const int copies = rng() % 10 == 0 ? 1 + static_cast<int>(rng() % 4) : 0;
    for (int c = 0; c < copies && written < a.docs; ++c) {
      std::vector<std::string> doc = base;
      if (rng() % 3 == 0) {  // exact after normalisation
        doc.front()[0] = 'W';
        doc.front() += '!';
      } else {  // near: 1-5 words replaced
        const int changes = 1 + static_cast<int>(rng() % 5);
        for (int k = 0; k < changes; ++k) doc[rng() % doc.size()] = Word('z', rng() % 1000000);
      }
      emit(fid + Word('c', c), Join(doc));
    }
    if (rng() % 500 == 0 && written < a.docs) {
      out.append("{\"id\":\"").append(Word('b', family)).append("\"}\n");  // skipped: no text
      ++written;
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}
