// What --check-config prints: the effective configuration, every key, in
// the file's own syntax so it can be kept, diffed or loaded back.
#include <string>
#include <vector>

#include "control/config.hpp"
#include "control/config_keys.hpp"

namespace sigrelay::control {
namespace {

struct PrintVisitor {
  std::string out;
  std::string section;
  bool dpdk = true;     // false: leave out the keys only the dpdk backend reads
  bool in_line = true;  // false: leave out the keys only in-line mode reads

  bool skipped(std::string_view key) const {
    if (!in_line && key.starts_with("inline.")) return true;
    return !dpdk && key.starts_with("dataplane.") && key != "dataplane.backend" && key != "dataplane.workers";
  }

  // Top-level keys come first in the table, as they must in the file.
  void name(std::string_view key) {
    const auto dot = key.rfind('.');
    const std::string_view sec = dot == std::string_view::npos ? std::string_view{} : key.substr(0, dot);
    if (sec != section) {
      section = std::string(sec);
      out += "[" + section + "]\n";
    }
    out += std::string(dot == std::string_view::npos ? key : key.substr(dot + 1)) + " =";
  }

  template <class T, class Codec>
  void scalar(const char* key, const T& field, const char*, const Codec& codec, const char*) {
    if (skipped(key)) return;
    name(key);
    const std::string text = codec.format(field);
    if (!text.empty()) out += " " + text;
    out += "\n";
  }

  template <class T, class Codec>
  void list(const char* key, const std::vector<T>& field, const char*, const Codec& codec, const char*) {
    if (skipped(key)) return;
    name(key);
    if constexpr (requires { codec.format_list(field); }) {
      const std::string text = codec.format_list(field);
      if (!text.empty()) out += " " + text;
    } else {
      for (const T& item : field) out += " " + codec.format(item);
    }
    out += "\n";
  }
};

std::string describe_target(std::size_t i, const UpstreamTarget& t, bool verify) {
  std::string s = "# upstream " + std::to_string(i + 1) + ": " + (t.tls ? "TLS" : "TCP, NOT encrypted,") +
                  " to " + t.host + " port " + std::to_string(t.port);
  if (t.tls) {
    s += verify ? ", certificate checked against " + t.server_name : ", certificate NOT checked";
  }
  return s + "\n";
}

}  // namespace

std::string summarize(const Config& cfg) {
  std::string head = "# sigrelay effective configuration (" + std::string(to_string(cfg.mode)) + " mode)\n";
  for (std::size_t i = 0; i < cfg.upstream.targets.size(); ++i) {
    head += describe_target(i, cfg.upstream.targets[i], cfg.upstream.verify);
  }
  head += "# whitelist: " + std::to_string(cfg.acl.allow.size()) + " prefix(es)" +
          (cfg.acl.allow.empty() ? ", every source refused\n" : "\n");
  PrintVisitor v;
  v.dpdk = cfg.dataplane.backend == DataplaneBackend::dpdk;
  if (!v.dpdk) head += "# dpdk settings left out: dataplane.backend is socket\n";
  v.in_line = cfg.mode == Mode::in_line;
  if (!v.in_line) head += "# inline settings left out: mode is relay\n";
  bind_keys(cfg, v);
  return head + v.out;
}

}  // namespace sigrelay::control
