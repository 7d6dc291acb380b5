// Where each key's value came from, and the rules that involve more than
// one key (both-or-neither pairs, ordering between keys, defaults that
// depend on other keys, loud warnings for risky but valid settings).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "control/config.hpp"

namespace sigrelay::control {

struct KeyOrigin {
  bool command_line = false;
  std::vector<int> lines;  // file lines of each occurrence, in order
  // List keys: which occurrence each parsed item came from (one occurrence
  // may hold several items), so a cross-key error can name the right line.
  std::vector<std::size_t> item_occurrence;
};

class KeyOrigins {
 public:
  void set(const std::string& key, KeyOrigin origin) { map_[key] = std::move(origin); }

  // Given in the file or on the command line (not left to its default).
  bool is_set(std::string_view key) const { return map_.find(key) != map_.end(); }

  // An error about `key`, placed at the line of its `occurrence`-th value
  // (or the command line). A defaulted key gets no line.
  ConfigError error(ConfigErrorKind kind, std::string_view key, std::string message,
                    std::size_t occurrence = 0) const;
  // The same, for the `item`-th element of a list key's parsed value.
  ConfigError item_error(ConfigErrorKind kind, std::string_view key, std::size_t item,
                         std::string message) const;
  void set_item_occurrences(std::string_view key, std::vector<std::size_t> occurrences);

  // "line 12", "the command line" or "its default", for messages that point
  // at a second key.
  std::string where(std::string_view key) const;
  std::string item_where(std::string_view key, std::size_t item) const;

 private:
  std::map<std::string, KeyOrigin, std::less<>> map_;
};

// Runs after every key parsed on its own. May fill derived values in `cfg`
// (listen.tls default, each target's server_name).
void check_combinations(Config& cfg, const KeyOrigins& origins, std::vector<ConfigError>& errors,
                        std::vector<std::string>& warnings);

}  // namespace sigrelay::control
