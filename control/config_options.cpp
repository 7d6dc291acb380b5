#include "control/config_options.hpp"

#include <boost/program_options/value_semantic.hpp>
#include <string>
#include <vector>

#include "control/config_keys.hpp"

namespace sigrelay::control {
namespace {

namespace po = boost::program_options;

// Values stay strings here: Boost's own conversions would stop at the first
// bad value and cannot say which line it came from.
struct DescribeVisitor {
  po::options_description& desc;

  template <class T, class Codec>
  void scalar(const char* key, T&, const char* default_text, const Codec& codec, const char* help) {
    auto* value = po::value<std::string>()->value_name(codec.value_name());
    if (*default_text != '\0') value->default_value(default_text);
    desc.add_options()(key, value, help);
  }

  template <class T, class Codec>
  void list(const char* key, std::vector<T>&, const char* default_text, const Codec& codec, const char* help) {
    auto* value = po::value<std::vector<std::string>>()->value_name(codec.value_name());
    if (*default_text != '\0') value->default_value({default_text}, default_text);
    desc.add_options()(key, value, help);
  }
};

struct KeyInfoVisitor {
  std::vector<KeyInfo>& out;

  template <class T, class Codec>
  void scalar(const char* key, T&, const char* default_text, const Codec& codec, const char* help) {
    out.push_back(KeyInfo{key, default_text, codec.value_name(), false, help});
  }

  template <class T, class Codec>
  void list(const char* key, std::vector<T>&, const char* default_text, const Codec& codec, const char* help) {
    out.push_back(KeyInfo{key, default_text, codec.value_name(), true, help});
  }
};

}  // namespace

void add_config_options(po::options_description& desc) {
  Config unused;
  DescribeVisitor v{desc};
  bind_keys(unused, v);
  for (const auto& [alias, key] : kKeyAliases) {
    const std::string help = "same as --" + std::string(key);
    desc.add_options()(std::string(alias).c_str(),
                       po::value<std::vector<std::string>>()->value_name("URI"), help.c_str());
  }
}

std::vector<std::string> split_empty_assignments(const std::vector<std::string>& words) {
  std::vector<std::string> out;
  out.reserve(words.size());
  for (const std::string& w : words) {
    if (w.size() > 3 && w.starts_with("--") && w.back() == '=' && w.find('=') == w.size() - 1) {
      out.push_back(w.substr(0, w.size() - 1));
      out.emplace_back();
    } else {
      out.push_back(w);
    }
  }
  return out;
}

std::vector<KeyInfo> config_keys() {
  std::vector<KeyInfo> keys;
  Config unused;
  KeyInfoVisitor v{keys};
  bind_keys(unused, v);
  return keys;
}

}  // namespace sigrelay::control
