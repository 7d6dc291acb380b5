#include "control/sigrelayctl.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <boost/program_options/errors.hpp>
#include <boost/program_options/options_description.hpp>
#include <boost/program_options/parsers.hpp>
#include <boost/program_options/positional_options.hpp>
#include <boost/program_options/value_semantic.hpp>
#include <cstring>
#include <fstream>
#include <ostream>
#include <sstream>

#include "control/command_line.hpp"
#include "control/config.hpp"
#include "control/ini_scan.hpp"

namespace sigrelay::control {
namespace {

namespace po = boost::program_options;
using Json = nlohmann::json;

constexpr int kStyle = po::command_line_style::unix_style & ~po::command_line_style::allow_guessing;
constexpr std::string_view kSocketKey = "control.socket";
constexpr int kMaxTimeoutS = 3600;

void add_ctl_options(po::options_description& desc) {
  const std::string config_help = "read the default socket path (control.socket) from this config file (default " +
                                  std::string(kDefaultConfigPath) + ")";
  const std::string timeout_help =
      "give up when the daemon has not answered within this many seconds (default " +
      std::to_string(kCtlDefaultTimeoutS) + ")";
  desc.add_options()("socket,s", po::value<std::string>()->value_name("PATH"),
                     "the daemon's control socket (default: control.socket from the config file)")(
      "config,c", po::value<std::string>()->value_name("PATH"), config_help.c_str())(
      "json", "print the daemon's answer as JSON")("timeout", po::value<std::string>()->value_name("SECONDS"),
                                                    timeout_help.c_str())("help,h", "print this help")(
      "version,V", "print sigrelayctl's version");
}

struct CommandSpec {
  std::string_view name;
  std::string_view synopsis;
  std::string_view help;
};

constexpr CommandSpec kCommands[] = {
    {"stats", "stats", "counters, as a table (--json: as the daemon sends them)"},
    {"sessions", "sessions", "upstream connections and their state"},
    {"reload", "reload", "re-read the configuration file and apply it, as SIGHUP does"},
    {"trace", "trace start [PATH] | trace stop", "start (to PATH, or trace.pcap) or stop writing every SIP message to pcap"},
    {"acl", "acl list | acl test IP", "the source whitelist; whether IP may send to the relay"},
    {"version", "version", "the running daemon's version"},
    {"why", "why CALL-ID|NUMBER", "what the relay did with a call, by Call-ID or dialled number"},
};

bool is_ip_address(const std::string& text) {
  in6_addr a6{};
  in_addr a4{};
  return ::inet_pton(AF_INET, text.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, text.c_str(), &a6) == 1;
}

std::string compiled_default_socket() {
  for (const KeyInfo& k : config_keys()) {
    if (k.name == kSocketKey) return k.default_text;
  }
  return {};
}

// The control.socket value as written in a file that load_config() rejected
// for other reasons; "" when the file has none or cannot be read.
std::string socket_as_written(const std::string& config_path) {
  std::ifstream in(config_path, std::ios::binary);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  const IniScan scan = scan_ini(text.str());
  std::string found;
  for (const IniEntry& e : scan.entries) {
    if (e.key == kSocketKey) found = e.value;
  }
  // The same rule as the key's codec: absolute, and short enough to bind.
  if (found.empty() || found.front() != '/' || found.size() >= sizeof(sockaddr_un::sun_path)) return {};
  return found;
}

// --- human output ---------------------------------------------------------

std::string scalar_text(const Json& v) {
  if (v.is_string()) return v.get_ref<const std::string&>();
  if (v.is_null()) return "-";
  return v.dump(-1, ' ', false, Json::error_handler_t::replace);
}

bool all_scalars(const Json& array) {
  return std::all_of(array.begin(), array.end(), [](const Json& v) { return v.is_primitive(); });
}

using Rows = std::vector<std::pair<std::string, std::string>>;

// Nested objects become dotted names; arrays of plain values one
// comma-separated cell; arrays holding objects "name[i].field".
void flatten(const Json& v, const std::string& name, Rows& rows) {
  if (v.is_object()) {
    for (const auto& [key, child] : v.items()) flatten(child, name.empty() ? key : name + "." + key, rows);
    return;
  }
  if (v.is_array() && !all_scalars(v)) {
    for (std::size_t i = 0; i < v.size(); ++i) flatten(v[i], name + "[" + std::to_string(i) + "]", rows);
    return;
  }
  if (v.is_array()) {
    std::string cell;
    for (const Json& item : v) cell += (cell.empty() ? "" : ", ") + scalar_text(item);
    rows.emplace_back(name, cell);
    return;
  }
  rows.emplace_back(name, scalar_text(v));
}

std::string pad_right(const std::string& s, std::size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

std::string pad_left(const std::string& s, std::size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

std::string two_columns(const Rows& rows) {
  std::size_t w = 0;
  for (const auto& r : rows) w = std::max(w, r.first.size());
  std::string out;
  for (const auto& [name, value] : rows) out += pad_right(name, w) + "  " + value + "\n";
  return out;
}

// An array of objects: one row each, a column for every field any of them has.
std::string object_table(const Json& array) {
  std::vector<std::string> columns;
  std::vector<Rows> records;
  for (const Json& item : array) {
    Rows r;
    flatten(item, "", r);
    for (const auto& cell : r) {
      if (std::find(columns.begin(), columns.end(), cell.first) == columns.end()) columns.push_back(cell.first);
    }
    records.push_back(std::move(r));
  }
  if (columns.empty()) return "(empty)\n";
  std::vector<std::vector<std::string>> grid;
  std::vector<std::size_t> widths;
  for (const std::string& c : columns) {
    std::string head = c;
    std::transform(head.begin(), head.end(), head.begin(), [](unsigned char ch) { return std::toupper(ch); });
    widths.push_back(head.size());
    if (grid.empty()) grid.emplace_back();
    grid.front().push_back(std::move(head));
  }
  for (const Rows& r : records) {
    std::vector<std::string> line;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const auto it = std::find_if(r.begin(), r.end(), [&](const auto& cell) { return cell.first == columns[i]; });
      line.push_back(it == r.end() ? "-" : it->second);
      widths[i] = std::max(widths[i], line.back().size());
    }
    grid.push_back(std::move(line));
  }
  std::string out;
  for (const auto& line : grid) {
    std::string text;
    for (std::size_t i = 0; i < line.size(); ++i) {
      text += i + 1 == line.size() ? line[i] : pad_right(line[i], widths[i]) + "  ";
    }
    out += text + "\n";
  }
  return out;
}

// --- the program ----------------------------------------------------------

std::string short_usage() { return "usage: sigrelayctl [--socket PATH] [--json] COMMAND [ARGS]  (--help for more)\n"; }

std::string human_output(const std::string& command, const Json& result) {
  if (command == "stats") return format_stats_table(result);
  if (command == "version") {
    if (result.is_string()) return "sigrelay " + result.get_ref<const std::string&>() + "\n";
    const auto v = result.is_object() ? result.find("version") : result.end();
    if (v != result.end() && v->is_string()) {
      Json rest = result;
      rest.erase("version");
      return "sigrelay " + v->get_ref<const std::string&>() + "\n" +
             (rest.empty() ? std::string{} : format_result(rest));
    }
  }
  return format_result(result);
}

}  // namespace

CtlCommandLine parse_ctl_command_line(int argc, const char* const* argv) {
  CtlCommandLine out;
  out.config_path = std::string(kDefaultConfigPath);
  po::options_description visible;
  add_ctl_options(visible);
  po::options_description all;
  all.add(visible);
  all.add_options()("words", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("words", -1);
  const std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  po::parsed_options parsed(&all);
  try {
    parsed = po::command_line_parser(args).options(all).positional(positional).style(kStyle).run();
  } catch (const po::error& e) {
    out.error = e.what();
    return out;
  }
  std::vector<std::string> seen;
  for (const po::option& o : parsed.options) {
    const std::string value = o.value.empty() ? std::string{} : o.value.front();
    if (o.string_key == "words") {
      out.words.push_back(value);
      continue;
    }
    if (std::find(seen.begin(), seen.end(), o.string_key) != seen.end()) {
      out.error = "--" + o.string_key + " given more than once";
      return out;
    }
    seen.push_back(o.string_key);
    if (o.string_key == "socket") {
      if (value.empty()) {
        out.error = "--socket needs a path";
        return out;
      }
      if (value.size() >= sizeof(sockaddr_un::sun_path)) {
        out.error = "--socket " + value + ": longer than " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                    " bytes, the most a Unix socket path can have";
        return out;
      }
      out.socket_path = value;
    } else if (o.string_key == "config") {
      out.config_path = value;
    } else if (o.string_key == "json") {
      out.json = true;
    } else if (o.string_key == "timeout") {
      char* end = nullptr;
      const long n = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || n < 1 || n > kMaxTimeoutS) {
        out.error = "--timeout " + value + ": expected a whole number of seconds from 1 to " +
                    std::to_string(kMaxTimeoutS);
        return out;
      }
      out.timeout_s = static_cast<int>(n);
    } else if (o.string_key == "help") {
      out.help = true;
    } else if (o.string_key == "version") {
      out.version = true;
    }
  }
  return out;
}

std::string check_ctl_command(const std::vector<std::string>& words, ControlRequest& out) {
  if (words.empty()) return "no command given";
  const std::string& command = words.front();
  const std::vector<std::string> args(words.begin() + 1, words.end());
  const auto spec = std::find_if(std::begin(kCommands), std::end(kCommands),
                                 [&](const CommandSpec& s) { return s.name == command; });
  if (spec == std::end(kCommands)) return "unknown command '" + command + "'";
  const std::string synopsis = "usage: sigrelayctl " + std::string(spec->synopsis);
  if (command == "trace") {
    const bool start = !args.empty() && args[0] == "start" && args.size() <= 2;
    const bool stop = args.size() == 1 && args[0] == "stop";
    if (!start && !stop) return synopsis;
  } else if (command == "acl") {
    const bool list = args.size() == 1 && args[0] == "list";
    const bool test = args.size() == 2 && args[0] == "test";
    if (!list && !test) return synopsis;
    if (test && !is_ip_address(args[1])) return "acl test: '" + args[1] + "' is not an IPv4 or IPv6 address";
  } else if (command == "why") {
    if (args.size() != 1 || args[0].empty()) return synopsis;
  } else if (!args.empty()) {
    return synopsis + " (it takes no arguments)";
  }
  out.command = command;
  out.args = args;
  return {};
}

std::string ctl_usage() {
  po::options_description options("Options");
  add_ctl_options(options);
  std::ostringstream s;
  s << "usage: sigrelayctl [--socket PATH] [--json] COMMAND [ARGS]\n\n"
    << "Talks to a running sigrelay over its control socket.\n\nCommands:\n";
  for (const CommandSpec& c : kCommands) {
    s << "  " << pad_right(std::string(c.synopsis), 24) << c.help << "\n";
  }
  s << "\n"
    << options << "\n"
    << "Exit status: 0 done; 1 the daemon could not do it (or answered badly); 2 usage error;\n"
    << "3 the daemon cannot be reached (no socket, nobody listening, permission denied).\n"
    << "See docs/sigrelayctl.md.\n";
  return s.str();
}

std::string default_socket_path(const std::string& config_path) {
  if (!config_path.empty()) {
    const LoadResult r = load_config(config_path, {});
    if (r.config) return r.config->control.socket;
    const bool unreadable = std::any_of(r.errors.begin(), r.errors.end(), [](const ConfigError& e) {
      return e.kind == ConfigErrorKind::unreadable_config;
    });
    if (!unreadable) {
      const std::string written = socket_as_written(config_path);
      if (!written.empty()) return written;
    }
  }
  return compiled_default_socket();
}

std::string format_stats_table(const nlohmann::json& stats) {
  if (!stats.is_object()) return format_result(stats);
  Rows rows;
  flatten(stats, "", rows);
  if (rows.empty()) return "(no counters)\n";
  std::size_t name_w = std::string_view("COUNTER").size();
  std::size_t value_w = std::string_view("VALUE").size();
  for (const auto& [name, value] : rows) {
    name_w = std::max(name_w, name.size());
    value_w = std::max(value_w, value.size());
  }
  std::string out = pad_right("COUNTER", name_w) + "  " + pad_left("VALUE", value_w) + "\n";
  for (const auto& [name, value] : rows) out += pad_right(name, name_w) + "  " + pad_left(value, value_w) + "\n";
  return out;
}

std::string format_result(const nlohmann::json& result) {
  if (result.is_null()) return "ok\n";
  if (result.is_primitive()) return scalar_text(result) + "\n";
  if (result.is_array()) {
    if (result.empty()) return "(none)\n";
    if (all_scalars(result)) {
      std::string out;
      for (const Json& v : result) out += scalar_text(v) + "\n";
      return out;
    }
    if (std::all_of(result.begin(), result.end(), [](const Json& v) { return v.is_object(); })) {
      return object_table(result);
    }
  }
  Rows rows;
  flatten(result, "", rows);
  return rows.empty() ? "(empty)\n" : two_columns(rows);
}

std::string call_error_message(const std::string& socket_path, const ControlCallResult& r, int timeout_s) {
  const std::string to = "sigrelayctl: cannot connect to " + socket_path + ": ";
  switch (r.error) {
    case ControlCallError::none: return {};
    case ControlCallError::no_socket: return to + "no such file (is sigrelay running?)";
    case ControlCallError::not_listening:
      return to + "connection refused, no process is listening on it (is sigrelay running?)";
    case ControlCallError::permission_denied:
      return to + "permission denied (run as root or as a member of the socket's group)";
    case ControlCallError::bad_path: return "sigrelayctl: socket path " + socket_path + ": " + r.detail;
    case ControlCallError::timed_out:
      return "sigrelayctl: " + socket_path + ": no answer within " + std::to_string(timeout_s) + " s (" + r.detail +
             "); sigrelay is running but not answering";
    case ControlCallError::io_error:
      if (!r.connected) return to + std::strerror(r.sys_errno);
      return "sigrelayctl: " + socket_path + ": " + r.detail;
    case ControlCallError::bad_response:
      return "sigrelayctl: " + socket_path + ": not a sigrelay control socket, or a broken answer: " + r.detail;
  }
  return "sigrelayctl: " + socket_path + ": " + std::string(to_string(r.error));
}

int call_error_exit_code(const ControlCallResult& r) {
  switch (r.error) {
    case ControlCallError::none: return kCtlExitOk;
    case ControlCallError::no_socket:
    case ControlCallError::not_listening:
    case ControlCallError::permission_denied: return kCtlExitUnreachable;
    case ControlCallError::bad_path: return kCtlExitUsage;
    case ControlCallError::io_error: return r.connected ? kCtlExitFailed : kCtlExitUnreachable;
    case ControlCallError::timed_out:
    case ControlCallError::bad_response: return kCtlExitFailed;
  }
  return kCtlExitFailed;
}

int run_ctl(int argc, const char* const* argv, std::string_view version, std::ostream& out, std::ostream& err) {
  const CtlCommandLine cl = parse_ctl_command_line(argc, argv);
  if (!cl.error.empty()) {
    err << "sigrelayctl: " << cl.error << "\n" << short_usage();
    return kCtlExitUsage;
  }
  if (cl.help) {
    out << ctl_usage();
    return kCtlExitOk;
  }
  if (cl.version) {
    out << "sigrelayctl " << version << "\n";
    return kCtlExitOk;
  }
  ControlRequest request;
  if (const std::string problem = check_ctl_command(cl.words, request); !problem.empty()) {
    err << "sigrelayctl: " << problem << "\n" << short_usage();
    return kCtlExitUsage;
  }
  const std::string socket_path = cl.socket_path.empty() ? default_socket_path(cl.config_path) : cl.socket_path;
  const ControlCallResult r = call_control(socket_path, request, cl.timeout_s * 1000);
  if (r.error != ControlCallError::none) {
    err << call_error_message(socket_path, r, cl.timeout_s) << "\n";
    return call_error_exit_code(r);
  }
  if (!r.response.ok) {
    err << "sigrelayctl: " << request.command << ": " << r.response.error << "\n";
    return kCtlExitFailed;
  }
  if (cl.json) {
    out << r.response.result.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
  } else {
    out << human_output(request.command, r.response.result);
  }
  return kCtlExitOk;
}

}  // namespace sigrelay::control
