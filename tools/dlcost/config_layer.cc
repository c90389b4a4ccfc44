#include "config_layer.h"

#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "dlcost/api_config.h"

namespace dlcost::cli {
namespace {

// The command `args` runs: its CLI11 apps from the top (e.g. audit, leakage) and its name.
std::vector<CLI::App*> CommandChain(CLI::App& app, const std::vector<std::string>& args) {
  std::vector<CLI::App*> chain;
  CLI::App* at = &app;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--data-dir") {
      ++i;
      continue;
    }
    if (a.empty() || a[0] == '-') continue;
    CLI::App* sub = nullptr;
    for (CLI::App* s : at->get_subcommands([](CLI::App*) { return true; })) {
      if (s->get_name() == a) sub = s;
    }
    if (!sub) break;
    chain.push_back(sub);
    at = sub;
  }
  return chain;
}

// The long option names (without "--") the command line gives.
bool Given(const std::vector<std::string>& args, const std::string& name) {
  std::string flag = "--" + name;
  for (const std::string& a : args) {
    if (a == flag || a.rfind(flag + "=", 0) == 0) return true;
  }
  return false;
}

std::string EnvName(const std::string& option) {
  std::string e = "DLCOST_";
  for (char c : option) e += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return e;
}

}  // namespace

Status ApplyConfigDefaults(CLI::App& app, std::vector<std::string>& args) {
  if (const char* off = std::getenv("DLCOST_NO_CONFIG"); off && std::string(off) == "1") return Status::Ok();
  std::vector<CLI::App*> chain = CommandChain(app, args);
  if (chain.empty()) return Status::Ok();
  std::string command;
  for (CLI::App* c : chain) command += (command.empty() ? "" : " ") + c->get_name();
  // Lowest precedence first: later layers overwrite.
  std::vector<api::ConfigLayer> layers;
  for (const std::string& path : {api::UserConfigPath(), std::string("dlcost.json")}) {
    DLCOST_ASSIGN_OR_RETURN(std::optional<api::ConfigLayer> l, api::ReadConfigLayer(path));
    if (l) layers.push_back(std::move(*l));
  }
  // Every key must be an option of some command (or a command holding options): a typo is
  // an error, not a silent no-op.
  std::map<std::string, bool> known;
  std::map<std::string, bool> commands;
  std::function<void(CLI::App*, const std::string&)> collect = [&](CLI::App* a, const std::string& prefix) {
    for (const CLI::Option* o : a->get_options()) {
      for (const std::string& n : o->get_lnames()) known[n] = true;
    }
    for (CLI::App* s : a->get_subcommands([](CLI::App*) { return true; })) {
      std::string name = prefix.empty() ? s->get_name() : prefix + " " + s->get_name();
      commands[name] = true;
      collect(s, name);
    }
  };
  collect(&app, "");
  for (const api::ConfigLayer& l : layers) {
    for (const auto& [k, v] : l.general) {
      if (!known.count(k)) return InvalidInput(fmt::format("{}: '{}' is not an option of any dlcost command", l.where, k));
    }
    for (const auto& [cmd, opts] : l.per_command) {
      if (!commands.count(cmd)) return InvalidInput(fmt::format("{}: '{}' is not a dlcost command", l.where, cmd));
    }
  }
  // The options of the command (and the global ones), with the value the layers give.
  std::vector<CLI::Option*> options;
  for (CLI::Option* o : app.get_options()) options.push_back(o);
  for (CLI::App* c : chain) {
    for (CLI::Option* o : c->get_options()) options.push_back(o);
  }
  for (CLI::Option* o : options) {
    if (o->get_lnames().empty()) continue;
    const std::string& name = o->get_lnames().front();
    if (name == "help" || name == "version" || Given(args, name)) continue;
    std::optional<std::string> value;
    std::string from;
    for (const api::ConfigLayer& l : layers) {
      if (auto it = l.general.find(name); it != l.general.end()) value = it->second, from = l.where;
      if (auto c = l.per_command.find(command); c != l.per_command.end()) {
        if (auto it = c->second.find(name); it != c->second.end()) value = it->second, from = l.where;
      }
    }
    if (const char* e = std::getenv(EnvName(name).c_str()); e && name != "data-dir") value = e, from = EnvName(name);
    if (!value) continue;
    if (o->get_expected_min() == 0) {  // a flag: true turns it on, false leaves it off
      if (*value == "true" || *value == "1") {
        args.push_back("--" + name);
      } else if (*value != "false" && *value != "0") {
        return InvalidInput(fmt::format("{}: '{}' is a flag: true or false", from, name));
      }
    } else {
      if (value->empty()) return InvalidInput(fmt::format("{}: '{}': empty value", from, name));
      args.push_back("--" + name);
      args.push_back(*value);
    }
    o->default_str(*value + " (from " + from + ")");
  }
  return Status::Ok();
}

}  // namespace dlcost::cli
