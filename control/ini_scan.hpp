// Where each key of an INI config file is written. Boost.Program_options
// parses the file but reports no line numbers, so the loader reads the same
// text with the same rules first (Boost 1.74 common_config_file_iterator:
// '#' starts a comment anywhere, lines are trimmed, "[name]" sets a prefix
// "name.", "key = value" becomes "prefix" + "key") and keeps the line of
// every occurrence. It is stricter in one way: any line Boost would reject,
// and section headers Boost would take literally ("[]", "[ upstream ]"),
// are syntax errors here, reported with their line before Boost runs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sigrelay::control {

struct IniEntry {
  std::string key;    // fully qualified: "upstream.uri"
  std::string value;  // trimmed
  int line = 0;       // 1-based
};

struct IniSyntaxError {
  int line = 0;
  std::string message;
};

struct IniScan {
  std::vector<IniEntry> entries;  // in file order
  std::vector<IniSyntaxError> errors;
};

IniScan scan_ini(std::string_view text);

}  // namespace sigrelay::control
