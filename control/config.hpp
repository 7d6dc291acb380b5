// sigrelay's configuration: typed settings per subsystem, loaded from an INI
// file plus command-line overrides through Boost.Program_options, checked
// key by key and then across keys before anything starts.
//
// Every key, its default and its text form are declared once, in
// control/config_keys.hpp; the loader, --help, the --check-config summary and
// the key list below all come from that one table. docs/configuration.md is
// the operator's reference, conf/sigrelay.conf the annotated example.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/cidr.hpp"
#include "control/sip_endpoint.hpp"
#include "sip/transaction.hpp"

namespace sigrelay::control {

// relay: give the switch the service's answer. in_line: follow the
// service's 302 as a stateful proxy (DESIGN.md §1). Written "inline".
enum class Mode : std::uint8_t { relay, in_line };
enum class DataplaneBackend : std::uint8_t { socket, dpdk };
enum class LogLevel : std::uint8_t { error, warn, info, debug };

std::string_view to_string(Mode m);
std::string_view to_string(DataplaneBackend b);
std::string_view to_string(LogLevel l);

// A default-constructed Config is empty, not the defaults: those live in the
// key table and reach a Config only through load_config().

struct ListenConfig {
  std::vector<Endpoint> udp;
  std::vector<Endpoint> tcp;
  std::vector<Endpoint> tls;  // 0.0.0.0:5061 by default when tls_cert and tls_key are set
  std::string tls_cert;       // PEM paths; empty = not set
  std::string tls_key;
};

struct UpstreamConfig {
  std::vector<UpstreamTarget> targets;  // upstream.uri, failover order, at least one
  std::string ca_file;                  // empty: the system trust store
  std::string client_cert;              // mutual TLS: both or neither
  std::string client_key;
  bool verify = false;
  std::string server_name;              // override for every target; empty = each target's host
  std::uint32_t connections = 0;        // per target
  std::uint32_t timeout_ms = 0;         // answer 503 locally after this long
  std::uint32_t keepalive_s = 0;        // CRLF keepalive interval, 0 = off
  std::uint32_t reconnect_min_ms = 0;   // backoff between connection attempts
  std::uint32_t reconnect_max_ms = 0;
};

struct AclConfig {
  std::vector<Cidr> allow;  // empty: every source is refused
};

struct EmergencyConfig {
  std::vector<std::string> numbers;  // digit strings, e.g. "911"
};

// An address on the DPDK port: the host address with its on-link prefix
// ("198.18.0.1/24"). Gateways use it with a full-length prefix.
struct InterfaceAddress {
  sockaddr_storage addr{};
  std::uint8_t prefix = 0;
  std::string text;  // as written
  int family() const { return addr.ss_family; }
};

struct DataplaneConfig {
  DataplaneBackend backend = DataplaneBackend::socket;
  std::uint32_t workers = 0;
  // dpdk backend only.
  std::string eal;                            // EAL arguments
  std::string port;                           // DPDK port name; empty = the first
  std::vector<InterfaceAddress> addresses;    // ours on the port, IPv4 and/or IPv6
  std::vector<InterfaceAddress> gateways;     // next hop off the subnet, at most one per family
  std::string exception;                      // kernel (tap) interface name; empty = none
  std::uint32_t rx_descriptors = 0;
  std::uint32_t tx_descriptors = 0;
  std::uint32_t mbufs = 0;                    // per sip worker
  std::uint32_t mbuf_size = 0;                // data room of each, bytes
  std::uint32_t mtu = 0;
  std::uint32_t vlan = 0;                     // 802.1Q id; 0 = untagged
  std::uint32_t idle_sleep_us = 0;            // 0 = busy poll
};

struct TlsConfig {
  std::uint32_t workers = 0;
};

struct StatsConfig {
  Endpoint http;
};

struct ControlSocketConfig {
  std::string socket;  // Unix socket path for sigrelayctl
};

struct TraceConfig {
  std::string pcap;            // path prefix of the pcap files; empty = tracing off at start
  std::uint32_t max_mb = 0;    // rotate when a file reaches this many MiB
  std::uint32_t max_files = 0; // keep at most this many files
};

struct LogConfig {
  LogLevel level = LogLevel::info;
};

struct LimitsConfig {
  std::uint32_t max_message_size = 0;  // bytes
  std::uint32_t max_transactions = 0;  // per sip worker
};

struct SipTimersConfig {
  std::uint32_t t1_ms = 0;
  std::uint32_t t2_ms = 0;
  std::uint32_t t4_ms = 0;
};

// mode = inline only (DESIGN.md §1): how the relay follows the service's 302.
// With mode = relay these keys are parsed and checked on their own but
// nothing reads them, and advertise is not derived.
struct InlineConfig {
  std::vector<std::string> copy_headers;       // header names copied from the service's 302 into the INVITE, besides Identity (always copied)
  std::vector<std::uint16_t> failover_codes;   // final codes after which the next Contact is tried; sorted, unique
  std::uint32_t branch_timeout_ms = 0;         // a destination that has sent no response at all within this is abandoned: next Contact
  std::uint32_t ring_timeout_ms = 0;           // after a provisional, no final within this: CANCEL and next Contact; 0 = only Timer C
  std::vector<Cidr> allow_destinations;        // Contacts outside these are skipped and logged
  std::uint32_t max_redirections = 0;          // most destinations tried for one call
  Endpoint advertise;                          // our address in Via and Record-Route toward destinations and in-dialog peers
  bool advertise_set = false;                  // advertise given (or derived); see checks
};

struct Config {
  Mode mode = Mode::relay;
  ListenConfig listen;
  UpstreamConfig upstream;
  AclConfig acl;
  EmergencyConfig emergency;
  InlineConfig in_line;  // "inline" is a keyword; the keys are inline.*
  DataplaneConfig dataplane;
  TlsConfig tls;
  StatsConfig stats;
  ControlSocketConfig control;
  TraceConfig trace;
  LogConfig log;
  LimitsConfig limits;
  SipTimersConfig sip;
};

// T1/T2/T4 from the config; Timer D and C keep their RFC 3261 defaults.
sip::TimerConfig timer_config(const SipTimersConfig& t);

// Stable codes, so callers and tests need not match message text.
enum class ConfigErrorKind : std::uint8_t {
  unreadable_config,  // the config file itself cannot be read
  syntax,             // a line that is neither "[section]" nor "key = value"
  unknown_key,
  repeated_key,       // a single-value key given more than once in one place
  bad_value,          // not a number / CIDR / URI / address / one of the choices
  out_of_range,
  duplicate_item,     // the same item twice in a list key
  unreadable_file,    // a certificate, key or CA file
  missing_key,        // a mandatory key is absent
  inconsistent,       // keys that are valid alone but not together
  bad_argument,       // a command-line word that is not a --key=value override
};

std::string_view to_string(ConfigErrorKind k);

struct ConfigError {
  ConfigErrorKind kind = ConfigErrorKind::bad_value;
  std::string key;  // "upstream.uri"; empty when no single key is at fault
  int line = 0;     // 1-based line in the file; 0 = command line or not tied to a line
  bool from_command_line = false;
  std::string message;
};

struct LoadResult {
  std::optional<Config> config;  // set exactly when `errors` is empty
  std::vector<ConfigError> errors;
  std::vector<std::string> warnings;  // valid but risky settings; print them, loudly
};

// `path`: the INI file ("" = no file, defaults and overrides only).
// `overrides`: command-line words such as "--upstream.timeout_ms=500" or
// "--acl.allow", "192.0.2.0/24". A key given on the command line replaces
// the file's value(s) for that key entirely; for list keys too.
// Every error found is reported, not just the first; cross-key checks run
// only once every key is valid on its own.
LoadResult load_config(const std::string& path, const std::vector<std::string>& overrides);

// "sigrelay.conf:12: upstream.uri: ...", "command line: acl.allow: ...",
// "sigrelay.conf: upstream.uri: ..." (no line).
std::string format_error(const ConfigError& e, const std::string& path);

// The effective configuration as INI text (lists on one line), with a few
// derived facts as comments at the top. It loads back to the same Config.
std::string summarize(const Config& cfg);

struct KeyInfo {
  std::string name;          // "upstream.timeout_ms"
  std::string default_text;  // as it would be written in the file; "" = none
  std::string value_name;    // "N", "ip:port", "CIDR", ...
  bool repeatable = false;   // list key: repeat it, or separate values by ',' or space
  std::string help;
};

// Every key, in the order of the reference config.
std::vector<KeyInfo> config_keys();

}  // namespace sigrelay::control
