#include "control/config_checks.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "control/config_codecs.hpp"
#include "dataplane/emergency.hpp"

namespace sigrelay::control {
namespace {

// The TLS listener gets this when a certificate and key are given and
// listen.tls is not (RFC 3261 §19.1.2: 5061 is the default SIP-over-TLS port).
constexpr std::string_view kDefaultTlsListen = "0.0.0.0:5061";

bool same_address(const Endpoint& a, const Endpoint& b) { return same_ip(a.addr, b.addr); }

// Two TCP listeners that would take the same connections: same family and
// port, and the same address or a wildcard on either side.
bool overlaps(const Endpoint& a, const Endpoint& b) {
  return a.family() == b.family() && a.port() == b.port() &&
         (a.is_wildcard() || b.is_wildcard() || same_address(a, b));
}

struct TcpListener {
  const char* key;
  std::size_t item;  // index in the key's list; 0 for stats.http
  const Endpoint* endpoint;
};

void check_listen(Config& cfg, const KeyOrigins& o, std::vector<ConfigError>& errors) {
  auto& l = cfg.listen;
  const bool cert = !l.tls_cert.empty();
  const bool key = !l.tls_key.empty();
  if (cert != key) {
    errors.push_back(o.error(ConfigErrorKind::inconsistent, cert ? "listen.tls_cert" : "listen.tls_key",
                             cert ? "needs listen.tls_key as well (both or neither)"
                                  : "needs listen.tls_cert as well (both or neither)"));
  } else if (cert && !o.is_set("listen.tls")) {
    Endpoint e;
    parse_endpoint(kDefaultTlsListen, e);
    l.tls.push_back(e);
  } else if (!cert && !l.tls.empty()) {
    errors.push_back(o.error(ConfigErrorKind::inconsistent, "listen.tls",
                             "needs listen.tls_cert and listen.tls_key"));
  }
  if (l.udp.empty() && l.tcp.empty() && l.tls.empty()) {
    errors.push_back(o.error(ConfigErrorKind::inconsistent, "listen.udp",
                             "nothing to listen on: listen.udp, listen.tcp and listen.tls are all empty"));
  }

  // One TCP port serves one protocol: SIP over TCP, SIP over TLS or HTTP.
  std::vector<TcpListener> tcp;
  for (std::size_t i = 0; i < l.tcp.size(); ++i) tcp.push_back({"listen.tcp", i, &l.tcp[i]});
  for (std::size_t i = 0; i < l.tls.size(); ++i) tcp.push_back({"listen.tls", i, &l.tls[i]});
  tcp.push_back({"stats.http", 0, &cfg.stats.http});
  for (std::size_t j = 0; j < tcp.size(); ++j) {
    for (std::size_t i = 0; i < j; ++i) {
      if (std::strcmp(tcp[i].key, tcp[j].key) == 0) continue;  // same list: duplicates are caught per key
      if (!overlaps(*tcp[i].endpoint, *tcp[j].endpoint)) continue;
      errors.push_back(o.item_error(ConfigErrorKind::inconsistent, tcp[j].key, tcp[j].item,
                                    tcp[j].endpoint->text + " takes the same TCP port as " + tcp[i].key +
                                        " " + tcp[i].endpoint->text + " (" +
                                        o.item_where(tcp[i].key, tcp[i].item) + ")"));
      break;
    }
  }
}

void check_upstream(Config& cfg, const KeyOrigins& o, std::vector<ConfigError>& errors,
                    std::vector<std::string>& warnings) {
  auto& u = cfg.upstream;
  if (u.targets.empty()) {
    errors.push_back(o.error(ConfigErrorKind::missing_key, "upstream.uri",
                             "mandatory: give at least one service URI, "
                             "e.g. upstream.uri = sip:sip.example.net:5061;transport=tls"));
    return;
  }
  if (u.client_cert.empty() != u.client_key.empty()) {
    const bool cert = !u.client_cert.empty();
    errors.push_back(o.error(ConfigErrorKind::inconsistent, cert ? "upstream.client_cert" : "upstream.client_key",
                             cert ? "needs upstream.client_key as well (both or neither)"
                                  : "needs upstream.client_cert as well (both or neither)"));
  }
  if (u.reconnect_min_ms > u.reconnect_max_ms) {
    errors.push_back(o.error(ConfigErrorKind::inconsistent, "upstream.reconnect_min_ms",
                             std::to_string(u.reconnect_min_ms) + " is more than upstream.reconnect_max_ms (" +
                                 std::to_string(u.reconnect_max_ms) + ", " + o.where("upstream.reconnect_max_ms") +
                                 ")"));
  }

  bool any_tls = false;
  for (auto& t : u.targets) {
    if (!u.server_name.empty()) t.server_name = u.server_name;
    any_tls = any_tls || t.tls;
    if (!t.tls) {
      warnings.push_back("upstream.uri " + t.uri +
                         " is plain TCP: signalling to the service is NOT encrypted (troubleshooting only)");
    }
  }
  if (any_tls && !u.verify) {
    warnings.push_back(
        "upstream.verify is off: the service's certificate is NOT checked, so anyone on the path "
        "can impersonate it and read or alter every call (labs only)");
  }
  if (!any_tls) {
    for (const char* k : {"upstream.ca_file", "upstream.client_cert", "upstream.server_name"}) {
      if (o.is_set(k)) warnings.push_back(std::string(k) + " has no effect: no upstream uses TLS");
    }
  }
  const std::uint64_t connections = std::uint64_t{u.connections} * u.targets.size();
  if (cfg.tls.workers > connections) {
    warnings.push_back("tls.workers (" + std::to_string(cfg.tls.workers) + ") is more than the " +
                       std::to_string(connections) +
                       " upstream connections (upstream.connections x upstream.uri): some TLS workers will idle");
  }
}

void check_policy(const Config& cfg, const KeyOrigins& o, std::vector<ConfigError>& errors,
                  std::vector<std::string>& warnings) {
  if (cfg.acl.allow.empty()) {
    warnings.push_back("acl.allow is empty: every switch will be refused; list the switches' addresses");
  }
  for (const Cidr& c : cfg.acl.allow) {
    if (c.prefix_len == 0) {
      warnings.push_back("acl.allow " + c.to_string() + " allows every " +
                         (c.family == Cidr::Family::v4 ? "IPv4" : "IPv6") + " source");
    }
  }
  const auto& numbers = cfg.emergency.numbers;
  if (numbers.size() > dataplane::EmergencyNumbers::kMaxNumbers) {
    errors.push_back(o.error(ConfigErrorKind::out_of_range, "emergency.numbers",
                             std::to_string(numbers.size()) + " numbers, at most " +
                                 std::to_string(dataplane::EmergencyNumbers::kMaxNumbers)));
  }
  if (numbers.empty()) {
    warnings.push_back(
        "emergency.numbers is empty: emergency calls will be relayed to the service like any other call");
  }
}

void check_timers(const Config& cfg, const KeyOrigins& o, std::vector<ConfigError>& errors,
                  std::vector<std::string>& warnings) {
  const sip::TimerConfigError e = sip::check(timer_config(cfg.sip));
  if (e == sip::TimerConfigError::t2_below_t1) {
    errors.push_back(o.error(ConfigErrorKind::inconsistent, "sip.t2_ms",
                             std::to_string(cfg.sip.t2_ms) + " is less than sip.t1_ms (" +
                                 std::to_string(cfg.sip.t1_ms) + ", " + o.where("sip.t1_ms") + ")"));
  } else if (e != sip::TimerConfigError::ok) {
    errors.push_back(o.error(ConfigErrorKind::inconsistent, "sip.t1_ms", std::string(sip::to_string(e))));
  }
  // A switch using the same T1 abandons an INVITE after Timer B = 64*T1
  // (RFC 3261 §17.1.1.2); failing open later than that helps nobody.
  const std::uint64_t timer_b = std::uint64_t{64} * cfg.sip.t1_ms;
  if (cfg.upstream.timeout_ms >= timer_b) {
    warnings.push_back("upstream.timeout_ms (" + std::to_string(cfg.upstream.timeout_ms) +
                       ") is not below Timer B = 64 x sip.t1_ms (" + std::to_string(timer_b) +
                       "): a switch with that T1 gives up before the relay answers 503");
  }
}

void check_dataplane(const Config& cfg, const KeyOrigins& o, std::vector<ConfigError>& errors,
                     std::vector<std::string>& warnings) {
  const auto& d = cfg.dataplane;
  if (d.backend != DataplaneBackend::dpdk) {
    for (const char* k : {"dataplane.eal", "dataplane.port", "dataplane.address", "dataplane.gateway"}) {
      if (o.is_set(k)) warnings.push_back(std::string(k) + " has no effect: dataplane.backend is socket");
    }
    return;
  }
  if (d.eal.empty()) {
    errors.push_back(o.error(ConfigErrorKind::missing_key, "dataplane.eal",
                             "mandatory with dataplane.backend = dpdk: the EAL arguments, e.g. "
                             "-l 0-1 --in-memory -a 0000:03:00.0"));
  }
  if (d.addresses.empty()) {
    errors.push_back(o.error(ConfigErrorKind::missing_key, "dataplane.address",
                             "mandatory with dataplane.backend = dpdk: our IP/prefix on the port, e.g. 198.18.0.1/24"));
  }
  for (const int family : {AF_INET, AF_INET6}) {
    std::size_t seen = 0;
    for (std::size_t i = 0; i < d.gateways.size(); ++i) {
      if (d.gateways[i].family() != family) continue;
      if (++seen == 2) {
        errors.push_back(o.item_error(ConfigErrorKind::inconsistent, "dataplane.gateway", i,
                                      "more than one " + std::string(family == AF_INET ? "IPv4" : "IPv6") +
                                          " gateway: give one per family"));
      }
    }
  }
  // UDP SIP is taken on the port's addresses; a listen.udp address must be
  // one of them or the wildcard of its family.
  for (std::size_t i = 0; i < cfg.listen.udp.size(); ++i) {
    const Endpoint& e = cfg.listen.udp[i];
    if (e.is_wildcard()) continue;
    const bool ours = std::any_of(d.addresses.begin(), d.addresses.end(),
                                  [&](const InterfaceAddress& a) { return same_ip(a.addr, e.addr); });
    if (!ours) {
      errors.push_back(o.item_error(ConfigErrorKind::inconsistent, "listen.udp", i,
                                    e.text + " is not one of dataplane.address: with the dpdk backend UDP SIP "
                                             "is taken on the port's addresses"));
    }
  }
  if (d.exception.empty() && (!cfg.listen.tcp.empty() || !cfg.listen.tls.empty())) {
    warnings.push_back(
        "dataplane.exception is empty: TCP and TLS from switches cannot reach listen.tcp/listen.tls through the "
        "DPDK port (only through other interfaces)");
  }
}

// An Endpoint for `ip` (an address of the port) at `port`.
Endpoint endpoint_at(const sockaddr_storage& ip, std::uint16_t port) {
  Endpoint e;
  e.addr = ip;
  if (ip.ss_family == AF_INET) {
    auto& sin = reinterpret_cast<sockaddr_in&>(e.addr);
    sin.sin_port = htons(port);
    e.len = sizeof(sockaddr_in);
  } else {
    auto& sin6 = reinterpret_cast<sockaddr_in6&>(e.addr);
    sin6.sin6_port = htons(port);
    e.len = sizeof(sockaddr_in6);
  }
  char text[INET6_ADDRSTRLEN] = {};
  const void* raw = ip.ss_family == AF_INET
                        ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in&>(ip).sin_addr)
                        : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6&>(ip).sin6_addr);
  inet_ntop(ip.ss_family, raw, text, sizeof text);
  e.text = ip.ss_family == AF_INET ? std::string(text) + ":" + std::to_string(port)
                                   : "[" + std::string(text) + "]:" + std::to_string(port);
  return e;
}

// Our address toward destinations when inline.advertise is not given: a
// concrete listen.udp address, else (dpdk) an address of the port, of the
// first listen.udp endpoint's family, at that endpoint's port. Empty text
// when there is none.
Endpoint derive_advertise(const Config& cfg) {
  if (cfg.listen.udp.empty()) return {};
  const Endpoint& first = cfg.listen.udp.front();
  if (!first.is_wildcard()) return first;
  if (cfg.dataplane.backend != DataplaneBackend::dpdk) return {};
  for (const InterfaceAddress& a : cfg.dataplane.addresses) {
    if (a.family() == first.family()) return endpoint_at(a.addr, first.port());
  }
  return {};
}

void check_inline(Config& cfg, const KeyOrigins& o, std::vector<ConfigError>& errors,
                  std::vector<std::string>& warnings) {
  auto& in = cfg.in_line;
  // Written order means nothing for a set of codes; sorted, the engine can
  // search it and the summary can print ranges.
  std::sort(in.failover_codes.begin(), in.failover_codes.end());
  in.advertise_set = !in.advertise.text.empty();
  if (cfg.mode != Mode::in_line) {
    for (const KeyInfo& k : config_keys()) {
      if (k.name.starts_with("inline.") && o.is_set(k.name)) {
        warnings.push_back(k.name + " has no effect: mode is relay");
      }
    }
    return;
  }
  if (in.advertise_set && in.advertise.is_wildcard()) {
    errors.push_back(o.error(ConfigErrorKind::bad_value, "inline.advertise",
                             in.advertise.text + " is a wildcard: Via and Record-Route need the concrete address "
                                                 "destinations and in-dialog peers reach the relay at"));
  } else if (!in.advertise_set) {
    // dpdk without dataplane.address is reported by check_dataplane already.
    const bool dpdk_without_address =
        cfg.dataplane.backend == DataplaneBackend::dpdk && cfg.dataplane.addresses.empty();
    in.advertise = derive_advertise(cfg);
    in.advertise_set = !in.advertise.text.empty();
    if (!in.advertise_set && !dpdk_without_address) {
      const std::string why =
          cfg.listen.udp.empty()
              ? "listen.udp is empty"
          : cfg.dataplane.backend == DataplaneBackend::dpdk
              ? "no dataplane.address has the family of listen.udp " + cfg.listen.udp.front().text
              : "listen.udp " + cfg.listen.udp.front().text + " is a wildcard";
      errors.push_back(o.error(ConfigErrorKind::inconsistent, "inline.advertise",
                               "must be set with mode = inline (" + why +
                                   "): Via and Record-Route need a concrete address, e.g. 192.0.2.10:5060"));
    }
  }
  if (in.allow_destinations.empty()) {
    warnings.push_back(
        "inline.allow_destinations is empty: every Contact of every 302 will be skipped, so no call can be "
        "followed");
  }
  // A destination silent for Timer B = 64*T1 has timed out already
  // (RFC 3261 §17.1.1.2), so a longer branch timeout never fires.
  const std::uint64_t timer_b = std::uint64_t{64} * cfg.sip.t1_ms;
  if (in.branch_timeout_ms >= timer_b) {
    warnings.push_back("inline.branch_timeout_ms (" + std::to_string(in.branch_timeout_ms) +
                       ") is not below Timer B = 64 x sip.t1_ms (" + std::to_string(timer_b) +
                       "): the destination's transaction times out first");
  }
}

}  // namespace

ConfigError KeyOrigins::error(ConfigErrorKind kind, std::string_view key, std::string message,
                              std::size_t occurrence) const {
  ConfigError e{kind, std::string(key), 0, false, std::move(message)};
  const auto it = map_.find(key);
  if (it == map_.end()) return e;
  if (it->second.command_line) {
    e.from_command_line = true;
  } else if (!it->second.lines.empty()) {
    e.line = it->second.lines[std::min(occurrence, it->second.lines.size() - 1)];
  }
  return e;
}

ConfigError KeyOrigins::item_error(ConfigErrorKind kind, std::string_view key, std::size_t item,
                                   std::string message) const {
  const auto it = map_.find(key);
  std::size_t occurrence = 0;
  if (it != map_.end() && item < it->second.item_occurrence.size()) {
    occurrence = it->second.item_occurrence[item];
  }
  return error(kind, key, std::move(message), occurrence);
}

void KeyOrigins::set_item_occurrences(std::string_view key, std::vector<std::size_t> occurrences) {
  const auto it = map_.find(key);
  if (it != map_.end()) it->second.item_occurrence = std::move(occurrences);
}

std::string KeyOrigins::where(std::string_view key) const {
  return item_where(key, 0);
}

std::string KeyOrigins::item_where(std::string_view key, std::size_t item) const {
  const ConfigError e = item_error(ConfigErrorKind::inconsistent, key, item, {});
  if (e.from_command_line) return "command line";
  if (e.line > 0) return "line " + std::to_string(e.line);
  return "default";
}

void check_combinations(Config& cfg, const KeyOrigins& origins, std::vector<ConfigError>& errors,
                        std::vector<std::string>& warnings) {
  check_listen(cfg, origins, errors);
  check_upstream(cfg, origins, errors, warnings);
  check_policy(cfg, origins, errors, warnings);
  check_timers(cfg, origins, errors, warnings);
  check_dataplane(cfg, origins, errors, warnings);
  check_inline(cfg, origins, errors, warnings);
}

}  // namespace sigrelay::control
