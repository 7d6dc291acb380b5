// Loading: Boost.Program_options reads the file and the overrides and
// decides which values count (a key on the command line replaces the file's,
// a single-value key may not repeat); ini_scan supplies the line of every
// value; the key table's codecs turn text into typed fields; config_checks
// applies the rules that span keys.
#include "control/config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options/errors.hpp>
#include <boost/program_options/parsers.hpp>
#include <boost/program_options/variables_map.hpp>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "control/config_checks.hpp"
#include "control/config_codecs.hpp"
#include "control/config_keys.hpp"
#include "control/config_options.hpp"
#include "control/ini_scan.hpp"

namespace sigrelay::control {
namespace {

namespace po = boost::program_options;

// A config file is a page of text; anything much bigger is the wrong file.
constexpr off_t kMaxConfigBytes = 1 << 20;

// No prefix guessing: "--upstream.time=5" must be an unknown key, not a
// silent match for upstream.timeout_ms.
constexpr int kOverrideStyle = po::command_line_style::unix_style & ~po::command_line_style::allow_guessing;

bool read_config_file(const std::string& path, std::string& out, std::string& why) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    why = std::strerror(errno);
    return false;
  }
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (!ok) why = "not a regular file";
  if (ok && st.st_size > kMaxConfigBytes) {
    ok = false;
    why = "larger than " + std::to_string(kMaxConfigBytes) + " bytes";
  }
  if (ok) {
    out.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < out.size()) {
      const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    out.resize(got);  // a file that shrank while read is read as it was
  }
  ::close(fd);
  return ok;
}

std::string canonical_key(const std::string& key) {
  for (const auto& [alias, target] : kKeyAliases) {
    if (key == alias) return std::string(target);
  }
  return key;
}

// A guess for the commonest slips: a fully qualified or top-level key
// written inside a section, and a key put under the wrong section.
std::string unknown_key_hint(const std::string& unknown) {
  std::vector<std::string> known;
  for (const KeyInfo& k : config_keys()) known.push_back(k.name);
  for (const auto& [alias, target] : kKeyAliases) known.emplace_back(alias);
  for (const std::string& k : known) {
    if (unknown.size() > k.size() + 1 && unknown.ends_with("." + k)) {
      const std::string section = unknown.substr(0, unknown.size() - k.size() - 1);
      return " (did you mean '" + k + "'? Keys inside [" + section +
             "] are relative to it; write top-level and fully qualified keys before the first section)";
    }
  }
  const std::string last = unknown.substr(unknown.rfind('.') + 1);
  for (const std::string& k : known) {
    if (k.substr(k.rfind('.') + 1) == last) return " (did you mean '" + k + "'?)";
  }
  return {};
}

std::vector<std::string_view> split_items(std::string_view text) {
  std::vector<std::string_view> items;
  std::size_t i = 0;
  const auto is_sep = [](char c) { return c == ',' || c == ' ' || c == '\t'; };
  while (i < text.size()) {
    while (i < text.size() && is_sep(text[i])) ++i;
    const std::size_t start = i;
    while (i < text.size() && !is_sep(text[i])) ++i;
    if (i > start) items.push_back(text.substr(start, i - start));
  }
  return items;
}

// Turns each key's text (given, or its default) into the typed field.
struct ApplyVisitor {
  const po::variables_map& vm;
  KeyOrigins& origins;
  const std::set<std::string>& failed;  // keys Boost refused; already reported
  std::vector<ConfigError>& errors;

  bool given(const char* key) const {
    const auto it = vm.find(key);
    return it != vm.end() && !it->second.empty() && !it->second.defaulted();
  }

  template <class T, class Codec>
  void scalar(const char* key, T& field, const char* default_text, const Codec& codec, const char*) {
    if (failed.count(key) != 0) return;
    const std::string text = given(key) ? vm[key].as<std::string>() : default_text;
    Problem p;
    if (!codec.parse(text, field, p)) errors.push_back(origins.error(p.kind, key, std::move(p.message)));
  }

  template <class T, class Codec>
  void list(const char* key, std::vector<T>& field, const char* default_text, const Codec& codec, const char*) {
    if (failed.count(key) != 0) return;
    const std::vector<std::string> values =
        given(key) ? vm[key].as<std::vector<std::string>>() : std::vector<std::string>{default_text};
    field.clear();
    std::vector<std::size_t> occurrence_of_item;
    std::vector<std::size_t> written_item_of;  // a range item stands for several values
    std::size_t written = 0;
    for (std::size_t occurrence = 0; occurrence < values.size(); ++occurrence) {
      for (std::string_view text : split_items(values[occurrence])) {
        Problem p;
        const std::size_t before = field.size();
        if (!parse_items(codec, text, field, p)) {
          field.resize(before);
          errors.push_back(origins.error(p.kind, key, std::move(p.message), occurrence));
          continue;
        }
        occurrence_of_item.resize(field.size(), occurrence);
        written_item_of.resize(field.size(), written++);
      }
    }
    origins.set_item_occurrences(key, std::move(occurrence_of_item));
    // An item listed twice binds twice, connects twice, or is a paste slip.
    // One error per written item, not one per code of a repeated range.
    std::map<std::string, std::size_t> seen;
    std::size_t last_reported = written;
    for (std::size_t i = 0; i < field.size(); ++i) {
      const auto [it, fresh] = seen.emplace(compare_key(codec, field[i]), i);
      if (fresh || written_item_of[i] == last_reported) continue;
      last_reported = written_item_of[i];
      errors.push_back(origins.item_error(ConfigErrorKind::duplicate_item, key, i,
                                          "'" + codec.format(field[i]) + "' is listed twice (also " +
                                              origins.item_where(key, it->second) + ")"));
    }
  }

  // The optional codec hooks (config_codecs.hpp).
  template <class T, class Codec>
  static bool parse_items(const Codec& codec, std::string_view text, std::vector<T>& out, Problem& p) {
    if constexpr (requires { codec.parse_items(text, out, p); }) {
      return codec.parse_items(text, out, p);
    } else {
      T item{};
      if (!codec.parse(text, item, p)) return false;
      out.push_back(std::move(item));
      return true;
    }
  }

  template <class T, class Codec>
  static std::string compare_key(const Codec& codec, const T& item) {
    if constexpr (requires { codec.compare_key(item); }) {
      return codec.compare_key(item);
    } else {
      return codec.format(item);
    }
  }
};

struct Occurrence {
  po::option option;
  int line = 0;  // 0 on the command line
};

using ByKey = std::map<std::string, std::vector<Occurrence>>;

void parse_overrides(const std::vector<std::string>& overrides, const po::options_description& desc,
                     ByKey& by_key, std::vector<ConfigError>& errors) {
  po::parsed_options parsed(&desc);
  try {
    parsed = po::command_line_parser(split_empty_assignments(overrides))
                 .options(desc)
                 .style(kOverrideStyle)
                 .allow_unregistered()
                 .run();
  } catch (const po::error_with_option_name& e) {
    std::string key = e.get_option_name();
    key.erase(0, key.find_first_not_of('-'));
    errors.push_back({ConfigErrorKind::bad_argument, key, 0, true, e.what()});
    return;
  } catch (const po::error& e) {
    errors.push_back({ConfigErrorKind::bad_argument, "", 0, true, e.what()});
    return;
  }
  for (po::option& o : parsed.options) {
    if (o.string_key.empty()) {
      const std::string word = o.value.empty() ? "" : o.value.front();
      errors.push_back({ConfigErrorKind::bad_argument, "", 0, true,
                        "unexpected argument '" + word + "': overrides are written --key=value"});
      continue;
    }
    if (o.unregistered) {
      errors.push_back({ConfigErrorKind::unknown_key, o.string_key, 0, true,
                        "unknown key" + unknown_key_hint(o.string_key)});
      continue;
    }
    o.string_key = canonical_key(o.string_key);
    by_key[o.string_key].push_back({o, 0});
  }
}

void parse_file(const std::string& path, const po::options_description& desc, ByKey& by_key,
                std::vector<ConfigError>& errors) {
  std::string text;
  std::string why;
  if (!read_config_file(path, text, why)) {
    errors.push_back({ConfigErrorKind::unreadable_config, "", 0, false, "cannot read config file: " + why});
    return;
  }
  IniScan scan = scan_ini(text);
  for (const IniSyntaxError& e : scan.errors) {
    errors.push_back({ConfigErrorKind::syntax, "", e.line, false, e.message});
  }
  // The scan found every line Boost would refuse; with none, Boost parses
  // the same text and sees the same keys in the same order.
  if (!scan.errors.empty()) return;
  po::parsed_options parsed(&desc);
  try {
    std::istringstream in(text);
    parsed = po::parse_config_file(in, desc, /*allow_unregistered=*/true);
  } catch (const po::error& e) {
    errors.push_back({ConfigErrorKind::syntax, "", 0, false, e.what()});
    return;
  }
  std::map<std::string, std::vector<int>> lines_of;
  for (const IniEntry& e : scan.entries) lines_of[canonical_key(e.key)].push_back(e.line);
  std::map<std::string, std::size_t> seen;
  for (po::option& o : parsed.options) {
    o.string_key = canonical_key(o.string_key);
    const std::size_t nth = seen[o.string_key]++;
    const auto& lines = lines_of[o.string_key];
    const int line = nth < lines.size() ? lines[nth] : 0;
    if (o.unregistered) {
      errors.push_back({ConfigErrorKind::unknown_key, o.string_key, line, false,
                        "unknown key" + unknown_key_hint(o.string_key)});
      continue;
    }
    by_key[o.string_key].push_back({std::move(o), line});
  }
}

// One Boost store per key, so one bad key does not hide the others' errors.
// The command line's values for a key are stored instead of the file's.
void store_per_key(const po::options_description& desc, const ByKey& file, const ByKey& command_line,
                   po::variables_map& vm, KeyOrigins& origins, std::set<std::string>& failed,
                   std::vector<ConfigError>& errors) {
  std::set<std::string> keys;
  for (const auto& [k, v] : file) keys.insert(k);
  for (const auto& [k, v] : command_line) keys.insert(k);
  for (const std::string& key : keys) {
    const auto cl = command_line.find(key);
    const bool from_cl = cl != command_line.end();
    const std::vector<Occurrence>& occurrences = from_cl ? cl->second : file.at(key);
    KeyOrigin origin{from_cl, {}, {}};
    po::parsed_options one(&desc);
    for (const Occurrence& o : occurrences) {
      if (!from_cl) origin.lines.push_back(o.line);
      one.options.push_back(o.option);
    }
    origins.set(key, origin);
    try {
      po::store(one, vm);
    } catch (const po::multiple_occurrences&) {
      failed.insert(key);
      const std::string also =
          from_cl ? "on the command line" : "(also line " + std::to_string(origin.lines[0]) + ")";
      errors.push_back(origins.error(ConfigErrorKind::repeated_key, key,
                                     "takes one value but is given more than once " + also, 1));
    } catch (const po::error& e) {
      failed.insert(key);
      errors.push_back(origins.error(ConfigErrorKind::bad_value, key, e.what()));
    }
  }
  po::store(po::parsed_options(&desc), vm);  // defaults of the keys nobody gave
}

template <class E, std::size_t N>
std::string_view choice_name(const Choice<E> (&choices)[N], E value) {
  for (const auto& c : choices) {
    if (c.value == value) return c.name;
  }
  return "?";
}

int error_rank(const ConfigError& e) {
  if (e.from_command_line) return 0;
  return e.line > 0 ? 1 : 2;
}

}  // namespace

std::string_view to_string(Mode m) { return choice_name(kModeChoices, m); }
std::string_view to_string(DataplaneBackend b) { return choice_name(kBackendChoices, b); }
std::string_view to_string(LogLevel l) { return choice_name(kLogLevelChoices, l); }

std::string_view to_string(ConfigErrorKind k) {
  switch (k) {
    case ConfigErrorKind::unreadable_config: return "unreadable_config";
    case ConfigErrorKind::syntax: return "syntax";
    case ConfigErrorKind::unknown_key: return "unknown_key";
    case ConfigErrorKind::repeated_key: return "repeated_key";
    case ConfigErrorKind::bad_value: return "bad_value";
    case ConfigErrorKind::out_of_range: return "out_of_range";
    case ConfigErrorKind::duplicate_item: return "duplicate_item";
    case ConfigErrorKind::unreadable_file: return "unreadable_file";
    case ConfigErrorKind::missing_key: return "missing_key";
    case ConfigErrorKind::inconsistent: return "inconsistent";
    case ConfigErrorKind::bad_argument: return "bad_argument";
  }
  return "unknown";
}

sip::TimerConfig timer_config(const SipTimersConfig& t) {
  sip::TimerConfig c;
  c.t1 = sip::Millis{t.t1_ms};
  c.t2 = sip::Millis{t.t2_ms};
  c.t4 = sip::Millis{t.t4_ms};
  return c;
}

LoadResult load_config(const std::string& path, const std::vector<std::string>& overrides) {
  LoadResult result;
  po::options_description desc;
  add_config_options(desc);

  ByKey command_line;
  ByKey file;
  parse_overrides(overrides, desc, command_line, result.errors);
  if (!path.empty()) parse_file(path, desc, file, result.errors);

  po::variables_map vm;
  KeyOrigins origins;
  std::set<std::string> failed;
  store_per_key(desc, file, command_line, vm, origins, failed, result.errors);

  Config cfg;
  ApplyVisitor apply{vm, origins, failed, result.errors};
  bind_keys(cfg, apply);
  // Cross-key rules on half-parsed values would only add noise.
  if (result.errors.empty()) check_combinations(cfg, origins, result.errors, result.warnings);

  std::stable_sort(result.errors.begin(), result.errors.end(), [](const ConfigError& a, const ConfigError& b) {
    const int ra = error_rank(a);
    const int rb = error_rank(b);
    return ra != rb ? ra < rb : a.line < b.line;
  });
  if (result.errors.empty()) result.config = std::move(cfg);
  return result;
}

std::string format_error(const ConfigError& e, const std::string& path) {
  std::string out;
  if (e.from_command_line) {
    out = "command line";
  } else {
    out = path.empty() ? "configuration" : path;
    if (e.line > 0) out += ":" + std::to_string(e.line);
  }
  out += ": ";
  if (!e.key.empty()) out += e.key + ": ";
  return out + e.message;
}

}  // namespace sigrelay::control
