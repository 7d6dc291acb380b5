#include "control/reload.hpp"

#include <algorithm>
#include <map>
#include <sstream>

namespace sigrelay::control {
namespace {

// "section.key" -> value, from summarize()'s INI text.
std::map<std::string, std::string> flatten(const Config& cfg) {
  std::map<std::string, std::string> out;
  std::istringstream in(summarize(cfg));
  std::string line;
  std::string section;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = line.substr(1, line.size() - 2);
      continue;
    }
    const auto eq = line.find(" =");
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq);
    const std::string value = eq + 2 < line.size() ? line.substr(eq + 2) : std::string();
    out[section.empty() ? key : section + "." + key] = value;
  }
  return out;
}

}  // namespace

const std::vector<std::string>& reloadable_keys() {
  static const std::vector<std::string> keys{
      "acl.allow",           "emergency.numbers",    "upstream.timeout_ms", "upstream.uri",
      "upstream.connections", "inline.allow_destinations", "log.level",
  };
  return keys;
}

ReloadPlan plan_reload(const Config& running, const Config& next) {
  const auto a = flatten(running);
  const auto b = flatten(next);
  ReloadPlan plan;
  std::vector<std::string> keys;
  for (const auto& [k, v] : a) keys.push_back(k);
  for (const auto& [k, v] : b) {
    if (a.count(k) == 0) keys.push_back(k);
  }
  for (const auto& k : keys) {
    const auto x = a.find(k);
    const auto y = b.find(k);
    const std::string va = x == a.end() ? std::string() : x->second;
    const std::string vb = y == b.end() ? std::string() : y->second;
    if (va == vb) continue;
    const auto& r = reloadable_keys();
    (std::find(r.begin(), r.end(), k) != r.end() ? plan.applied : plan.restart).push_back(k);
  }
  return plan;
}

Config merge_reloadable(const Config& running, const Config& next) {
  Config out = running;
  out.acl = next.acl;
  out.emergency = next.emergency;
  out.upstream.timeout_ms = next.upstream.timeout_ms;
  out.upstream.targets = next.upstream.targets;
  out.upstream.connections = next.upstream.connections;
  out.in_line.allow_destinations = next.in_line.allow_destinations;
  out.log = next.log;
  return out;
}

std::string describe(const ReloadPlan& plan) {
  if (!plan.changed()) return "no change";
  std::string out;
  const auto list = [&](const char* title, const std::vector<std::string>& keys) {
    if (keys.empty()) return;
    if (!out.empty()) out += "; ";
    out += title;
    for (std::size_t i = 0; i < keys.size(); ++i) out += (i == 0 ? " " : ", ") + keys[i];
  };
  list("applied:", plan.applied);
  list("needs a restart (running value kept):", plan.restart);
  return out;
}

}  // namespace sigrelay::control
