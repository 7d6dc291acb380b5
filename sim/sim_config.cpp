#include "sim/sim_config.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <boost/program_options.hpp>
#include <charconv>
#include <fstream>
#include <sstream>

namespace sigrelay::sim {

namespace po = boost::program_options;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// The line of `path` that sets `key` (to `value`, when given), for error
// messages: Boost names the key but not where it is. 0 when not found.
int locate(const std::string& path, std::string_view key, std::string_view value = {}) {
  std::ifstream in(path);
  std::string line;
  std::string section;
  bool in_section = false;
  for (int n = 1; std::getline(in, line); ++n) {
    auto s = trim(line);
    if (s.empty() || s.front() == '#' || s.front() == ';') continue;
    if (s.front() == '[' && s.back() == ']') {
      section = std::string(trim(s.substr(1, s.size() - 2)));
      in_section = true;
      continue;
    }
    const auto eq = s.find('=');
    if (eq == std::string_view::npos) continue;
    const auto name = trim(s.substr(0, eq));
    // Boost prefixes every key after a [section] line, even an empty one.
    const std::string full = in_section ? section + "." + std::string(name) : std::string(name);
    if (full == key && (value.empty() || trim(s.substr(eq + 1)) == value)) return n;
  }
  return 0;
}

std::string where(const std::string& path, std::string_view key, std::string_view value = {}) {
  if (path.empty()) return {};
  const int line = locate(path, key, value);
  return line > 0 ? path + ":" + std::to_string(line) + ": " : path + ": ";
}

std::string usage(const po::options_description& all) {
  std::ostringstream os;
  os << "usage: sigrelay-sim --config FILE [--KEY=VALUE ...]\n"
        "A stand-in for the call-analytics service sigrelay relays INVITEs to.\n"
        "Every configuration key can also be given on the command line (--listen.tcp=127.0.0.1:0).\n"
     << all;
  return os.str();
}

}  // namespace

bool parse_listen_address(std::string_view text, ListenAddress& out, std::string& error) {
  out = ListenAddress{};
  out.text = std::string(text);
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      error = "'" + out.text + "' is not [IPv6]:port";
      return false;
    }
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      error = "'" + out.text + "' has no :port";
      return false;
    }
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    error = "'" + out.text + "' has no valid port (0..65535)";
    return false;
  }
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1 && text.front() != '[') {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    out.len = sizeof(sockaddr_in);
    return true;
  }
  out.addr = sockaddr_storage{};
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1 && text.front() == '[') {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    out.len = sizeof(sockaddr_in6);
    return true;
  }
  error = "'" + out.text + "': the address must be a numeric IPv4 address or a bracketed IPv6 address";
  return false;
}

ConfigResult load_config(int argc, const char* const* argv, SimConfig& out) {
  using strings = std::vector<std::string>;
  po::options_description keys("Configuration keys (file or command line)");
  keys.add_options()
      ("listen.tcp", po::value<strings>(), "plain SIP over TCP listener, ADDRESS:PORT (repeatable)")
      ("listen.tls", po::value<strings>(), "SIP over TLS listener, ADDRESS:PORT (repeatable)")
      ("tls.cert", po::value<std::string>(), "PEM certificate chain for the TLS listeners")
      ("tls.key", po::value<std::string>(), "PEM private key of tls.cert")
      ("sim.allow", po::value<strings>(), "CIDR of a relay served (repeatable); others get sim.forbidden_code")
      ("sim.forbidden_code", po::value<unsigned>(), "answer to INVITEs from other sources (403 or 404)")
      ("sim.counters_file", po::value<std::string>(), "JSON file rewritten after every change")
      ("sim.max_connections", po::value<unsigned>(), "connections beyond this are closed at once")
      ("sim.send_buffer", po::value<unsigned>(), "SO_SNDBUF bytes for accepted connections (small: partial writes)")
      ("rule", po::value<strings>(), "PREFIX CODE [contacts=URI,...] [delay_ms=N] [silent] ... (repeatable)")
      ("shaken.key", po::value<std::string>(), "PEM EC P-256 private key signing PASSporTs")
      ("shaken.x5u", po::value<std::string>(), "URL of the certificate of shaken.key")
      ("shaken.attest", po::value<std::string>(), "attestation level A, B or C")
      ("shaken.trust", po::value<strings>(),
       "PEM file of certificates whose keys verify rules accept (repeatable; default: shaken.key's own)");
  po::options_description cli("Command line only");
  cli.add_options()
      ("config", po::value<std::string>(), "INI configuration file")
      ("quiet", po::bool_switch(), "no log line per INVITE")
      ("check-config", po::bool_switch(), "validate the configuration and exit")
      ("help,h", "this text");
  po::options_description all;
  all.add(cli).add(keys);

  ConfigResult r;
  if (argc <= 1) {
    r.status = ConfigStatus::error;
    r.message = "usage: sigrelay-sim --config FILE [--KEY=VALUE ...] (--help lists every key)";
    return r;
  }
  std::string path;
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, all), vm);
    if (vm.count("help") != 0) {
      r.status = ConfigStatus::help;
      r.message = usage(all);
      return r;
    }
    if (vm.count("config") != 0) {
      path = vm["config"].as<std::string>();
      std::ifstream file(path);
      if (!file) {
        r.status = ConfigStatus::error;
        r.message = "cannot read config file '" + path + "'";
        return r;
      }
      try {
        po::store(po::parse_config_file(file, keys, false), vm);
      } catch (const po::unknown_option& e) {
        r.status = ConfigStatus::error;
        r.message = where(path, e.get_option_name()) + "unknown key '" + e.get_option_name() + "'";
        return r;
      } catch (const po::error& e) {
        r.status = ConfigStatus::error;
        r.message = path + ": " + e.what();
        return r;
      }
    }
    po::notify(vm);
  } catch (const po::error& e) {
    r.status = ConfigStatus::error;
    r.message = e.what();
    return r;
  }

  auto fail = [&](std::string_view key, std::string msg, std::string_view value = {}) {
    r.status = ConfigStatus::error;
    r.message = where(path, key, value) + std::string(key) + ": " + msg;
    return r;
  };
  auto get = [&](const char* key) {
    return vm.count(key) != 0 ? vm[key].as<std::string>() : std::string();
  };
  auto list = [&](const char* key) { return vm.count(key) != 0 ? vm[key].as<strings>() : strings(); };

  out.quiet = vm["quiet"].as<bool>();
  out.check_only = vm["check-config"].as<bool>();
  std::string error;
  for (const auto& [key, dest] : {std::pair<const char*, std::vector<ListenAddress>*>{"listen.tcp", &out.tcp},
                                  {"listen.tls", &out.tls}}) {
    for (const auto& text : list(key)) {
      ListenAddress a;
      if (!parse_listen_address(text, a, error)) return fail(key, error, text);
      dest->push_back(a);
    }
  }
  if (out.tcp.empty() && out.tls.empty()) {
    return fail("listen.tcp", "no listener: set listen.tcp or listen.tls");
  }
  out.tls_cert = get("tls.cert");
  out.tls_key = get("tls.key");
  if (!out.tls.empty() && (out.tls_cert.empty() || out.tls_key.empty())) {
    return fail("listen.tls", "needs tls.cert and tls.key");
  }
  for (const auto& text : list("sim.allow")) {
    const auto c = parse_cidr(text);
    if (!c) return fail("sim.allow", "'" + text + "' is not an address or CIDR block (host bits must be zero)", text);
    out.allow.add(*c);
  }
  if (vm.count("sim.forbidden_code") != 0) {
    const unsigned code = vm["sim.forbidden_code"].as<unsigned>();
    if (code < 300 || code > 699) return fail("sim.forbidden_code", "must be a final response code from 300 to 699");
    out.forbidden_code = static_cast<std::uint16_t>(code);
  }
  if (vm.count("sim.max_connections") != 0) {
    const unsigned n = vm["sim.max_connections"].as<unsigned>();
    if (n == 0) return fail("sim.max_connections", "must be at least 1");
    out.max_connections = n;
  }
  if (vm.count("sim.send_buffer") != 0) out.send_buffer = vm["sim.send_buffer"].as<unsigned>();
  out.counters_file = get("sim.counters_file");
  out.shaken_key = get("shaken.key");
  out.shaken_x5u = get("shaken.x5u");
  if (vm.count("shaken.attest") != 0) {
    const auto a = get("shaken.attest");
    if (a != "A" && a != "B" && a != "C") return fail("shaken.attest", "'" + a + "' is not A, B or C");
    out.shaken_attest = a[0];
  }
  if (!out.shaken_key.empty() && out.shaken_x5u.empty()) {
    return fail("shaken.key", "needs shaken.x5u, the URL verifiers fetch the certificate from");
  }
  for (const auto& text : list("shaken.trust")) {
    if (trim(text).empty()) return fail("shaken.trust", "is empty: give the path of a PEM file of certificates", text);
    out.shaken_trust.push_back(text);
  }
  for (const auto& text : list("rule")) {
    auto rule = parse_rule(text, error);
    if (!rule) return fail("rule", "'" + text + "': " + error, text);
    if (rule->code == 302 && !rule->no_identity && !rule->verify && out.shaken_key.empty()) {
      return fail("rule", "'" + text + "': a 302 carries a signed Identity header: set shaken.key and shaken.x5u, or add no_identity", text);
    }
    if (rule->verify && out.shaken_trust.empty() && out.shaken_key.empty()) {
      return fail("rule", "'" + text + "': verify needs keys to trust: set shaken.trust (or shaken.key, whose own key is then trusted)", text);
    }
    if (!out.rules.add(std::move(*rule), error)) return fail("rule", "'" + text + "': " + error, text);
  }
  return r;
}

}  // namespace sigrelay::sim
