#include "control/ini_scan.hpp"

namespace sigrelay::control {
namespace {

// The characters Boost trims around lines, keys and values.
constexpr std::string_view kSpace = " \t\r\n";

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(kSpace);
  return s.substr(b, e - b + 1);
}

bool is_section_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

}  // namespace

IniScan scan_ini(std::string_view text) {
  IniScan out;
  std::string prefix;
  int line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;

    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    if (line.front() == '[' && line.back() == ']') {
      const std::string_view name = line.substr(1, line.size() - 2);
      bool ok = !name.empty();
      for (char c : name) ok = ok && is_section_char(c);
      if (!ok) {
        out.errors.push_back({line_no, "bad section header '" + std::string(line) +
                                           "': expected [name] with letters, digits, '_', '-' or '.'"});
        continue;
      }
      prefix = std::string(name);
      if (prefix.back() != '.') prefix += '.';
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) {
      out.errors.push_back({line_no, "expected 'key = value' or '[section]', got '" + std::string(line) + "'"});
      continue;
    }
    const std::string_view key = trim(line.substr(0, eq));
    if (key.empty()) {
      out.errors.push_back({line_no, "missing key before '='"});
      continue;
    }
    out.entries.push_back({prefix + std::string(key), std::string(trim(line.substr(eq + 1))), line_no});
  }
  return out;
}

}  // namespace sigrelay::control
