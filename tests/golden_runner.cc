// Runs one golden CLI case (tests/golden/*.case): starts the dlcost binary with the case's
// arguments and checks the exit code, stdout, stderr, JSON values and written files. The case
// format is described in tests/golden/README.md.
//
//   golden_runner --dlcost build/dlcost --source-dir . tests/golden/gpus_list.case
//
// Exit status: 0 when every check passes, 1 when one fails, 2 when the case file is malformed.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

extern char** environ;

namespace {

namespace fs = std::filesystem;

struct Check {
  int line = 0;
  std::string kind;  // the key: stdout_contains, json_path, ...
  std::string value;
};

struct Case {
  std::string path;
  std::vector<std::string> args;
  bool has_args = false;
  std::optional<int> exit_code;
  bool data_dir = true;
  std::vector<Check> checks;
  std::optional<std::string> user_config;                  // written to $XDG_CONFIG_HOME/dlcost/config.json
  std::vector<std::pair<std::string, std::string>> env;    // DLCOST_* variables the case sets
};

struct RunResult {
  int exit_code = -1;
  int signal = 0;
  std::string out, err;
};

// Splits a command line like a POSIX shell does for words: blanks separate, '...' and "..."
// quote (with \" and \\ inside double quotes), a backslash outside quotes escapes one character.
bool SplitArgs(const std::string& text, std::vector<std::string>* out, std::string* error) {
  std::string cur;
  bool in_word = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == ' ' || c == '\t') {
      if (in_word) out->push_back(cur);
      cur.clear();
      in_word = false;
    } else if (c == '\'') {
      size_t end = text.find('\'', i + 1);
      if (end == std::string::npos) {
        *error = "unterminated single quote";
        return false;
      }
      cur += text.substr(i + 1, end - i - 1);
      i = end;
      in_word = true;
    } else if (c == '"') {
      size_t j = i + 1;
      for (; j < text.size() && text[j] != '"'; ++j) {
        if (text[j] == '\\' && j + 1 < text.size() && (text[j + 1] == '"' || text[j + 1] == '\\')) ++j;
        cur += text[j];
      }
      if (j >= text.size()) {
        *error = "unterminated double quote";
        return false;
      }
      i = j;
      in_word = true;
    } else if (c == '\\' && i + 1 < text.size()) {
      cur += text[++i];
      in_word = true;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (in_word) out->push_back(cur);
  return true;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

void ReplaceAll(std::string* s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s->find(from, pos)) != std::string::npos; pos += to.size()) {
    s->replace(pos, from.size(), to);
  }
}

bool ParseCase(const std::string& path, Case* c, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = path + ": cannot open";
    return false;
  }
  c->path = path;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    std::string t = Trim(line);
    if (t.empty() || t[0] == '#') continue;
    size_t colon = t.find(':');
    if (colon == std::string::npos) {
      *error = path + ":" + std::to_string(n) + ": expected 'key: value'";
      return false;
    }
    std::string key = Trim(t.substr(0, colon));
    // The value keeps inner blanks; one blank after the colon is the separator.
    std::string value = t.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    if (key == "args") {
      if (c->has_args) {
        *error = path + ":" + std::to_string(n) + ": more than one 'args' line";
        return false;
      }
      c->has_args = true;
      std::string split_error;
      if (!SplitArgs(value, &c->args, &split_error)) {
        *error = path + ":" + std::to_string(n) + ": " + split_error;
        return false;
      }
    } else if (key == "exit") {
      try {
        size_t used = 0;
        int code = std::stoi(Trim(value), &used);
        if (used != Trim(value).size()) throw std::invalid_argument("junk");
        c->exit_code = code;
      } catch (...) {
        *error = path + ":" + std::to_string(n) + ": 'exit' needs an integer";
        return false;
      }
    } else if (key == "data_dir") {
      std::string v = Trim(value);
      if (v != "default" && v != "none") {
        *error = path + ":" + std::to_string(n) + ": 'data_dir' is 'default' or 'none'";
        return false;
      }
      c->data_dir = v == "default";
    } else if (key == "user_config") {
      c->user_config = value;
    } else if (key == "env") {
      size_t eq = value.find('=');
      if (eq == std::string::npos || value.rfind("DLCOST_", 0) != 0) {
        *error = path + ":" + std::to_string(n) + ": 'env' is DLCOST_NAME=value";
        return false;
      }
      c->env.emplace_back(value.substr(0, eq), value.substr(eq + 1));
    } else if (key == "stdout_contains" || key == "stderr_contains" || key == "stdout_not_contains" ||
               key == "stderr_not_contains" || key == "stdout_empty" || key == "stderr_empty" ||
               key == "json_path" || key == "json_ascending" || key == "file_exists" || key == "file_contains" ||
               key == "file_json_path" || key == "stdout_is_json") {
      c->checks.push_back({n, key, value});
    } else {
      *error = path + ":" + std::to_string(n) + ": unknown key '" + key + "'";
      return false;
    }
  }
  if (!c->has_args) {
    *error = path + ": missing 'args' line";
    return false;
  }
  if (!c->exit_code) {
    *error = path + ": missing 'exit' line";
    return false;
  }
  return true;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `argv` in `cwd` with stdout and stderr sent to files in `tmp`; no shell is involved.
bool Run(const std::vector<std::string>& argv, const std::string& cwd, const std::string& tmp,
         const std::vector<std::pair<std::string, std::string>>& env, RunResult* r, std::string* error) {
  std::string out_path = tmp + "/.stdout", err_path = tmp + "/.stderr";
  pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int null_in = open("/dev/null", O_RDONLY);
    if (out < 0 || err < 0 || null_in < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0 || dup2(null_in, 0) < 0) _exit(125);
    if (chdir(cwd.c_str()) != 0) _exit(125);
    // Only the case decides what dlcost sees: no user config, no DLCOST_* settings.
    std::vector<std::string> drop;
    for (char** e = environ; *e; ++e) {
      std::string kv(*e);
      if (kv.rfind("DLCOST_", 0) == 0) drop.push_back(kv.substr(0, kv.find('=')));
    }
    for (const std::string& k : drop) unsetenv(k.c_str());
    setenv("HOME", tmp.c_str(), 1);
    setenv("XDG_CONFIG_HOME", (tmp + "/.config").c_str(), 1);
    unsetenv("XDG_DATA_HOME");  // the default ledger lands in {tmp}/.local/share/dlcost
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> cargv;
    for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    execv(cargv[0], cargv.data());
    _exit(126);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      *error = std::string("waitpid: ") + std::strerror(errno);
      return false;
    }
  }
  if (WIFEXITED(status)) r->exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r->signal = WTERMSIG(status);
  r->out = ReadFile(out_path);
  r->err = ReadFile(err_path);
  if (r->exit_code == 126) {
    *error = "cannot execute " + argv[0];
    return false;
  }
  return true;
}

// Splits "offers[gpu=t4].0.price" into "offers", "[gpu=t4]", "0", "price": dots separate
// parts, and a bracketed selector is one part even when its value holds dots.
std::vector<std::string> PathParts(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '.') {
      ++i;
    } else if (path[i] == '[') {
      size_t close = path.find(']', i);
      if (close == std::string::npos) close = path.size() - 1;
      parts.push_back(path.substr(i, close - i + 1));
      i = close + 1;
    } else {
      size_t stop = path.find_first_of(".[", i);
      if (stop == std::string::npos) stop = path.size();
      parts.push_back(path.substr(i, stop - i));
      i = stop;
    }
  }
  return parts;
}

// Follows a path through objects and arrays: "key", an array index "0", "[key=value]" (the first
// array element whose key has that value), and "#" as the last part for the size.
std::optional<nlohmann::json> Lookup(const nlohmann::json& doc, const std::string& path, std::string* error) {
  const nlohmann::json* cur = &doc;
  std::string walked;
  for (const std::string& part : PathParts(path)) {
    if (part == "#") {
      if (!cur->is_array() && !cur->is_object()) {
        *error = "'" + walked + "' has no size";
        return std::nullopt;
      }
      return nlohmann::json(cur->size());
    }
    if (part.size() >= 2 && part.front() == '[') {
      size_t eq = part.find('=');
      if (part.back() != ']' || eq == std::string::npos) {
        *error = "selector '" + part + "' is not [key=value]";
        return std::nullopt;
      }
      std::string key = part.substr(1, eq - 1), want = part.substr(eq + 1, part.size() - eq - 2);
      if (!cur->is_array()) {
        *error = "'" + walked + "' is not an array";
        return std::nullopt;
      }
      const nlohmann::json* found = nullptr;
      for (const nlohmann::json& el : *cur) {
        if (!el.is_object() || !el.contains(key)) continue;
        const nlohmann::json& v = el[key];
        if ((v.is_string() && v.get<std::string>() == want) || (!v.is_string() && v.dump() == want)) {
          found = &el;
          break;
        }
      }
      if (!found) {
        *error = "no element " + part + " in '" + walked + "'";
        return std::nullopt;
      }
      cur = found;
    } else if (cur->is_array()) {
      char* end = nullptr;
      long idx = std::strtol(part.c_str(), &end, 10);
      if (part.empty() || *end != '\0' || idx < 0 || static_cast<size_t>(idx) >= cur->size()) {
        *error = "index '" + part + "' out of range after '" + walked + "' (size " + std::to_string(cur->size()) + ")";
        return std::nullopt;
      }
      cur = &(*cur)[static_cast<size_t>(idx)];
    } else if (cur->is_object()) {
      if (!cur->contains(part)) {
        *error = "no key '" + part + "' after '" + walked + "'";
        return std::nullopt;
      }
      cur = &(*cur)[part];
    } else {
      *error = "'" + walked + "' is not an object or array";
      return std::nullopt;
    }
    walked += (walked.empty() || part[0] == '[' ? "" : ".") + part;
  }
  return *cur;
}

// Checks "PATH = EXPECTED": EXPECTED is a JSON literal (2.5, "text", true, null) or a bare word
// taken as a string; a number may end in "~0.01" (absolute) or "~1%" (relative) tolerance.
bool CheckJsonPath(const nlohmann::json& doc, const std::string& spec, std::string* why) {
  size_t eq = spec.find(" = ");
  if (eq == std::string::npos) {
    *why = "expected 'PATH = VALUE'";
    return false;
  }
  std::string path = Trim(spec.substr(0, eq));
  std::string expected = Trim(spec.substr(eq + 3));
  std::string error;
  std::optional<nlohmann::json> got = Lookup(doc, path, &error);
  if (!got) {
    *why = path + ": " + error;
    return false;
  }
  std::optional<double> tol;
  bool relative = false;
  size_t tilde = expected.rfind('~');
  if (tilde != std::string::npos && expected.find('"') == std::string::npos) {
    std::string t = Trim(expected.substr(tilde + 1));
    expected = Trim(expected.substr(0, tilde));
    if (!t.empty() && t.back() == '%') {
      relative = true;
      t.pop_back();
    }
    char* end = nullptr;
    double v = std::strtod(t.c_str(), &end);
    if (t.empty() || *end != '\0' || !(v >= 0)) {
      *why = "bad tolerance '" + t + "'";
      return false;
    }
    tol = relative ? v / 100.0 : v;
  }
  nlohmann::json want = nlohmann::json::parse(expected, nullptr, false);
  if (want.is_discarded()) want = expected;  // a bare word is a string
  if (want.is_number() && got->is_number()) {
    double w = want.get<double>(), g = got->get<double>();
    double allowed = tol ? (relative ? *tol * std::fabs(w) : *tol) : 0;
    if (std::fabs(g - w) <= allowed || (!tol && g == w)) return true;
    *why = path + " = " + got->dump() + ", expected " + want.dump() + (tol ? " within " + std::to_string(allowed) : "");
    return false;
  }
  if (tol) {
    *why = path + " = " + got->dump() + " is not a number (tolerance given)";
    return false;
  }
  if (*got == want) return true;
  *why = path + " = " + got->dump() + ", expected " + want.dump();
  return false;
}

// Checks "ARRAY_PATH KEY": the values of KEY in the array's objects never decrease (nulls last).
bool CheckAscending(const nlohmann::json& doc, const std::string& spec, std::string* why) {
  std::istringstream in(spec);
  std::string path, key;
  in >> path >> key;
  if (path.empty() || key.empty()) {
    *why = "expected 'ARRAY_PATH KEY'";
    return false;
  }
  std::string error;
  std::optional<nlohmann::json> arr = Lookup(doc, path, &error);
  if (!arr || !arr->is_array()) {
    *why = path + ": " + (arr ? "not an array" : error);
    return false;
  }
  if (arr->empty()) {
    *why = path + " is empty";
    return false;
  }
  bool seen_null = false;
  double prev = -INFINITY;
  for (size_t i = 0; i < arr->size(); ++i) {
    const nlohmann::json& row = (*arr)[i];
    if (!row.is_object() || !row.contains(key)) {
      *why = path + "." + std::to_string(i) + " has no '" + key + "'";
      return false;
    }
    const nlohmann::json& v = row[key];
    if (v.is_null()) {
      seen_null = true;
      continue;
    }
    if (!v.is_number() || seen_null || v.get<double>() < prev) {
      *why = path + "." + std::to_string(i) + "." + key + " = " + v.dump() + " breaks the ascending order";
      return false;
    }
    prev = v.get<double>();
  }
  return true;
}

std::optional<nlohmann::json> ParseJson(const std::string& text, const std::string& what, std::string* why) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    *why = what + " is not valid JSON";
    return std::nullopt;
  }
  return j;
}

// Splits "NAME: REST" for file checks.
bool SplitFileSpec(const std::string& spec, std::string* name, std::string* rest) {
  size_t colon = spec.find(": ");
  if (colon == std::string::npos) {
    *name = Trim(spec);
    rest->clear();
  } else {
    *name = Trim(spec.substr(0, colon));
    *rest = spec.substr(colon + 2);
  }
  return !name->empty() && name->find("..") == std::string::npos && (*name)[0] != '/';
}

bool Evaluate(const Check& c, const RunResult& r, const std::string& tmp, std::string* why) {
  const std::string& v = c.value;
  if (c.kind == "stdout_contains") {
    if (r.out.find(v) != std::string::npos) return true;
    *why = "stdout lacks \"" + v + "\"";
    return false;
  }
  if (c.kind == "stderr_contains") {
    if (r.err.find(v) != std::string::npos) return true;
    *why = "stderr lacks \"" + v + "\"";
    return false;
  }
  if (c.kind == "stdout_not_contains") {
    if (r.out.find(v) == std::string::npos) return true;
    *why = "stdout has \"" + v + "\"";
    return false;
  }
  if (c.kind == "stderr_not_contains") {
    if (r.err.find(v) == std::string::npos) return true;
    *why = "stderr has \"" + v + "\"";
    return false;
  }
  if (c.kind == "stdout_empty") {
    if (r.out.empty()) return true;
    *why = "stdout is not empty";
    return false;
  }
  if (c.kind == "stderr_empty") {
    if (r.err.empty()) return true;
    *why = "stderr is not empty";
    return false;
  }
  if (c.kind == "stdout_is_json") {
    return ParseJson(r.out, "stdout", why).has_value();
  }
  if (c.kind == "json_path" || c.kind == "json_ascending") {
    std::optional<nlohmann::json> j = ParseJson(r.out, "stdout", why);
    if (!j) return false;
    return c.kind == "json_path" ? CheckJsonPath(*j, v, why) : CheckAscending(*j, v, why);
  }
  std::string name, rest;
  if (!SplitFileSpec(v, &name, &rest)) {
    *why = "file checks take 'NAME' or 'NAME: TEXT' with NAME inside the case's scratch folder";
    return false;
  }
  std::string path = tmp + "/" + name;
  if (!fs::is_regular_file(path)) {
    *why = "file " + name + " was not written";
    return false;
  }
  if (c.kind == "file_exists") return true;
  std::string text = ReadFile(path);
  if (c.kind == "file_contains") {
    if (text.find(rest) != std::string::npos) return true;
    *why = "file " + name + " lacks \"" + rest + "\"";
    return false;
  }
  // file_json_path
  std::optional<nlohmann::json> j = ParseJson(text, "file " + name, why);
  if (!j) return false;
  return CheckJsonPath(*j, rest, why);
}

std::string Quote(const std::vector<std::string>& args) {
  std::string s;
  for (const std::string& a : args) {
    bool plain = !a.empty() && a.find_first_of(" \t'\"\\$") == std::string::npos;
    s += (s.empty() ? "" : " ") + (plain ? a : "'" + a + "'");
  }
  return s;
}

int Usage() {
  std::fprintf(stderr, "usage: golden_runner --dlcost BINARY --source-dir DIR CASE_FILE...\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dlcost, source_dir;
  std::vector<std::string> case_files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--dlcost" && i + 1 < argc) dlcost = argv[++i];
    else if (a == "--source-dir" && i + 1 < argc) source_dir = argv[++i];
    else if (!a.empty() && a[0] != '-') case_files.push_back(a);
    else return Usage();
  }
  if (dlcost.empty() || source_dir.empty() || case_files.empty()) return Usage();
  dlcost = fs::absolute(dlcost).lexically_normal().string();
  source_dir = fs::absolute(source_dir).lexically_normal().string();

  int failed = 0;
  for (const std::string& file : case_files) {
    Case c;
    std::string error;
    if (!ParseCase(file, &c, &error)) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return 2;
    }
    std::string tmp_template = (fs::temp_directory_path() / "dlcost_golden_XXXXXX").string();
    std::vector<char> buf(tmp_template.begin(), tmp_template.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) {
      std::fprintf(stderr, "mkdtemp: %s\n", std::strerror(errno));
      return 2;
    }
    std::string tmp = buf.data();

    std::vector<std::string> argv_run = {dlcost};
    if (c.data_dir) {
      argv_run.push_back("--data-dir");
      argv_run.push_back(source_dir + "/data");
    }
    for (std::string a : c.args) {
      ReplaceAll(&a, "{tmp}", tmp);
      ReplaceAll(&a, "{src}", source_dir);
      argv_run.push_back(a);
    }
    if (c.user_config) {
      fs::create_directories(tmp + "/.config/dlcost");
      std::ofstream(tmp + "/.config/dlcost/config.json") << *c.user_config << "\n";
    }
    RunResult r;
    bool ran = Run(argv_run, source_dir, tmp, c.env, &r, &error);
    std::vector<std::string> failures;
    if (!ran) {
      failures.push_back(error);
    } else {
      if (r.signal != 0) {
        failures.push_back("dlcost was killed by signal " + std::to_string(r.signal) + " (" + strsignal(r.signal) + ")");
      } else if (r.exit_code != *c.exit_code) {
        failures.push_back("exit code " + std::to_string(r.exit_code) + ", expected " + std::to_string(*c.exit_code));
      }
      for (const Check& check : c.checks) {
        std::string why;
        if (!Evaluate(check, r, tmp, &why)) {
          failures.push_back(file + ":" + std::to_string(check.line) + ": " + check.kind + ": " + why);
        }
      }
    }
    std::error_code ec;
    fs::remove_all(tmp, ec);
    if (failures.empty()) {
      std::printf("PASS %s\n", file.c_str());
      continue;
    }
    ++failed;
    std::printf("FAIL %s\n  command: %s\n", file.c_str(), Quote(argv_run).c_str());
    for (const std::string& f : failures) std::printf("  %s\n", f.c_str());
    auto excerpt = [](const std::string& s) { return s.size() > 4000 ? s.substr(0, 4000) + "\n[...]" : s; };
    std::printf("  --- stdout ---\n%s\n  --- stderr ---\n%s\n", excerpt(r.out).c_str(), excerpt(r.err).c_str());
  }
  return failed == 0 ? 0 : 1;
}
