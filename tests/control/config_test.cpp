// The configuration loader: defaults, every key's errors with the key and
// line, unknown and repeated keys, command-line overrides, cross-key rules,
// the --check-config summary, the command line, and the reference config
// and docs staying in step with the key table.
//
// Expected defaults and ranges come from the issue ("Relay mode end to end")
// and DESIGN.md, SIP facts from RFC 3261 (5061 for TLS, 5060 otherwise;
// §26.2.2 sips with transport=tcp is TLS over TCP).
#include "control/config.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "control/command_line.hpp"
#include "control/ini_scan.hpp"

#ifndef SIGRELAY_SOURCE_DIR
#error "SIGRELAY_SOURCE_DIR must name the source tree (conf/, docs/)"
#endif

namespace sigrelay::control {
namespace {

// Files under a fresh mkdtemp directory, removed at the end of the test.
class TempFiles {
 public:
  TempFiles() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/sigrelay-cfg-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    dir_ = tmpl;
  }
  ~TempFiles() {
    for (const std::string& f : files_) ::unlink(f.c_str());
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) ::rmdir(it->c_str());
    ::rmdir(dir_.c_str());
  }
  TempFiles(const TempFiles&) = delete;
  TempFiles& operator=(const TempFiles&) = delete;

  std::string write(std::string_view content, const std::string& stem = "file") {
    std::string tmpl = dir_ + "/" + stem + "-XXXXXX";
    const int fd = ::mkstemp(tmpl.data());
    if (fd < 0) {
      ADD_FAILURE() << "mkstemp failed";
      return {};
    }
    const auto n = ::write(fd, content.data(), content.size());
    EXPECT_EQ(n, static_cast<ssize_t>(content.size()));
    ::close(fd);
    files_.push_back(tmpl);
    return tmpl;
  }
  std::string subdir(const std::string& name) {
    const std::string d = dir_ + "/" + name;
    EXPECT_EQ(::mkdir(d.c_str(), 0700), 0);
    dirs_.push_back(d);
    return d;
  }
  std::string missing(const std::string& name) const { return dir_ + "/" + name; }  // never created
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::vector<std::string> files_;
  std::vector<std::string> dirs_;
};

constexpr std::string_view kUpstream = "upstream.uri = sip:sip.example.net\n";
constexpr std::string_view kPem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

std::string dump(const LoadResult& r, const std::string& path = "sigrelay.conf") {
  std::string s;
  for (const ConfigError& e : r.errors) {
    s += "  [" + std::string(to_string(e.kind)) + "] " + format_error(e, path) + "\n";
  }
  for (const std::string& w : r.warnings) s += "  warning: " + w + "\n";
  return s;
}

const ConfigError* find_error(const LoadResult& r, std::string_view key) {
  for (const ConfigError& e : r.errors) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

bool has_warning(const LoadResult& r, std::string_view text) {
  for (const std::string& w : r.warnings) {
    if (w.find(text) != std::string::npos) return true;
  }
  return false;
}

std::string endpoint_texts(const std::vector<Endpoint>& v) {
  std::string s;
  for (const Endpoint& e : v) s += (s.empty() ? "" : " ") + e.text;
  return s;
}

class ConfigTest : public ::testing::Test {
 protected:
  LoadResult load(std::string_view text, const std::vector<std::string>& overrides = {}) {
    path_ = tmp_.write(text, "sigrelay.conf");
    return load_config(path_, overrides);
  }

  // Loads and expects success; returns the config.
  Config load_ok(std::string_view text, const std::vector<std::string>& overrides = {}) {
    const LoadResult r = load(text, overrides);
    EXPECT_TRUE(r.config.has_value()) << dump(r, path_);
    EXPECT_TRUE(r.errors.empty()) << dump(r, path_);
    return r.config.value_or(Config{});
  }

  TempFiles tmp_;
  std::string path_;
};

// ---------------------------------------------------------------- defaults

TEST_F(ConfigTest, EveryDefault) {
  const LoadResult r = load(kUpstream);
  ASSERT_TRUE(r.config) << dump(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.mode, Mode::relay);
  EXPECT_EQ(endpoint_texts(c.listen.udp), "0.0.0.0:5060");
  EXPECT_EQ(endpoint_texts(c.listen.tcp), "0.0.0.0:5060");
  EXPECT_TRUE(c.listen.tls.empty());
  EXPECT_EQ(c.listen.tls_cert, "");
  EXPECT_EQ(c.listen.tls_key, "");
  ASSERT_EQ(c.upstream.targets.size(), 1U);
  EXPECT_EQ(c.upstream.ca_file, "");  // system trust store
  EXPECT_EQ(c.upstream.client_cert, "");
  EXPECT_EQ(c.upstream.client_key, "");
  EXPECT_TRUE(c.upstream.verify);
  EXPECT_EQ(c.upstream.server_name, "");
  EXPECT_EQ(c.upstream.connections, 2U);
  EXPECT_EQ(c.upstream.timeout_ms, 2000U);
  EXPECT_EQ(c.upstream.keepalive_s, 30U);
  EXPECT_EQ(c.upstream.reconnect_min_ms, 100U);
  EXPECT_EQ(c.upstream.reconnect_max_ms, 30000U);
  EXPECT_TRUE(c.acl.allow.empty());
  EXPECT_EQ(c.emergency.numbers, (std::vector<std::string>{"911", "933", "112"}));
  EXPECT_EQ(c.dataplane.backend, DataplaneBackend::socket);
  EXPECT_EQ(c.dataplane.workers, 1U);
  EXPECT_TRUE(c.dataplane.eal.empty());
  EXPECT_TRUE(c.dataplane.addresses.empty());
  EXPECT_EQ(c.dataplane.exception, "sigrelay0");
  EXPECT_EQ(c.dataplane.rx_descriptors, 1024U);
  EXPECT_EQ(c.dataplane.mbufs, 8191U);
  EXPECT_EQ(c.dataplane.mtu, 1500U);
  EXPECT_EQ(c.dataplane.vlan, 0U);
  EXPECT_EQ(c.dataplane.idle_sleep_us, 0U);
  EXPECT_EQ(c.tls.workers, 1U);
  EXPECT_EQ(c.stats.http.text, "127.0.0.1:9090");
  EXPECT_EQ(c.control.socket, "/run/sigrelay/control.sock");
  EXPECT_EQ(c.log.level, LogLevel::info);
  EXPECT_EQ(c.limits.max_message_size, 16384U);
  EXPECT_EQ(c.limits.max_transactions, 65536U);
  EXPECT_EQ(c.sip.t1_ms, 500U);
  EXPECT_EQ(c.sip.t2_ms, 4000U);
  EXPECT_EQ(c.sip.t4_ms, 5000U);
  EXPECT_EQ(c.in_line.copy_headers, (std::vector<std::string>{"P-Asserted-Identity", "P-Attestation-Indicator"}));
  // 408 Request Timeout and every 5xx (RFC 3261 §21.4.9, §21.5): the
  // destination failed, another may not.
  std::vector<std::uint16_t> failover{408};
  for (std::uint16_t code = 500; code <= 599; ++code) failover.push_back(code);
  EXPECT_EQ(c.in_line.failover_codes, failover);
  EXPECT_EQ(c.in_line.branch_timeout_ms, 2000U);
  EXPECT_EQ(c.in_line.ring_timeout_ms, 0U);
  ASSERT_EQ(c.in_line.allow_destinations.size(), 2U);
  EXPECT_EQ(c.in_line.allow_destinations[0].to_string(), "0.0.0.0/0");
  EXPECT_EQ(c.in_line.allow_destinations[1].to_string(), "::/0");
  EXPECT_EQ(c.in_line.max_redirections, 5U);
  EXPECT_EQ(c.in_line.advertise.text, "");  // relay mode: nothing derived
  EXPECT_FALSE(c.in_line.advertise_set);
  // The empty whitelist is legal but refuses everyone: say so.
  EXPECT_TRUE(has_warning(r, "acl.allow")) << dump(r);
}

TEST_F(ConfigTest, DefaultUpstreamTarget) {
  const Config c = load_ok(kUpstream);
  ASSERT_EQ(c.upstream.targets.size(), 1U);
  const UpstreamTarget& t = c.upstream.targets[0];
  EXPECT_EQ(t.uri, "sip:sip.example.net");
  EXPECT_EQ(t.host, "sip.example.net");
  EXPECT_TRUE(t.tls);
  EXPECT_EQ(t.port, 5061);
  EXPECT_EQ(t.server_name, "sip.example.net");
}

TEST_F(ConfigTest, TimerConfigCarriesT1T2T4) {
  const Config c = load_ok(std::string(kUpstream) + "[sip]\nt1_ms = 250\nt2_ms = 2000\nt4_ms = 3000\n");
  const sip::TimerConfig t = timer_config(c.sip);
  EXPECT_EQ(t.t1, sip::Millis{250});
  EXPECT_EQ(t.t2, sip::Millis{2000});
  EXPECT_EQ(t.t4, sip::Millis{3000});
  EXPECT_EQ(sip::check(t), sip::TimerConfigError::ok);
}

TEST(ConfigKeys, TheIssuesKeysAndNoOthers) {
  const std::set<std::string> expected = {
      "mode",
      "listen.udp",
      "listen.tcp",
      "listen.tls",
      "listen.tls_cert",
      "listen.tls_key",
      "upstream.uri",
      "upstream.ca_file",
      "upstream.client_cert",
      "upstream.client_key",
      "upstream.verify",
      "upstream.server_name",
      "upstream.connections",
      "upstream.timeout_ms",
      "upstream.keepalive_s",
      "upstream.reconnect_min_ms",
      "upstream.reconnect_max_ms",
      "acl.allow",
      "emergency.numbers",
      "inline.copy_headers",
      "inline.failover_codes",
      "inline.branch_timeout_ms",
      "inline.ring_timeout_ms",
      "inline.allow_destinations",
      "inline.max_redirections",
      "inline.advertise",
      "dataplane.backend",
      "dataplane.workers",
      "dataplane.eal",
      "dataplane.port",
      "dataplane.address",
      "dataplane.gateway",
      "dataplane.exception",
      "dataplane.rx_descriptors",
      "dataplane.tx_descriptors",
      "dataplane.mbufs",
      "dataplane.mbuf_size",
      "dataplane.mtu",
      "dataplane.vlan",
      "dataplane.idle_sleep_us",
      "tls.workers",
      "stats.http",
      "control.socket",
      "trace.pcap",
      "trace.max_mb",
      "trace.max_files",
      "log.level",
      "limits.max_message_size",
      "limits.max_transactions",
      "sip.t1_ms",
      "sip.t2_ms",
      "sip.t4_ms",
  };
  std::set<std::string> got;
  for (const KeyInfo& k : config_keys()) {
    EXPECT_TRUE(got.insert(k.name).second) << "declared twice: " << k.name;
    EXPECT_FALSE(k.help.empty()) << k.name;
  }
  EXPECT_EQ(got, expected);
}

TEST(ConfigKeys, ListKeysAreTheRepeatableOnes) {
  const std::set<std::string> lists = {
      "listen.udp",          "listen.tcp",            "listen.tls",
      "upstream.uri",        "acl.allow",             "emergency.numbers",
      "inline.copy_headers", "inline.failover_codes", "inline.allow_destinations",
      "dataplane.address",   "dataplane.gateway",
  };
  for (const KeyInfo& k : config_keys()) EXPECT_EQ(k.repeatable, lists.count(k.name) == 1) << k.name;
}

// ------------------------------------------------- every key's bad values

struct BadCase {
  const char* key;
  const char* value;  // @MISSING@, @DIR@, @EMPTY@ and @LONG@ are filled in
  ConfigErrorKind kind;
};

const BadCase kBadCases[] = {
    {"mode", "fast", ConfigErrorKind::bad_value},
    {"mode", "relay inline", ConfigErrorKind::bad_value},
    {"listen.udp", "0.0.0.0", ConfigErrorKind::bad_value},
    {"listen.udp", "0.0.0.0:0", ConfigErrorKind::bad_value},
    {"listen.tcp", "switch.example.net:5060", ConfigErrorKind::bad_value},
    {"listen.tcp", "2001:db8::1:5060", ConfigErrorKind::bad_value},
    {"listen.tls", "[2001:db8::1:5061", ConfigErrorKind::bad_value},
    {"listen.tls", "0.0.0.0:65536", ConfigErrorKind::bad_value},
    {"listen.tls_cert", "relative/cert.pem", ConfigErrorKind::bad_value},
    {"listen.tls_cert", "@MISSING@", ConfigErrorKind::unreadable_file},
    {"listen.tls_cert", "@DIR@", ConfigErrorKind::unreadable_file},
    {"listen.tls_key", "@MISSING@", ConfigErrorKind::unreadable_file},
    {"listen.tls_key", "@EMPTY@", ConfigErrorKind::unreadable_file},
    {"upstream.uri", "sip:user@sip.example.net", ConfigErrorKind::bad_value},
    {"upstream.uri", "sip:sip.example.net;transport=udp", ConfigErrorKind::bad_value},
    {"upstream.uri", "tel:+15551234567", ConfigErrorKind::bad_value},
    {"upstream.uri", "https://sip.example.net", ConfigErrorKind::bad_value},
    {"upstream.uri", "sip:", ConfigErrorKind::bad_value},
    {"upstream.uri", "sip:sip.example.net;maddr=192.0.2.1", ConfigErrorKind::bad_value},
    {"upstream.ca_file", "@DIR@", ConfigErrorKind::unreadable_file},
    {"upstream.ca_file", "@MISSING@", ConfigErrorKind::unreadable_file},
    {"upstream.client_cert", "@MISSING@", ConfigErrorKind::unreadable_file},
    {"upstream.client_key", "@MISSING@", ConfigErrorKind::unreadable_file},
    {"upstream.verify", "maybe", ConfigErrorKind::bad_value},
    {"upstream.verify", "", ConfigErrorKind::bad_value},
    {"upstream.server_name", "192.0.2.1", ConfigErrorKind::bad_value},
    {"upstream.server_name", "sip.example.net:5061", ConfigErrorKind::bad_value},
    {"upstream.connections", "0", ConfigErrorKind::out_of_range},
    {"upstream.connections", "65", ConfigErrorKind::out_of_range},
    {"upstream.connections", "-1", ConfigErrorKind::bad_value},
    {"upstream.timeout_ms", "49", ConfigErrorKind::out_of_range},
    {"upstream.timeout_ms", "30001", ConfigErrorKind::out_of_range},
    {"upstream.timeout_ms", "2s", ConfigErrorKind::bad_value},
    {"upstream.timeout_ms", "", ConfigErrorKind::bad_value},
    {"upstream.timeout_ms", "99999999999999999999999", ConfigErrorKind::out_of_range},
    {"upstream.keepalive_s", "3601", ConfigErrorKind::out_of_range},
    {"upstream.keepalive_s", "1.5", ConfigErrorKind::bad_value},
    {"upstream.reconnect_min_ms", "9", ConfigErrorKind::out_of_range},
    {"upstream.reconnect_max_ms", "600001", ConfigErrorKind::out_of_range},
    {"acl.allow", "198.51.100.7/24", ConfigErrorKind::bad_value},
    {"acl.allow", "10.0.0.0/33", ConfigErrorKind::bad_value},
    {"acl.allow", "switch.example.net", ConfigErrorKind::bad_value},
    {"emergency.numbers", "+911", ConfigErrorKind::bad_value},
    {"emergency.numbers", "9-1-1", ConfigErrorKind::bad_value},
    {"emergency.numbers", "1234567890123456", ConfigErrorKind::out_of_range},
    {"inline.copy_headers", "Identity", ConfigErrorKind::bad_value},
    {"inline.copy_headers", "P-Asserted-Identity:", ConfigErrorKind::bad_value},
    {"inline.copy_headers", "Contact", ConfigErrorKind::bad_value},
    {"inline.failover_codes", "603", ConfigErrorKind::out_of_range},
    {"inline.failover_codes", "200", ConfigErrorKind::out_of_range},
    {"inline.failover_codes", "180", ConfigErrorKind::out_of_range},
    {"inline.failover_codes", "500-699", ConfigErrorKind::out_of_range},
    {"inline.failover_codes", "1000", ConfigErrorKind::out_of_range},
    {"inline.failover_codes", "700", ConfigErrorKind::out_of_range},
    {"inline.failover_codes", "099", ConfigErrorKind::out_of_range},
    {"inline.failover_codes", "599-500", ConfigErrorKind::bad_value},
    {"inline.failover_codes", "5xx", ConfigErrorKind::bad_value},
    {"inline.failover_codes", "500-", ConfigErrorKind::bad_value},
    {"inline.branch_timeout_ms", "99", ConfigErrorKind::out_of_range},
    {"inline.branch_timeout_ms", "60001", ConfigErrorKind::out_of_range},
    {"inline.branch_timeout_ms", "2s", ConfigErrorKind::bad_value},
    {"inline.ring_timeout_ms", "999", ConfigErrorKind::out_of_range},
    {"inline.ring_timeout_ms", "1", ConfigErrorKind::out_of_range},
    {"inline.ring_timeout_ms", "180001", ConfigErrorKind::out_of_range},
    {"inline.ring_timeout_ms", "off", ConfigErrorKind::bad_value},
    {"inline.allow_destinations", "198.51.100.7/24", ConfigErrorKind::bad_value},
    {"inline.allow_destinations", "gw.example.net", ConfigErrorKind::bad_value},
    {"inline.max_redirections", "0", ConfigErrorKind::out_of_range},
    {"inline.max_redirections", "16", ConfigErrorKind::out_of_range},
    {"inline.advertise", "relay.example.net:5060", ConfigErrorKind::bad_value},
    {"inline.advertise", "192.0.2.10", ConfigErrorKind::bad_value},
    {"inline.advertise", "2001:db8::10:5060", ConfigErrorKind::bad_value},
    {"dataplane.backend", "netmap", ConfigErrorKind::bad_value},
    {"dataplane.workers", "0", ConfigErrorKind::out_of_range},
    {"dataplane.workers", "65", ConfigErrorKind::out_of_range},
    {"dataplane.eal", "-l 0-1\x01", ConfigErrorKind::bad_value},
    {"dataplane.port", "net_af_packet0\x01", ConfigErrorKind::bad_value},
    {"dataplane.address", "198.18.0.1", ConfigErrorKind::bad_value},
    {"dataplane.address", "198.18.0.1/33", ConfigErrorKind::out_of_range},
    {"dataplane.address", "2001:db8::1/129", ConfigErrorKind::out_of_range},
    {"dataplane.address", "relay.example.net/24", ConfigErrorKind::bad_value},
    {"dataplane.address", "198.18.0.1/x", ConfigErrorKind::bad_value},
    {"dataplane.gateway", "198.18.0.254/24", ConfigErrorKind::bad_value},
    {"dataplane.gateway", "gw.example.net", ConfigErrorKind::bad_value},
    {"dataplane.exception", "a-name-much-too-long", ConfigErrorKind::out_of_range},
    {"dataplane.exception", "eth0:1", ConfigErrorKind::bad_value},
    {"dataplane.rx_descriptors", "63", ConfigErrorKind::out_of_range},
    {"dataplane.tx_descriptors", "16385", ConfigErrorKind::out_of_range},
    {"dataplane.mbufs", "1000", ConfigErrorKind::out_of_range},
    {"dataplane.mbuf_size", "1024", ConfigErrorKind::out_of_range},
    {"dataplane.mtu", "1279", ConfigErrorKind::out_of_range},
    {"dataplane.mtu", "9001", ConfigErrorKind::out_of_range},
    {"dataplane.vlan", "4095", ConfigErrorKind::out_of_range},
    {"dataplane.idle_sleep_us", "10001", ConfigErrorKind::out_of_range},
    {"tls.workers", "0", ConfigErrorKind::out_of_range},
    {"tls.workers", "65", ConfigErrorKind::out_of_range},
    {"stats.http", "localhost:9090", ConfigErrorKind::bad_value},
    {"stats.http", "127.0.0.1", ConfigErrorKind::bad_value},
    {"control.socket", "control.sock", ConfigErrorKind::bad_value},
    {"control.socket", "@LONG@", ConfigErrorKind::out_of_range},
    {"trace.pcap", "trace/relative", ConfigErrorKind::bad_value},
    {"trace.max_mb", "0", ConfigErrorKind::out_of_range},
    {"trace.max_files", "1001", ConfigErrorKind::out_of_range},
    {"log.level", "trace", ConfigErrorKind::bad_value},
    {"limits.max_message_size", "1023", ConfigErrorKind::out_of_range},
    {"limits.max_message_size", "65536", ConfigErrorKind::out_of_range},
    {"limits.max_transactions", "1023", ConfigErrorKind::out_of_range},
    {"limits.max_transactions", "16777217", ConfigErrorKind::out_of_range},
    {"sip.t1_ms", "99", ConfigErrorKind::out_of_range},
    {"sip.t2_ms", "60001", ConfigErrorKind::out_of_range},
    {"sip.t4_ms", "99", ConfigErrorKind::out_of_range},
};

class BadValueTest : public ConfigTest {
 protected:
  std::string fill(const char* value) {
    const std::string v = value;
    if (v == "@MISSING@") return tmp_.missing("no-such-file.pem");
    if (v == "@DIR@") {
      if (dir_.empty()) dir_ = tmp_.subdir("a-directory");
      return dir_;
    }
    if (v == "@EMPTY@") return tmp_.write("", "empty.pem");
    if (v == "@LONG@") return "/" + std::string(120, 'a');
    return v;
  }

  void expect_error(const LoadResult& r, const BadCase& c, int line, bool command_line) {
    EXPECT_FALSE(r.config.has_value());
    const ConfigError* e = find_error(r, c.key);
    ASSERT_NE(e, nullptr) << c.key << " = " << c.value << "\n" << dump(r, path_);
    EXPECT_EQ(e->kind, c.kind) << c.key << " = " << c.value << "\n" << dump(r, path_);
    EXPECT_EQ(e->line, line) << c.key << " = " << c.value << "\n" << dump(r, path_);
    EXPECT_EQ(e->from_command_line, command_line);
    EXPECT_FALSE(e->message.empty());
    const std::string prefix = command_line ? "command line: " + std::string(c.key) + ": "
                                            : path_ + ":" + std::to_string(line) + ": " + c.key + ": ";
    EXPECT_EQ(format_error(*e, path_).rfind(prefix, 0), 0U) << format_error(*e, path_);
  }

  std::string dir_;
};

TEST_F(BadValueTest, EveryKeyHasBadCases) {
  std::set<std::string> covered;
  for (const BadCase& c : kBadCases) covered.insert(c.key);
  for (const KeyInfo& k : config_keys()) EXPECT_EQ(covered.count(k.name), 1U) << "no bad value tried for " << k.name;
}

TEST_F(BadValueTest, InsideItsSection) {
  for (const BadCase& c : kBadCases) {
    const std::string key = c.key;
    const auto dot = key.find('.');
    std::string text;
    int line = 0;
    if (dot == std::string::npos) {
      text = key + " = " + fill(c.value) + "\n" + std::string(kUpstream);
      line = 1;
    } else {
      // For upstream.uri the good URI of line 1 and the bad one of line 4
      // are two occurrences of one list: the error must name the second.
      text = std::string(kUpstream) + "# a comment\n[" + key.substr(0, dot) + "]\n" + key.substr(dot + 1) +
             " = " + fill(c.value) + "\n";
      line = 4;
    }
    expect_error(load(text), c, line, false);
  }
}

TEST_F(BadValueTest, FullyQualifiedBeforeSections) {
  for (const BadCase& c : kBadCases) {
    const std::string text = std::string(kUpstream) + "\n" + c.key + " = " + fill(c.value) + "\n[limits]\n";
    expect_error(load(text), c, 3, false);
  }
}

TEST_F(BadValueTest, OnTheCommandLine) {
  for (const BadCase& c : kBadCases) {
    const LoadResult r = load(kUpstream, {"--" + std::string(c.key) + "=" + fill(c.value)});
    expect_error(r, c, 0, true);
  }
}

TEST_F(ConfigTest, HostBitsErrorSuggestsBothReadings) {
  const LoadResult r = load(std::string(kUpstream) + "acl.allow = 198.51.100.7/24\n");
  const ConfigError* e = find_error(r, "acl.allow");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_NE(e->message.find("198.51.100.0/24"), std::string::npos) << e->message;
  EXPECT_NE(e->message.find("198.51.100.7/32"), std::string::npos) << e->message;
}

TEST_F(ConfigTest, BadItemInAListNamesItsOwnLine) {
  const LoadResult r = load(std::string(kUpstream) +
                            "[acl]\n"
                            "allow = 192.0.2.0/24\n"
                            "allow = 198.51.100.0/24, 203.0.113.0/33\n"
                            "allow = 2001:db8::/32\n");
  ASSERT_EQ(r.errors.size(), 1U) << dump(r);
  EXPECT_EQ(r.errors[0].key, "acl.allow");
  EXPECT_EQ(r.errors[0].line, 4);
  EXPECT_NE(r.errors[0].message.find("203.0.113.0/33"), std::string::npos);
}

TEST_F(ConfigTest, AllErrorsAtOnceInLineOrder) {
  const LoadResult r = load(std::string(kUpstream) +
                                "[upstream]\n"
                                "timeout_ms = 10\n"     // line 3
                                "connections = many\n"  // line 4
                                "[log]\n"
                                "level = loud\n",  // line 6
                            {"--acl.allow=300.1.1.1"});
  ASSERT_EQ(r.errors.size(), 4U) << dump(r);
  EXPECT_TRUE(r.errors[0].from_command_line);
  EXPECT_EQ(r.errors[0].key, "acl.allow");
  EXPECT_EQ(r.errors[1].line, 3);
  EXPECT_EQ(r.errors[2].line, 4);
  EXPECT_EQ(r.errors[3].line, 6);
}

// ------------------------------------------------------------- unknown keys

TEST_F(ConfigTest, UnknownKeyInASection) {
  const LoadResult r = load(std::string(kUpstream) + "[upstream]\ntimeout = 500\n");
  const ConfigError* e = find_error(r, "upstream.timeout");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::unknown_key);
  EXPECT_EQ(e->line, 3);
  EXPECT_FALSE(r.config.has_value());
}

TEST_F(ConfigTest, UnknownFullyQualifiedKey) {
  const LoadResult r = load(std::string(kUpstream) + "\n\nupstream.timout_ms = 500\n");
  const ConfigError* e = find_error(r, "upstream.timout_ms");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::unknown_key);
  EXPECT_EQ(e->line, 4);
}

TEST_F(ConfigTest, UnknownSection) {
  const LoadResult r = load(std::string(kUpstream) + "[upstreams]\nuri = sip:sip.example.net\n");
  const ConfigError* e = find_error(r, "upstreams.uri");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->line, 3);
  EXPECT_NE(e->message.find("upstream.uri"), std::string::npos) << "hint expected: " << e->message;
}

TEST_F(ConfigTest, QualifiedKeyInsideASectionGetsAHint) {
  const LoadResult r = load(std::string(kUpstream) + "[upstream]\nupstream.timeout_ms = 500\nmode = relay\n");
  const ConfigError* e = find_error(r, "upstream.upstream.timeout_ms");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->line, 3);
  EXPECT_NE(e->message.find("'upstream.timeout_ms'"), std::string::npos) << e->message;
  const ConfigError* m = find_error(r, "upstream.mode");
  ASSERT_NE(m, nullptr) << dump(r);
  EXPECT_EQ(m->line, 4);
  EXPECT_NE(m->message.find("'mode'"), std::string::npos) << m->message;
}

TEST_F(ConfigTest, UnknownKeyOnTheCommandLine) {
  const LoadResult r = load(kUpstream, {"--upstream.timeout=5"});
  const ConfigError* e = find_error(r, "upstream.timeout");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::unknown_key);
  EXPECT_TRUE(e->from_command_line);
}

TEST_F(ConfigTest, KeyPrefixesAreNotGuessed) {
  // Boost would otherwise take "--upstream.time" as upstream.timeout_ms.
  const LoadResult r = load(kUpstream, {"--upstream.time=5"});
  EXPECT_FALSE(r.config.has_value());
  ASSERT_NE(find_error(r, "upstream.time"), nullptr) << dump(r);
}

// ------------------------------------------------------------ file syntax

TEST_F(ConfigTest, SyntaxErrorsNameTheirLines) {
  const LoadResult r = load(std::string(kUpstream) +
                            "[upstream]\n"
                            "timeout_ms 500\n"  // line 3: no '='
                            "[ acl ]\n"         // line 4
                            "= 5\n"             // line 5
                            "[]\n");            // line 6
  ASSERT_EQ(r.errors.size(), 4U) << dump(r);
  for (const ConfigError& e : r.errors) EXPECT_EQ(e.kind, ConfigErrorKind::syntax);
  EXPECT_EQ(r.errors[0].line, 3);
  EXPECT_EQ(r.errors[1].line, 4);
  EXPECT_EQ(r.errors[2].line, 5);
  EXPECT_EQ(r.errors[3].line, 6);
}

TEST_F(ConfigTest, CommentsBlankLinesCrlfAndSpacing) {
  const Config c = load_ok(
      "# sigrelay\r\n"
      "\r\n"
      "   upstream.uri=sip:sip.example.net:5070;transport=tcp   # trailing comment\r\n"
      "[upstream]\r\n"
      "\ttimeout_ms\t=\t750\r\n"
      "[acl]\r\n"
      "allow = 192.0.2.0/24\r\n");
  ASSERT_EQ(c.upstream.targets.size(), 1U);
  EXPECT_EQ(c.upstream.targets[0].port, 5070);
  EXPECT_FALSE(c.upstream.targets[0].tls);
  EXPECT_EQ(c.upstream.timeout_ms, 750U);
  ASSERT_EQ(c.acl.allow.size(), 1U);
}

TEST_F(ConfigTest, SectionWithTrailingDotIsTheSameSection) {
  // Boost adds the '.' only when the section name lacks it; the line map must agree.
  const Config c = load_ok(std::string(kUpstream) + "[upstream.]\ntimeout_ms = 300\n");
  EXPECT_EQ(c.upstream.timeout_ms, 300U);
}

TEST_F(ConfigTest, EmptyFileNeedsAnUpstream) {
  const LoadResult r = load("");
  ASSERT_EQ(r.errors.size(), 1U) << dump(r);
  EXPECT_EQ(r.errors[0].kind, ConfigErrorKind::missing_key);
  EXPECT_EQ(r.errors[0].key, "upstream.uri");
  EXPECT_EQ(r.errors[0].line, 0);
  EXPECT_FALSE(r.errors[0].from_command_line);
  EXPECT_EQ(format_error(r.errors[0], path_).rfind(path_ + ": upstream.uri: ", 0), 0U);
}

TEST_F(ConfigTest, UnreadableConfigFile) {
  const std::string missing = tmp_.missing("nope.conf");
  const LoadResult r = load_config(missing, {});
  ASSERT_EQ(r.errors.size(), 1U) << dump(r);
  EXPECT_EQ(r.errors[0].kind, ConfigErrorKind::unreadable_config);
  EXPECT_FALSE(r.config.has_value());

  const LoadResult d = load_config(tmp_.dir(), {});
  ASSERT_FALSE(d.errors.empty());
  EXPECT_EQ(d.errors[0].kind, ConfigErrorKind::unreadable_config);
}

TEST_F(ConfigTest, NoFileAtAllUsesOverridesAndDefaults) {
  const LoadResult r = load_config("", {"--upstream.uri=sips:sip.example.net"});
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_EQ(r.config->upstream.targets.size(), 1U);
}

// ------------------------------------------------------------ repeated keys

TEST_F(ConfigTest, RepeatedSingleValueKeyIsAnErrorAtTheSecondLine) {
  const LoadResult r = load(std::string(kUpstream) + "[upstream]\ntimeout_ms = 500\n\ntimeout_ms = 600\n");
  const ConfigError* e = find_error(r, "upstream.timeout_ms");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::repeated_key);
  EXPECT_EQ(e->line, 5);
  EXPECT_NE(e->message.find("line 3"), std::string::npos) << e->message;
}

TEST_F(ConfigTest, RepeatedSingleValueKeyWrittenTwoWays) {
  const LoadResult r = load(std::string(kUpstream) + "upstream.timeout_ms = 500\n[upstream]\ntimeout_ms = 600\n");
  const ConfigError* e = find_error(r, "upstream.timeout_ms");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::repeated_key);
  EXPECT_EQ(e->line, 4);
}

TEST_F(ConfigTest, RepeatedListKeysAppendInOrder) {
  const Config c = load_ok(
      "[upstream]\n"
      "uri = sip:primary.example.net;transport=tls\n"
      "uri = sip:secondary.example.net;transport=tls\n"
      "[acl]\n"
      "allow = 192.0.2.0/24, 198.51.100.0/24\n"
      "allow = 2001:db8::/32\n"
      "[emergency]\n"
      "numbers = 911,933\n"
      "numbers = 112  999\n");
  ASSERT_EQ(c.upstream.targets.size(), 2U);
  EXPECT_EQ(c.upstream.targets[0].host, "primary.example.net");  // failover order is file order
  EXPECT_EQ(c.upstream.targets[1].host, "secondary.example.net");
  ASSERT_EQ(c.acl.allow.size(), 3U);
  EXPECT_EQ(c.acl.allow[0].to_string(), "192.0.2.0/24");
  EXPECT_EQ(c.acl.allow[1].to_string(), "198.51.100.0/24");
  EXPECT_EQ(c.acl.allow[2].to_string(), "2001:db8::/32");
  EXPECT_EQ(c.emergency.numbers, (std::vector<std::string>{"911", "933", "112", "999"}));
}

TEST_F(ConfigTest, UpstreamAliasAsInTheServiceDocs) {
  const Config c = load_ok(
      "upstream = sip:sip.clearip.com:5061;transport=tls\n"
      "upstream.uri = sip:backup.example.net;transport=tls\n");
  ASSERT_EQ(c.upstream.targets.size(), 2U);
  EXPECT_EQ(c.upstream.targets[0].host, "sip.clearip.com");
  EXPECT_EQ(c.upstream.targets[1].host, "backup.example.net");
}

TEST_F(ConfigTest, AliasErrorsUseTheCanonicalKeyAndLine) {
  const LoadResult r = load("\nupstream = sip:user@sip.example.net\n");
  const ConfigError* e = find_error(r, "upstream.uri");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->line, 2);
}

TEST_F(ConfigTest, EmptyValueGivesAnEmptyList) {
  const Config c = load_ok(std::string(kUpstream) + "[listen]\ntcp =\n");
  EXPECT_TRUE(c.listen.tcp.empty());
  EXPECT_EQ(endpoint_texts(c.listen.udp), "0.0.0.0:5060");
}

TEST_F(ConfigTest, DuplicateListItemsNameTheSecondLine) {
  const LoadResult r = load(std::string(kUpstream) +
                            "[listen]\n"
                            "udp = 192.0.2.10:5060\n"
                            "udp = 192.0.2.11:5060\n"
                            "udp = 192.0.2.10:5060\n");
  const ConfigError* e = find_error(r, "listen.udp");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::duplicate_item);
  EXPECT_EQ(e->line, 5);
  EXPECT_NE(e->message.find("line 3"), std::string::npos) << e->message;
}

TEST_F(ConfigTest, DuplicateUpstream) {
  const LoadResult r = load(std::string(kUpstream) + "upstream.uri = sip:sip.example.net\n");
  const ConfigError* e = find_error(r, "upstream.uri");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::duplicate_item);
  EXPECT_EQ(e->line, 2);
}

// ---------------------------------------------------------------- overrides

TEST_F(ConfigTest, OverrideBeatsTheFile) {
  const Config c = load_ok(std::string(kUpstream) + "[upstream]\ntimeout_ms = 1000\n", {"--upstream.timeout_ms=500"});
  EXPECT_EQ(c.upstream.timeout_ms, 500U);
}

TEST_F(ConfigTest, OverrideInTwoWords) {
  const Config c = load_ok(kUpstream, {"--upstream.timeout_ms", "500", "--log.level", "debug"});
  EXPECT_EQ(c.upstream.timeout_ms, 500U);
  EXPECT_EQ(c.log.level, LogLevel::debug);
}

TEST_F(ConfigTest, ListOverrideReplacesTheFilesList) {
  const Config c = load_ok(std::string(kUpstream) + "[acl]\nallow = 192.0.2.0/24\nallow = 198.51.100.0/24\n",
                           {"--acl.allow=203.0.113.0/24"});
  ASSERT_EQ(c.acl.allow.size(), 1U);
  EXPECT_EQ(c.acl.allow[0].to_string(), "203.0.113.0/24");
}

TEST_F(ConfigTest, RepeatedListOverridesAppendToEachOther) {
  const Config c = load_ok(std::string(kUpstream) + "[acl]\nallow = 192.0.2.0/24\n",
                           {"--acl.allow=203.0.113.0/24", "--acl.allow=2001:db8::/32"});
  ASSERT_EQ(c.acl.allow.size(), 2U);
  EXPECT_EQ(c.acl.allow[0].to_string(), "203.0.113.0/24");
  EXPECT_EQ(c.acl.allow[1].to_string(), "2001:db8::/32");
}

TEST_F(ConfigTest, OverrideCanEmptyAList) {
  const Config c = load_ok(kUpstream, {"--listen.tcp="});
  EXPECT_TRUE(c.listen.tcp.empty());
}

TEST_F(ConfigTest, OverriddenFileValueIsNotChecked) {
  // The override replaces the key entirely; the file's text never becomes a value.
  const Config c = load_ok(std::string(kUpstream) + "[upstream]\ntimeout_ms = soon\n", {"--upstream.timeout_ms=500"});
  EXPECT_EQ(c.upstream.timeout_ms, 500U);
}

TEST_F(ConfigTest, RepeatedScalarOverrideIsAnError) {
  const LoadResult r = load(kUpstream, {"--upstream.timeout_ms=500", "--upstream.timeout_ms=600"});
  const ConfigError* e = find_error(r, "upstream.timeout_ms");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::repeated_key);
  EXPECT_TRUE(e->from_command_line);
}

TEST_F(ConfigTest, OverrideWithoutDashesIsABadArgument) {
  const LoadResult r = load(kUpstream, {"upstream.timeout_ms=500"});
  ASSERT_EQ(r.errors.size(), 1U) << dump(r);
  EXPECT_EQ(r.errors[0].kind, ConfigErrorKind::bad_argument);
  EXPECT_TRUE(r.errors[0].from_command_line);
}

TEST_F(ConfigTest, OverrideMissingItsValue) {
  const LoadResult r = load(kUpstream, {"--upstream.timeout_ms"});
  ASSERT_EQ(r.errors.size(), 1U) << dump(r);
  EXPECT_EQ(r.errors[0].kind, ConfigErrorKind::bad_argument);
  EXPECT_EQ(r.errors[0].key, "upstream.timeout_ms");
  EXPECT_EQ(format_error(r.errors[0], path_).rfind("command line: upstream.timeout_ms: ", 0), 0U);
}

// ---------------------------------------------------- certificates and keys

TEST_F(ConfigTest, TlsListenerDefaultsTo5061WhenCertAndKeyAreSet) {
  const std::string cert = tmp_.write(kPem, "cert.pem");
  const std::string key = tmp_.write(kPem, "key.pem");
  const Config c = load_ok(std::string(kUpstream) + "[listen]\ntls_cert = " + cert + "\ntls_key = " + key + "\n");
  EXPECT_EQ(endpoint_texts(c.listen.tls), "0.0.0.0:5061");
  EXPECT_EQ(c.listen.tls_cert, cert);
  EXPECT_EQ(c.listen.tls_key, key);
}

TEST_F(ConfigTest, ExplicitTlsListener) {
  const std::string cert = tmp_.write(kPem, "cert.pem");
  const std::string key = tmp_.write(kPem, "key.pem");
  const Config c = load_ok(std::string(kUpstream) + "[listen]\ntls = [2001:db8::10]:5071\ntls_cert = " + cert +
                           "\ntls_key = " + key + "\n");
  EXPECT_EQ(endpoint_texts(c.listen.tls), "[2001:db8::10]:5071");
}

TEST_F(ConfigTest, TlsCertWithoutKey) {
  const std::string cert = tmp_.write(kPem, "cert.pem");
  const LoadResult r = load(std::string(kUpstream) + "[listen]\ntls_cert = " + cert + "\n");
  const ConfigError* e = find_error(r, "listen.tls_cert");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::inconsistent);
  EXPECT_EQ(e->line, 3);
  EXPECT_NE(e->message.find("listen.tls_key"), std::string::npos);
}

TEST_F(ConfigTest, TlsListenerWithoutCertificate) {
  const LoadResult r = load(std::string(kUpstream) + "[listen]\ntls = 0.0.0.0:5061\n");
  const ConfigError* e = find_error(r, "listen.tls");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::inconsistent);
  EXPECT_EQ(e->line, 3);
}

TEST_F(ConfigTest, UnreadableCertificateNamesFileAndReason) {
  const std::string missing = tmp_.missing("relay-cert.pem");
  const std::string key = tmp_.write(kPem, "key.pem");
  const LoadResult r =
      load(std::string(kUpstream) + "[listen]\ntls_cert = " + missing + "\ntls_key = " + key + "\n");
  const ConfigError* e = find_error(r, "listen.tls_cert");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::unreadable_file);
  EXPECT_EQ(e->line, 3);
  EXPECT_NE(e->message.find(missing), std::string::npos) << e->message;
  EXPECT_NE(e->message.find("No such file"), std::string::npos) << e->message;
}

TEST_F(ConfigTest, ClientCertWithoutKey) {
  const std::string cert = tmp_.write(kPem, "client.pem");
  const LoadResult r = load(std::string(kUpstream) + "[upstream]\nclient_cert = " + cert + "\n");
  const ConfigError* e = find_error(r, "upstream.client_cert");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::inconsistent);
  EXPECT_EQ(e->line, 3);
}

TEST_F(ConfigTest, ClientKeyWithoutCert) {
  const std::string key = tmp_.write(kPem, "client.key");
  const LoadResult r = load(std::string(kUpstream) + "[upstream]\n\nclient_key = " + key + "\n");
  const ConfigError* e = find_error(r, "upstream.client_key");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::inconsistent);
  EXPECT_EQ(e->line, 4);
}

TEST_F(ConfigTest, MutualTls) {
  const std::string cert = tmp_.write(kPem, "client.pem");
  const std::string key = tmp_.write(kPem, "client.key");
  const std::string ca = tmp_.write(kPem, "ca.pem");
  const Config c = load_ok(std::string(kUpstream) + "[upstream]\nclient_cert = " + cert + "\nclient_key = " + key +
                           "\nca_file = " + ca + "\n");
  EXPECT_EQ(c.upstream.client_cert, cert);
  EXPECT_EQ(c.upstream.client_key, key);
  EXPECT_EQ(c.upstream.ca_file, ca);
}

// -------------------------------------------------------- cross-key rules

TEST_F(ConfigTest, VerifyOffIsLoud) {
  const LoadResult r = load(std::string(kUpstream) + "[upstream]\nverify = off\n");
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_FALSE(r.config->upstream.verify);
  EXPECT_TRUE(has_warning(r, "upstream.verify")) << dump(r);
}

TEST_F(ConfigTest, BooleanSpellings) {
  for (const char* yes : {"true", "yes", "on", "1", "TRUE", "Yes"}) {
    EXPECT_TRUE(load_ok(std::string(kUpstream) + "upstream.verify = " + yes + "\n").upstream.verify) << yes;
  }
  for (const char* no : {"false", "no", "off", "0", "False"}) {
    EXPECT_FALSE(load_ok(std::string(kUpstream) + "upstream.verify = " + no + "\n").upstream.verify) << no;
  }
}

TEST_F(ConfigTest, ChoicesIgnoreCase) {
  const Config c = load_ok(std::string("mode = Inline\n") + std::string(kUpstream) +
                           "log.level = DEBUG\nlisten.udp = 192.0.2.10:5060\n");
  EXPECT_EQ(c.mode, Mode::in_line);
  EXPECT_EQ(c.log.level, LogLevel::debug);
}

TEST_F(ConfigTest, PlainTcpUpstreamIsLoud) {
  const LoadResult r = load("upstream.uri = sip:sip.example.net;transport=tcp\n");
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_FALSE(r.config->upstream.targets[0].tls);
  EXPECT_EQ(r.config->upstream.targets[0].port, 5060);
  EXPECT_TRUE(has_warning(r, "NOT encrypted")) << dump(r);
}

TEST_F(ConfigTest, TlsSettingsWithoutTlsUpstreamWarn) {
  const std::string ca = tmp_.write(kPem, "ca.pem");
  const LoadResult r = load("upstream.uri = sip:sip.example.net;transport=tcp\nupstream.ca_file = " + ca + "\n");
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_TRUE(has_warning(r, "upstream.ca_file has no effect")) << dump(r);
}

TEST_F(ConfigTest, ServerNameOverridesEveryTarget) {
  const Config c = load_ok(
      "upstream.uri = sip:192.0.2.50;transport=tls\n"
      "upstream.uri = sip:[2001:db8::50]:5071;transport=tls\n"
      "upstream.server_name = sip.example.net\n");
  ASSERT_EQ(c.upstream.targets.size(), 2U);
  EXPECT_EQ(c.upstream.targets[0].host, "192.0.2.50");
  EXPECT_EQ(c.upstream.targets[1].host, "2001:db8::50");
  EXPECT_EQ(c.upstream.targets[1].port, 5071);
  for (const auto& t : c.upstream.targets) EXPECT_EQ(t.server_name, "sip.example.net");
}

TEST_F(ConfigTest, ReconnectMinAboveMax) {
  const LoadResult r = load(std::string(kUpstream) + "[upstream]\nreconnect_min_ms = 5000\nreconnect_max_ms = 1000\n");
  const ConfigError* e = find_error(r, "upstream.reconnect_min_ms");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::inconsistent);
  EXPECT_EQ(e->line, 3);
  EXPECT_NE(e->message.find("line 4"), std::string::npos) << e->message;
}

TEST_F(ConfigTest, T2BelowT1) {
  // RFC 3261 §17.1.2.2: T2 caps intervals that start at T1, so T2 >= T1.
  const LoadResult r = load(std::string(kUpstream) + "[sip]\nt1_ms = 2000\nt2_ms = 1000\n");
  const ConfigError* e = find_error(r, "sip.t2_ms");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::inconsistent);
  EXPECT_EQ(e->line, 4);
}

TEST_F(ConfigTest, FailOpenAfterTimerBWarns) {
  // RFC 3261 §17.1.1.2: Timer B = 64*T1; with T1 = 100 ms that is 6.4 s.
  const LoadResult r = load(std::string(kUpstream) + "[upstream]\ntimeout_ms = 7000\n[sip]\nt1_ms = 100\n");
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_TRUE(has_warning(r, "Timer B")) << dump(r);
}

TEST_F(ConfigTest, NothingToListenOn) {
  const LoadResult r = load(std::string(kUpstream) + "[listen]\nudp =\ntcp =\n");
  const ConfigError* e = find_error(r, "listen.udp");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::inconsistent);
}

TEST_F(ConfigTest, TcpAndTlsOnOnePort) {
  const std::string cert = tmp_.write(kPem, "cert.pem");
  const std::string key = tmp_.write(kPem, "key.pem");
  const LoadResult r = load(std::string(kUpstream) + "[listen]\ntcp = 192.0.2.10:5060\ntls = 0.0.0.0:5060\ntls_cert = " +
                            cert + "\ntls_key = " + key + "\n");
  const ConfigError* e = find_error(r, "listen.tls");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::inconsistent);
  EXPECT_EQ(e->line, 4);
  EXPECT_NE(e->message.find("line 3"), std::string::npos) << e->message;
}

TEST_F(ConfigTest, StatsOnTheSipTcpPort) {
  const LoadResult r = load(std::string(kUpstream) + "[stats]\nhttp = 127.0.0.1:5060\n");
  const ConfigError* e = find_error(r, "stats.http");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->line, 3);
}

TEST_F(ConfigTest, SameTcpPortOnDifferentAddressesIsFine) {
  const std::string cert = tmp_.write(kPem, "cert.pem");
  const std::string key = tmp_.write(kPem, "key.pem");
  load_ok(std::string(kUpstream) + "[listen]\ntcp = 192.0.2.10:5060\ntls = 192.0.2.11:5060\ntls_cert = " + cert +
          "\ntls_key = " + key + "\n");
}

TEST_F(ConfigTest, TooManyEmergencyNumbers) {
  std::string numbers;
  for (int i = 0; i < 33; ++i) numbers += std::to_string(100 + i) + " ";
  const LoadResult r = load(std::string(kUpstream) + "[emergency]\nnumbers = " + numbers + "\n");
  const ConfigError* e = find_error(r, "emergency.numbers");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::out_of_range);
  EXPECT_EQ(e->line, 3);
}

TEST_F(ConfigTest, EmptyEmergencyListWarns) {
  const LoadResult r = load(std::string(kUpstream) + "emergency.numbers =\n");
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_TRUE(r.config->emergency.numbers.empty());
  EXPECT_TRUE(has_warning(r, "emergency.numbers")) << dump(r);
}

TEST_F(ConfigTest, AllowEverybodyWarns) {
  const LoadResult r = load(std::string(kUpstream) + "acl.allow = 0.0.0.0/0\n");
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_TRUE(has_warning(r, "every IPv4 source")) << dump(r);
}

TEST_F(ConfigTest, MoreTlsWorkersThanConnectionsWarns) {
  const LoadResult r = load(std::string(kUpstream) + "tls.workers = 3\n");  // 1 upstream x 2 connections
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_TRUE(has_warning(r, "tls.workers")) << dump(r);
}

TEST_F(ConfigTest, DpdkNeedsEalAndAnAddress) {
  const LoadResult r = load(std::string(kUpstream) + "[dataplane]\nbackend = dpdk\n");
  const ConfigError* eal = find_error(r, "dataplane.eal");
  ASSERT_NE(eal, nullptr) << dump(r);
  EXPECT_EQ(eal->kind, ConfigErrorKind::missing_key);
  const ConfigError* address = find_error(r, "dataplane.address");
  ASSERT_NE(address, nullptr) << dump(r);
  EXPECT_EQ(address->kind, ConfigErrorKind::missing_key);
}

TEST_F(ConfigTest, DpdkOneGatewayPerFamily) {
  const LoadResult r = load(std::string(kUpstream) +
                            "[dataplane]\nbackend = dpdk\neal = -l 0-1\naddress = 198.18.0.1/24\n"
                            "gateway = 198.18.0.254\ngateway = 2001:db8::1\ngateway = 198.18.0.253\n");
  const ConfigError* e = find_error(r, "dataplane.gateway");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::inconsistent);
  EXPECT_EQ(e->line, 8);  // the second IPv4 gateway
}

TEST_F(ConfigTest, DpdkUdpListenMustBeOnThePort) {
  const LoadResult r = load(std::string(kUpstream) +
                            "[listen]\nudp = 198.18.0.1:5060, 198.18.0.9:5060\n"
                            "[dataplane]\nbackend = dpdk\neal = -l 0-1\naddress = 198.18.0.1/24\n");
  const ConfigError* e = find_error(r, "listen.udp");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::inconsistent);
  EXPECT_NE(e->message.find("198.18.0.9:5060"), std::string::npos) << e->message;
  const LoadResult ok = load(std::string(kUpstream) +
                             "[listen]\nudp = 198.18.0.1:5060, 0.0.0.0:5070\n"
                             "[dataplane]\nbackend = dpdk\neal = -l 0-1\naddress = 198.18.0.1/24\n");
  EXPECT_TRUE(ok.config) << dump(ok);
}

TEST_F(ConfigTest, DpdkKeysWithTheSocketBackendWarn) {
  const LoadResult r = load(std::string(kUpstream) + "[dataplane]\neal = -l 0-1\n");
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_TRUE(has_warning(r, "dataplane.eal has no effect")) << dump(r);
}

// ------------------------------------------------------------ in-line mode

constexpr std::string_view kInline = "mode = inline\nupstream.uri = sip:sip.example.net\n";

TEST_F(ConfigTest, FailoverRangesExpandIntoSortedCodes) {
  const Config c = load_ok(std::string(kInline) +
                           "[listen]\nudp = 192.0.2.10:5060\n"
                           "[inline]\n"
                           "failover_codes = 503-504, 408\n"
                           "failover_codes = 486 300 599-599\n");
  EXPECT_EQ(c.in_line.failover_codes, (std::vector<std::uint16_t>{300, 408, 486, 503, 504, 599}));
}

TEST_F(ConfigTest, FailoverRefusesWhatIsNotAFailure) {
  // RFC 3261: 1xx is provisional (§7.2), 2xx is success (§21.2), and after a
  // 6xx a proxy creates no new branches (§16.7 step 5).
  const std::pair<const char*, const char*> cases[] = {
      {"183", "provisional"},     {"200", "answer"},     {"202", "answer"},
      {"600", "16.7"},            {"603", "16.7"},       {"500-600", "16.7"},
      {"200-299", "answer"},      {"100-408", "provisional"},
  };
  for (const auto& [value, why] : cases) {
    const LoadResult r = load(std::string(kInline) + "[inline]\n\nfailover_codes = 408, " + value + "\n");
    const ConfigError* e = find_error(r, "inline.failover_codes");
    ASSERT_NE(e, nullptr) << value << "\n" << dump(r);
    EXPECT_EQ(e->kind, ConfigErrorKind::out_of_range) << value;
    EXPECT_EQ(e->line, 5) << value;
    EXPECT_NE(e->message.find(value), std::string::npos) << e->message;
    EXPECT_NE(e->message.find(why), std::string::npos) << e->message;
  }
}

TEST_F(ConfigTest, FailoverCodeTwiceIsOneDuplicateError) {
  const LoadResult r = load(std::string(kInline) +
                            "[inline]\n"
                            "failover_codes = 500-599\n"
                            "failover_codes = 503, 408\n"
                            "failover_codes = 500-599\n");
  std::vector<int> lines;
  for (const ConfigError& e : r.errors) {
    EXPECT_EQ(e.kind, ConfigErrorKind::duplicate_item) << dump(r);
    EXPECT_EQ(e.key, "inline.failover_codes");
    lines.push_back(e.line);
  }
  // One error per repeating item, not one per code of a repeated range.
  EXPECT_EQ(lines, (std::vector<int>{5, 6})) << dump(r);
  ASSERT_FALSE(r.errors.empty());
  EXPECT_NE(r.errors[0].message.find("'503' is listed twice (also line 4)"), std::string::npos) << dump(r);
}

TEST_F(ConfigTest, IdentityIsAlwaysCopiedSoNotListed) {
  // "y" is Identity's compact form (RFC 8224 §4); header names ignore case.
  for (const char* name : {"Identity", "IDENTITY", "identity", "y"}) {
    const LoadResult r = load(std::string(kInline) + "[inline]\ncopy_headers = P-Asserted-Identity, " + name + "\n");
    const ConfigError* e = find_error(r, "inline.copy_headers");
    ASSERT_NE(e, nullptr) << name << "\n" << dump(r);
    EXPECT_EQ(e->kind, ConfigErrorKind::bad_value);
    EXPECT_EQ(e->line, 4);
    EXPECT_NE(e->message.find("always copied"), std::string::npos) << e->message;
  }
}

TEST_F(ConfigTest, CopyHeadersAreTokensComparedWithoutCase) {
  const Config c = load_ok(std::string(kInline) + "[listen]\nudp = 192.0.2.10:5060\n" +
                           "[inline]\ncopy_headers = P-Asserted-Identity\ncopy_headers = Diversion X-Carrier.Tag~1\n");
  EXPECT_EQ(c.in_line.copy_headers,
            (std::vector<std::string>{"P-Asserted-Identity", "Diversion", "X-Carrier.Tag~1"}));

  const LoadResult r = load(std::string(kInline) +
                            "[inline]\ncopy_headers = P-Asserted-Identity\ncopy_headers = p-asserted-identity\n");
  const ConfigError* e = find_error(r, "inline.copy_headers");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::duplicate_item);
  EXPECT_EQ(e->line, 5);
  // A compact form is the same header as its full name (RFC 3261 §7.3.3).
  const LoadResult compact = load(std::string(kInline) + "[inline]\ncopy_headers = Supported, k\n");
  const ConfigError* ce = find_error(compact, "inline.copy_headers");
  ASSERT_NE(ce, nullptr) << dump(compact);
  EXPECT_EQ(ce->kind, ConfigErrorKind::duplicate_item);
}

TEST_F(ConfigTest, CopyHeadersRefuseTheInvitesOwnHeaders) {
  for (const char* name : {"Via", "v", "Call-ID", "From", "To", "CSeq", "Contact", "m", "Max-Forwards", "Route",
                           "Record-Route", "Content-Length", "Content-Type"}) {
    const LoadResult r = load(std::string(kInline) + "[inline]\ncopy_headers = " + name + "\n");
    const ConfigError* e = find_error(r, "inline.copy_headers");
    ASSERT_NE(e, nullptr) << name << "\n" << dump(r);
    EXPECT_EQ(e->kind, ConfigErrorKind::bad_value) << name;
    EXPECT_EQ(e->line, 4) << name;
  }
}

TEST_F(ConfigTest, CopyNothingButIdentity) {
  const Config c = load_ok(std::string(kInline) + "[listen]\nudp = 192.0.2.10:5060\n[inline]\ncopy_headers =\n");
  EXPECT_TRUE(c.in_line.copy_headers.empty());
}

TEST_F(ConfigTest, InlineNumberRanges) {
  const std::string base = std::string(kInline) + "[listen]\nudp = 192.0.2.10:5060\n[inline]\n";
  Config c = load_ok(base + "branch_timeout_ms = 100\nring_timeout_ms = 1000\nmax_redirections = 1\n");
  EXPECT_EQ(c.in_line.branch_timeout_ms, 100U);
  EXPECT_EQ(c.in_line.ring_timeout_ms, 1000U);
  EXPECT_EQ(c.in_line.max_redirections, 1U);
  c = load_ok(base + "branch_timeout_ms = 30000\nring_timeout_ms = 180000\nmax_redirections = 15\n");
  EXPECT_EQ(c.in_line.branch_timeout_ms, 30000U);
  EXPECT_EQ(c.in_line.ring_timeout_ms, 180000U);
  EXPECT_EQ(c.in_line.max_redirections, 15U);
  c = load_ok(base + "ring_timeout_ms = 0\n");
  EXPECT_EQ(c.in_line.ring_timeout_ms, 0U);

  // Between off and the smallest timeout: the message shows both readings.
  const LoadResult r = load(base + "ring_timeout_ms = 500\n");
  const ConfigError* e = find_error(r, "inline.ring_timeout_ms");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::out_of_range);
  EXPECT_EQ(e->line, 6);
  EXPECT_NE(e->message.find("0 (off) or 1000..180000"), std::string::npos) << e->message;
}

TEST_F(ConfigTest, BranchTimeoutBeyondTimerBWarns) {
  // Timer B = 64*T1 = 32 s with T1 = 500 ms (RFC 3261 §17.1.1.2).
  const LoadResult r = load(std::string(kInline) + "[listen]\nudp = 192.0.2.10:5060\n[inline]\nbranch_timeout_ms = 32000\n");
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_TRUE(has_warning(r, "inline.branch_timeout_ms")) << dump(r);
}

TEST_F(ConfigTest, AdvertiseDerivedFromAConcreteUdpListener) {
  const LoadResult r = load(std::string(kInline) + "acl.allow = 192.0.2.0/24\n" +
                            "[listen]\nudp = 192.0.2.10:5070, [2001:db8::10]:5060\n");
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_TRUE(r.warnings.empty()) << dump(r);
  EXPECT_TRUE(r.config->in_line.advertise_set);
  EXPECT_EQ(r.config->in_line.advertise.text, "192.0.2.10:5070");
  EXPECT_EQ(r.config->in_line.advertise.port(), 5070);
  EXPECT_FALSE(r.config->in_line.advertise.is_wildcard());
}

TEST_F(ConfigTest, AdvertiseCannotComeFromAWildcardListener) {
  // listen.udp defaults to 0.0.0.0:5060: no address to put in Via.
  const LoadResult r = load(kInline);
  EXPECT_FALSE(r.config.has_value());
  const ConfigError* e = find_error(r, "inline.advertise");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::inconsistent);
  EXPECT_EQ(e->line, 0);  // nobody wrote it
  EXPECT_NE(e->message.find("must be set"), std::string::npos) << e->message;
  EXPECT_NE(e->message.find("Via"), std::string::npos) << e->message;
  EXPECT_NE(e->message.find("0.0.0.0:5060"), std::string::npos) << e->message;

  const LoadResult no_udp = load(std::string(kInline) + "listen.udp =\n");
  const ConfigError* ne = find_error(no_udp, "inline.advertise");
  ASSERT_NE(ne, nullptr) << dump(no_udp);
  EXPECT_EQ(ne->kind, ConfigErrorKind::inconsistent);
}

TEST_F(ConfigTest, AdvertiseGivenWinsOverTheListener) {
  const Config c = load_ok(std::string(kInline) + "[inline]\nadvertise = [2001:db8::20]:5080\n");
  EXPECT_TRUE(c.in_line.advertise_set);
  EXPECT_EQ(c.in_line.advertise.text, "[2001:db8::20]:5080");
  EXPECT_EQ(c.in_line.advertise.family(), AF_INET6);
}

TEST_F(ConfigTest, AdvertiseMustNotBeAWildcard) {
  for (const char* value : {"0.0.0.0:5060", "[::]:5060"}) {
    const LoadResult r = load(std::string(kInline) + "[inline]\nadvertise = " + value + "\n");
    const ConfigError* e = find_error(r, "inline.advertise");
    ASSERT_NE(e, nullptr) << value << "\n" << dump(r);
    EXPECT_EQ(e->kind, ConfigErrorKind::bad_value);
    EXPECT_EQ(e->line, 4);
    EXPECT_EQ(format_error(*e, path_).rfind(path_ + ":4: inline.advertise: ", 0), 0U);
  }
}

TEST_F(ConfigTest, AdvertiseDerivedFromTheDpdkPort) {
  const std::string dpdk = "[dataplane]\nbackend = dpdk\neal = -l 0-1\naddress = 198.18.0.1/24, 2001:db8::1/64\n";
  // A wildcard listener: the port's first address of its family, its port.
  Config c = load_ok(std::string(kInline) + "listen.udp = 0.0.0.0:5070\n" + dpdk);
  EXPECT_TRUE(c.in_line.advertise_set);
  EXPECT_EQ(c.in_line.advertise.text, "198.18.0.1:5070");
  c = load_ok(std::string(kInline) + "listen.udp = [::]:5060\n" + dpdk);
  EXPECT_EQ(c.in_line.advertise.text, "[2001:db8::1]:5060");
  // A concrete listener is where responses come back to: that one.
  c = load_ok(std::string(kInline) + "listen.udp = 198.18.0.2:5060\n" +
              "[dataplane]\nbackend = dpdk\neal = -l 0-1\naddress = 198.18.0.1/24, 198.18.0.2/24\n");
  EXPECT_EQ(c.in_line.advertise.text, "198.18.0.2:5060");
  // No address of the listener's family on the port.
  const LoadResult r = load(std::string(kInline) + "listen.udp = [::]:5060\n" +
                            "[dataplane]\nbackend = dpdk\neal = -l 0-1\naddress = 198.18.0.1/24\n");
  const ConfigError* e = find_error(r, "inline.advertise");
  ASSERT_NE(e, nullptr) << dump(r);
  EXPECT_EQ(e->kind, ConfigErrorKind::inconsistent);
}

TEST_F(ConfigTest, DpdkWithoutAddressIsOneErrorNotTwo) {
  const LoadResult r = load(std::string(kInline) + "[dataplane]\nbackend = dpdk\neal = -l 0-1\n");
  EXPECT_NE(find_error(r, "dataplane.address"), nullptr) << dump(r);
  EXPECT_EQ(find_error(r, "inline.advertise"), nullptr) << dump(r);
}

TEST_F(ConfigTest, RelayModeIgnoresTheInlineKeys) {
  // Values that would be errors or warnings in in-line mode: a wildcard
  // listener with nothing to derive from, no destination allowed.
  const LoadResult r = load(std::string(kUpstream) +
                            "[inline]\n"
                            "allow_destinations =\n"
                            "advertise = 0.0.0.0:5060\n"
                            "ring_timeout_ms = 60000\n");
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_EQ(r.config->mode, Mode::relay);
  EXPECT_EQ(r.config->in_line.ring_timeout_ms, 60000U);
  EXPECT_TRUE(has_warning(r, "inline.ring_timeout_ms has no effect: mode is relay")) << dump(r);
  EXPECT_TRUE(has_warning(r, "inline.advertise has no effect")) << dump(r);
  EXPECT_FALSE(has_warning(r, "every Contact")) << dump(r);
  // Nothing derived from a concrete listener either.
  const Config c = load_ok(std::string(kUpstream) + "listen.udp = 192.0.2.10:5060\n");
  EXPECT_FALSE(c.in_line.advertise_set);
  EXPECT_EQ(c.in_line.advertise.text, "");
}

TEST_F(ConfigTest, InlineWithNoDestinationAllowedWarns) {
  const LoadResult r = load(std::string(kInline) + "[listen]\nudp = 192.0.2.10:5060\n[inline]\nallow_destinations =\n");
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_TRUE(has_warning(r, "inline.allow_destinations is empty")) << dump(r);
}

TEST_F(ConfigTest, InlineSummaryLoadsBackWithTheDerivedAddress) {
  const LoadResult first = load(std::string(kInline) + "[listen]\nudp = 192.0.2.10:5060\n[inline]\n" +
                                "failover_codes = 486, 408, 500-503\nring_timeout_ms = 45000\n");
  ASSERT_TRUE(first.config) << dump(first);
  const std::string summary = summarize(*first.config);
  EXPECT_NE(summary.find("[inline]\n"), std::string::npos) << summary;
  EXPECT_NE(summary.find("failover_codes = 408 486 500-503\n"), std::string::npos) << summary;
  EXPECT_NE(summary.find("advertise = 192.0.2.10:5060\n"), std::string::npos) << summary;
  EXPECT_NE(summary.find("copy_headers = P-Asserted-Identity P-Attestation-Indicator\n"), std::string::npos)
      << summary;
  const LoadResult second = load(summary);
  ASSERT_TRUE(second.config) << dump(second) << summary;
  EXPECT_EQ(second.config->in_line.failover_codes, first.config->in_line.failover_codes);
  EXPECT_EQ(summarize(*second.config), summary);
}

TEST_F(ConfigTest, RelaySummaryLeavesTheInlineKeysOut) {
  const LoadResult r = load(kUpstream);
  ASSERT_TRUE(r.config);
  const std::string summary = summarize(*r.config);
  EXPECT_EQ(summary.find("[inline]"), std::string::npos) << summary;
  EXPECT_NE(summary.find("# inline settings left out: mode is relay"), std::string::npos) << summary;
}

// ------------------------------------------------------ realistic round trip

class RealisticConfig : public ConfigTest {
 protected:
  std::string text() {
    cert_ = tmp_.write(kPem, "relay.pem");
    key_ = tmp_.write(kPem, "relay.key");
    ca_ = tmp_.write(kPem, "ca.pem");
    client_cert_ = tmp_.write(kPem, "client.pem");
    client_key_ = tmp_.write(kPem, "client.key");
    return "# carrier A, site 1\n"
           "mode = inline\n"
           "[listen]\n"
           "udp = 192.0.2.10:5060\n"
           "udp = [2001:db8::10]:5060\n"
           "tcp = 192.0.2.10:5060\n"
           "tls = 192.0.2.10:5061\n"
           "tls_cert = " + cert_ + "\n"
           "tls_key = " + key_ + "\n"
           "[upstream]\n"
           "uri = sip:sip.clearip.com:5061;transport=tls\n"
           "uri = sips:backup.example.net;transport=tcp\n"
           "ca_file = " + ca_ + "\n"
           "client_cert = " + client_cert_ + "\n"
           "client_key = " + client_key_ + "\n"
           "verify = true\n"
           "server_name = sip.example.net\n"
           "connections = 4\n"
           "timeout_ms = 1500\n"
           "keepalive_s = 20\n"
           "reconnect_min_ms = 200\n"
           "reconnect_max_ms = 20000\n"
           "[acl]\n"
           "allow = 192.0.2.0/24, 198.51.100.0/25\n"
           "allow = 2001:db8:5::/48\n"
           "[emergency]\n"
           "numbers = 911, 933\n"
           "numbers = 112\n"
           "[inline]\n"
           "copy_headers = P-Asserted-Identity\n"
           "copy_headers = P-Attestation-Indicator, Diversion\n"
           "failover_codes = 408, 480\n"
           "failover_codes = 500-503\n"
           "branch_timeout_ms = 1500\n"
           "ring_timeout_ms = 30000\n"
           "allow_destinations = 198.51.100.0/24, 2001:db8:7::/48\n"
           "max_redirections = 3\n"
           "[dataplane]\n"
           "backend = dpdk\n"
           "workers = 4\n"
           "eal = -l 0-4 --in-memory -a 0000:03:00.0\n"
           "port = 0000:03:00.0\n"
           "address = 192.0.2.10/24\n"
           "address = 2001:db8::10/64\n"
           "gateway = 192.0.2.1, 2001:db8::1\n"
           "exception = sr0\n"
           "rx_descriptors = 2048\n"
           "tx_descriptors = 2048\n"
           "mbufs = 16383\n"
           "mbuf_size = 4096\n"
           "mtu = 9000\n"
           "vlan = 120\n"
           "idle_sleep_us = 0\n"
           "[tls]\n"
           "workers = 2\n"
           "[stats]\n"
           "http = 127.0.0.1:9191\n"
           "[control]\n"
           "socket = /run/sigrelay/ctl.sock\n"
           "[log]\n"
           "level = debug\n"
           "[limits]\n"
           "max_message_size = 8192\n"
           "max_transactions = 131072\n"
           "[sip]\n"
           "t1_ms = 250\n"
           "t2_ms = 4000\n"
           "t4_ms = 5000\n";
  }
  std::string cert_, key_, ca_, client_cert_, client_key_;
};

TEST_F(RealisticConfig, LoadsEveryValueWithoutWarnings) {
  const LoadResult r = load(text());
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_TRUE(r.warnings.empty()) << dump(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.mode, Mode::in_line);
  EXPECT_EQ(endpoint_texts(c.listen.udp), "192.0.2.10:5060 [2001:db8::10]:5060");
  EXPECT_EQ(c.listen.udp[1].family(), AF_INET6);
  EXPECT_EQ(c.listen.udp[1].port(), 5060);
  EXPECT_EQ(endpoint_texts(c.listen.tcp), "192.0.2.10:5060");
  EXPECT_EQ(endpoint_texts(c.listen.tls), "192.0.2.10:5061");
  EXPECT_EQ(c.listen.tls_cert, cert_);
  EXPECT_EQ(c.listen.tls_key, key_);
  ASSERT_EQ(c.upstream.targets.size(), 2U);
  EXPECT_EQ(c.upstream.targets[0].host, "sip.clearip.com");
  EXPECT_EQ(c.upstream.targets[0].port, 5061);
  EXPECT_TRUE(c.upstream.targets[0].tls);
  EXPECT_EQ(c.upstream.targets[1].host, "backup.example.net");
  EXPECT_EQ(c.upstream.targets[1].port, 5061);
  EXPECT_TRUE(c.upstream.targets[1].tls);  // RFC 3261 §26.2.2
  for (const auto& t : c.upstream.targets) EXPECT_EQ(t.server_name, "sip.example.net");
  EXPECT_EQ(c.upstream.ca_file, ca_);
  EXPECT_EQ(c.upstream.client_cert, client_cert_);
  EXPECT_EQ(c.upstream.client_key, client_key_);
  EXPECT_TRUE(c.upstream.verify);
  EXPECT_EQ(c.upstream.connections, 4U);
  EXPECT_EQ(c.upstream.timeout_ms, 1500U);
  EXPECT_EQ(c.upstream.keepalive_s, 20U);
  EXPECT_EQ(c.upstream.reconnect_min_ms, 200U);
  EXPECT_EQ(c.upstream.reconnect_max_ms, 20000U);
  ASSERT_EQ(c.acl.allow.size(), 3U);
  EXPECT_EQ(c.acl.allow[2].to_string(), "2001:db8:5::/48");
  EXPECT_EQ(c.emergency.numbers, (std::vector<std::string>{"911", "933", "112"}));
  EXPECT_EQ(c.dataplane.backend, DataplaneBackend::dpdk);
  EXPECT_EQ(c.dataplane.workers, 4U);
  EXPECT_EQ(c.dataplane.eal, "-l 0-4 --in-memory -a 0000:03:00.0");
  EXPECT_EQ(c.dataplane.port, "0000:03:00.0");
  ASSERT_EQ(c.dataplane.addresses.size(), 2U);
  EXPECT_EQ(c.dataplane.addresses[0].family(), AF_INET);
  EXPECT_EQ(c.dataplane.addresses[0].prefix, 24U);
  EXPECT_EQ(c.dataplane.addresses[1].family(), AF_INET6);
  EXPECT_EQ(c.dataplane.addresses[1].prefix, 64U);
  ASSERT_EQ(c.dataplane.gateways.size(), 2U);
  EXPECT_EQ(c.dataplane.gateways[1].text, "2001:db8::1");
  EXPECT_EQ(c.dataplane.exception, "sr0");
  EXPECT_EQ(c.dataplane.tx_descriptors, 2048U);
  EXPECT_EQ(c.dataplane.mbufs, 16383U);
  EXPECT_EQ(c.dataplane.mbuf_size, 4096U);
  EXPECT_EQ(c.dataplane.mtu, 9000U);
  EXPECT_EQ(c.dataplane.vlan, 120U);
  EXPECT_EQ(c.tls.workers, 2U);
  EXPECT_EQ(c.stats.http.text, "127.0.0.1:9191");
  EXPECT_EQ(c.control.socket, "/run/sigrelay/ctl.sock");
  EXPECT_EQ(c.log.level, LogLevel::debug);
  EXPECT_EQ(c.limits.max_message_size, 8192U);
  EXPECT_EQ(c.limits.max_transactions, 131072U);
  EXPECT_EQ(c.sip.t1_ms, 250U);
  EXPECT_EQ(c.in_line.copy_headers,
            (std::vector<std::string>{"P-Asserted-Identity", "P-Attestation-Indicator", "Diversion"}));
  EXPECT_EQ(c.in_line.failover_codes, (std::vector<std::uint16_t>{408, 480, 500, 501, 502, 503}));
  EXPECT_EQ(c.in_line.branch_timeout_ms, 1500U);
  EXPECT_EQ(c.in_line.ring_timeout_ms, 30000U);
  ASSERT_EQ(c.in_line.allow_destinations.size(), 2U);
  EXPECT_EQ(c.in_line.allow_destinations[1].to_string(), "2001:db8:7::/48");
  EXPECT_EQ(c.in_line.max_redirections, 3U);
  // Not given: the concrete listen.udp address (also dataplane.address).
  EXPECT_TRUE(c.in_line.advertise_set);
  EXPECT_EQ(c.in_line.advertise.text, "192.0.2.10:5060");
  // The whitelist built from it, as a worker would use it.
  const AddressAcl acl(c.acl.allow);
  sockaddr_storage ss{};
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  inet_pton(AF_INET, "198.51.100.126", &sin.sin_addr);
  std::memcpy(&ss, &sin, sizeof sin);
  EXPECT_TRUE(acl.allows(ss));
  inet_pton(AF_INET, "198.51.100.128", &sin.sin_addr);
  std::memcpy(&ss, &sin, sizeof sin);
  EXPECT_FALSE(acl.allows(ss));
}

TEST_F(RealisticConfig, SummaryLoadsBackToTheSameConfig) {
  const LoadResult first = load(text());
  ASSERT_TRUE(first.config) << dump(first);
  const std::string summary = summarize(*first.config);
  EXPECT_NE(summary.find("timeout_ms = 1500"), std::string::npos) << summary;
  EXPECT_NE(summary.find("allow = 192.0.2.0/24 198.51.100.0/25 2001:db8:5::/48"), std::string::npos) << summary;
  EXPECT_NE(summary.find("# upstream 2: TLS to backup.example.net port 5061"), std::string::npos) << summary;
  EXPECT_NE(summary.find("[inline]\ncopy_headers = P-Asserted-Identity P-Attestation-Indicator Diversion\n"
                         "failover_codes = 408 480 500-503\n"
                         "branch_timeout_ms = 1500\n"
                         "ring_timeout_ms = 30000\n"
                         "allow_destinations = 198.51.100.0/24 2001:db8:7::/48\n"
                         "max_redirections = 3\n"
                         "advertise = 192.0.2.10:5060\n"),
            std::string::npos)
      << summary;
  const LoadResult second = load(summary);
  ASSERT_TRUE(second.config) << dump(second) << summary;
  EXPECT_EQ(summarize(*second.config), summary);
}

TEST_F(ConfigTest, DefaultSummaryLoadsBackAndFitsOnAScreen) {
  const LoadResult first = load(kUpstream);
  ASSERT_TRUE(first.config);
  const std::string summary = summarize(*first.config);
  EXPECT_LE(std::count(summary.begin(), summary.end(), '\n'), 50) << summary;
  EXPECT_NE(summary.find("every source refused"), std::string::npos) << summary;
  const LoadResult second = load(summary);
  ASSERT_TRUE(second.config) << dump(second) << summary;
  EXPECT_EQ(summarize(*second.config), summary);
}

// ------------------------------------------------------------- format_error

TEST(FormatError, Shapes) {
  EXPECT_EQ(format_error({ConfigErrorKind::bad_value, "upstream.uri", 12, false, "bad"}, "sigrelay.conf"),
            "sigrelay.conf:12: upstream.uri: bad");
  EXPECT_EQ(format_error({ConfigErrorKind::bad_value, "acl.allow", 0, true, "bad"}, "sigrelay.conf"),
            "command line: acl.allow: bad");
  EXPECT_EQ(format_error({ConfigErrorKind::missing_key, "upstream.uri", 0, false, "missing"}, "/etc/s.conf"),
            "/etc/s.conf: upstream.uri: missing");
  EXPECT_EQ(format_error({ConfigErrorKind::syntax, "", 3, false, "junk"}, "s.conf"), "s.conf:3: junk");
}

TEST(FormatError, EveryKindHasAName) {
  std::set<std::string_view> names;
  for (int k = 0; k <= static_cast<int>(ConfigErrorKind::bad_argument); ++k) {
    names.insert(to_string(static_cast<ConfigErrorKind>(k)));
  }
  EXPECT_EQ(names.size(), static_cast<std::size_t>(ConfigErrorKind::bad_argument) + 1);
  EXPECT_EQ(names.count("unknown"), 0U);
}

// --------------------------------------------------- upstream URIs, endpoints

struct UriCase {
  const char* uri;
  const char* host;
  std::uint16_t port;
  bool tls;
};

TEST(UpstreamUri, TransportsAndDefaultPorts) {
  const UriCase cases[] = {
      {"sip:sip.clearip.com:5061;transport=tls", "sip.clearip.com", 5061, true},
      {"sip:sip.example.net;transport=tls", "sip.example.net", 5061, true},
      {"sip:sip.example.net;transport=tcp", "sip.example.net", 5060, false},
      {"sip:sip.example.net:5080;transport=tcp", "sip.example.net", 5080, false},
      {"sip:sip.example.net", "sip.example.net", 5061, true},
      {"sips:sip.example.net", "sip.example.net", 5061, true},
      {"sips:sip.example.net;transport=tcp", "sip.example.net", 5061, true},
      {"SIP:SIP.EXAMPLE.NET;TRANSPORT=TCP", "SIP.EXAMPLE.NET", 5060, false},
      {"sip:192.0.2.7;transport=tcp", "192.0.2.7", 5060, false},
      {"sip:[2001:db8::7]:5071;transport=tls", "2001:db8::7", 5071, true},
  };
  for (const UriCase& c : cases) {
    UpstreamTarget t;
    ASSERT_EQ(parse_upstream_uri(c.uri, t), UpstreamUriError::ok) << c.uri;
    EXPECT_EQ(t.uri, c.uri);
    EXPECT_EQ(t.host, c.host) << c.uri;
    EXPECT_EQ(t.port, c.port) << c.uri;
    EXPECT_EQ(t.tls, c.tls) << c.uri;
    EXPECT_EQ(t.server_name, c.host) << c.uri;
  }
}

TEST(UpstreamUri, Rejections) {
  const std::pair<const char*, UpstreamUriError> cases[] = {
      {"tel:+15551234567", UpstreamUriError::scheme},
      {"https://sip.example.net", UpstreamUriError::scheme},
      {"sip:relay@sip.example.net", UpstreamUriError::user_part},
      {"sip:sip.example.net;transport=udp", UpstreamUriError::bad_transport},
      {"sip:sip.example.net;transport=sctp", UpstreamUriError::bad_transport},
      {"sips:sip.example.net;transport=udp", UpstreamUriError::bad_transport},
      {"sip:sip.example.net;lr", UpstreamUriError::bad_parameter},
      {"sip:sip.example.net;transprot=tcp", UpstreamUriError::bad_parameter},
      {"sip:sip.example.net;transport=tcp;transport=tls", UpstreamUriError::bad_parameter},
      {"sip:sip.example.net?subject=x", UpstreamUriError::bad_parameter},
  };
  for (const auto& [uri, want] : cases) {
    UpstreamTarget t;
    EXPECT_EQ(parse_upstream_uri(uri, t), want) << uri;
  }
  UpstreamTarget t;
  EXPECT_NE(parse_upstream_uri("sip:", t), UpstreamUriError::ok);
  EXPECT_NE(parse_upstream_uri("sip:sip.example.net;transport=", t), UpstreamUriError::ok);
  EXPECT_NE(parse_upstream_uri("", t), UpstreamUriError::ok);
  EXPECT_NE(parse_upstream_uri("sip:sip.example.net:0", t), UpstreamUriError::ok);
  EXPECT_NE(parse_upstream_uri("sip:sip.example.net:70000", t), UpstreamUriError::ok);
}

TEST(Endpoint, Ipv4AndIpv6) {
  Endpoint e;
  ASSERT_EQ(parse_endpoint("192.0.2.1:5060", e), EndpointError::ok);
  EXPECT_EQ(e.family(), AF_INET);
  EXPECT_EQ(e.len, sizeof(sockaddr_in));
  EXPECT_EQ(e.port(), 5060);
  EXPECT_EQ(e.text, "192.0.2.1:5060");
  EXPECT_FALSE(e.is_wildcard());
  sockaddr_in sin{};
  std::memcpy(&sin, &e.addr, sizeof sin);
  EXPECT_EQ(ntohs(sin.sin_port), 5060);
  EXPECT_EQ(ntohl(sin.sin_addr.s_addr), 0xC0000201U);

  ASSERT_EQ(parse_endpoint("[2001:DB8:0::1]:65535", e), EndpointError::ok);
  EXPECT_EQ(e.family(), AF_INET6);
  EXPECT_EQ(e.len, sizeof(sockaddr_in6));
  EXPECT_EQ(e.port(), 65535);
  EXPECT_EQ(e.text, "[2001:db8::1]:65535");

  ASSERT_EQ(parse_endpoint("0.0.0.0:1", e), EndpointError::ok);
  EXPECT_TRUE(e.is_wildcard());
  ASSERT_EQ(parse_endpoint("[::]:5060", e), EndpointError::ok);
  EXPECT_TRUE(e.is_wildcard());
}

TEST(Endpoint, Rejections) {
  const std::pair<const char*, EndpointError> cases[] = {
      {"", EndpointError::empty},
      {"192.0.2.1", EndpointError::missing_port},
      {"192.0.2.1:", EndpointError::missing_port},
      {"192.0.2.1:0", EndpointError::bad_port},
      {"192.0.2.1:65536", EndpointError::bad_port},
      {"192.0.2.1:50a", EndpointError::bad_port},
      {"192.0.2.1:+5060", EndpointError::bad_port},
      {"switch.example.net:5060", EndpointError::bad_address},
      {"256.0.0.1:5060", EndpointError::bad_address},
      {":5060", EndpointError::bad_address},
      {"2001:db8::1:5060", EndpointError::needs_brackets},
      {"[2001:db8::1]", EndpointError::missing_port},
      {"[2001:db8::1]5060", EndpointError::bad_address},
      {"[2001:db8::1:5060", EndpointError::bad_address},
      {"[192.0.2.1]:5060", EndpointError::bad_address},
      {"[fe80::1%eth0]:5060", EndpointError::bad_address},
  };
  for (const auto& [text, want] : cases) {
    Endpoint e;
    EXPECT_EQ(parse_endpoint(text, e), want) << text;
  }
}

// ------------------------------------------------------------ command line

ParsedCommandLine parse(std::vector<const char*> args) {
  args.insert(args.begin(), "sigrelay");
  return parse_command_line(static_cast<int>(args.size()), args.data());
}

TEST(CommandLine, Defaults) {
  const ParsedCommandLine cl = parse({});
  EXPECT_EQ(cl.config_path, "/etc/sigrelay/sigrelay.conf");
  EXPECT_FALSE(cl.check_only);
  EXPECT_FALSE(cl.help);
  EXPECT_FALSE(cl.version);
  EXPECT_TRUE(cl.overrides.empty());
  EXPECT_TRUE(cl.error.empty());
}

TEST(CommandLine, ConfigCheckAndOverrides) {
  const ParsedCommandLine cl = parse({"-c", "/tmp/x.conf", "--check-config", "--upstream.timeout_ms=500", "--acl.allow",
                                      "192.0.2.0/24", "--acl.allow=2001:db8::/32", "--upstream=sips:a.example.net"});
  ASSERT_TRUE(cl.error.empty()) << cl.error;
  EXPECT_EQ(cl.config_path, "/tmp/x.conf");
  EXPECT_TRUE(cl.check_only);
  EXPECT_EQ(cl.overrides, (std::vector<std::string>{"--upstream.timeout_ms=500", "--acl.allow=192.0.2.0/24",
                                                    "--acl.allow=2001:db8::/32", "--upstream=sips:a.example.net"}));
}

TEST(CommandLine, LongConfigAndFlags) {
  const ParsedCommandLine cl = parse({"--config=/etc/other.conf", "--help", "--version"});
  ASSERT_TRUE(cl.error.empty()) << cl.error;
  EXPECT_EQ(cl.config_path, "/etc/other.conf");
  EXPECT_TRUE(cl.help);
  EXPECT_TRUE(cl.version);
  EXPECT_TRUE(parse({"-h"}).help);
  EXPECT_TRUE(parse({"-V"}).version);
}

TEST(CommandLine, EmptyValueEmptiesAList) {
  const ParsedCommandLine cl = parse({"--listen.tcp=", "--listen.udp", ""});
  ASSERT_TRUE(cl.error.empty()) << cl.error;
  EXPECT_EQ(cl.overrides, (std::vector<std::string>{"--listen.tcp=", "--listen.udp="}));
}

TEST(CommandLine, Errors) {
  EXPECT_FALSE(parse({"--no-such-option"}).error.empty());
  EXPECT_FALSE(parse({"stray"}).error.empty());
  EXPECT_FALSE(parse({"-c", "/a.conf", "-c", "/b.conf"}).error.empty());
  EXPECT_FALSE(parse({"--config"}).error.empty());
  EXPECT_FALSE(parse({"--upstream.time=5"}).error.empty());  // no prefix guessing
  EXPECT_FALSE(parse({"--check-config=yes"}).error.empty());
}

TEST_F(ConfigTest, CommandLineOverridesFeedTheLoader) {
  const std::string path = tmp_.write(std::string(kUpstream) + "[upstream]\ntimeout_ms = 900\n", "sigrelay.conf");
  const ParsedCommandLine cl =
      parse({"-c", path.c_str(), "--upstream.timeout_ms", "450", "--acl.allow", "192.0.2.0/24"});
  ASSERT_TRUE(cl.error.empty()) << cl.error;
  const LoadResult r = load_config(cl.config_path, cl.overrides);
  ASSERT_TRUE(r.config) << dump(r);
  EXPECT_EQ(r.config->upstream.timeout_ms, 450U);
  ASSERT_EQ(r.config->acl.allow.size(), 1U);
}

TEST(CommandLine, UsageListsEveryKeyAndDefault) {
  const std::string text = usage("sigrelay");
  for (const KeyInfo& k : config_keys()) {
    EXPECT_NE(text.find("--" + k.name), std::string::npos) << k.name;
    if (!k.default_text.empty()) {
      EXPECT_NE(text.find("(=" + k.default_text + ")"), std::string::npos) << k.name;
    }
  }
  EXPECT_NE(text.find("--check-config"), std::string::npos);
}

TEST_F(ConfigTest, RunCheckConfigValid) {
  ParsedCommandLine cl;
  cl.config_path = tmp_.write(std::string(kUpstream) + "acl.allow = 192.0.2.0/24\n", "sigrelay.conf");
  cl.overrides = {"--upstream.timeout_ms=500"};
  std::ostringstream out, err;
  EXPECT_EQ(run_check_config(cl, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("timeout_ms = 500"), std::string::npos) << out.str();
  EXPECT_EQ(err.str().find("warning"), std::string::npos) << err.str();
}

TEST_F(ConfigTest, RunCheckConfigInvalid) {
  ParsedCommandLine cl;
  cl.config_path = tmp_.write(std::string(kUpstream) + "[upstream]\ntimeout_ms = 10\n", "sigrelay.conf");
  std::ostringstream out, err;
  EXPECT_EQ(run_check_config(cl, out, err), kExitConfig);
  EXPECT_TRUE(out.str().empty());
  EXPECT_NE(err.str().find(cl.config_path + ":3: upstream.timeout_ms: "), std::string::npos) << err.str();
}

TEST_F(ConfigTest, RunCheckConfigWarnsAboutEmptyWhitelist) {
  ParsedCommandLine cl;
  cl.config_path = tmp_.write(kUpstream, "sigrelay.conf");
  std::ostringstream out, err;
  EXPECT_EQ(run_check_config(cl, out, err), 0);
  EXPECT_NE(err.str().find("warning: acl.allow"), std::string::npos) << err.str();
}

// ------------------------------------------------------------- INI scanning

TEST(IniScan, LinesOfEveryOccurrence) {
  const IniScan s = scan_ini("a = 1\n[x]\nb = 2 # c\n\nb=3\n[y.]\nc =\n");
  EXPECT_TRUE(s.errors.empty());
  ASSERT_EQ(s.entries.size(), 4U);
  EXPECT_EQ(s.entries[0].key, "a");
  EXPECT_EQ(s.entries[0].line, 1);
  EXPECT_EQ(s.entries[1].key, "x.b");
  EXPECT_EQ(s.entries[1].value, "2");
  EXPECT_EQ(s.entries[1].line, 3);
  EXPECT_EQ(s.entries[2].key, "x.b");
  EXPECT_EQ(s.entries[2].line, 5);
  EXPECT_EQ(s.entries[3].key, "y.c");
  EXPECT_EQ(s.entries[3].value, "");
  EXPECT_EQ(s.entries[3].line, 7);
}

TEST(IniScan, ValueKeepsEqualsSigns) {
  const IniScan s = scan_ini("k = a=b\n");
  ASSERT_EQ(s.entries.size(), 1U);
  EXPECT_EQ(s.entries[0].value, "a=b");
}

// ---------------------------------------- reference config and docs in step

std::string read_source(const std::string& rel) {
  std::ifstream in(std::string(SIGRELAY_SOURCE_DIR) + "/" + rel);
  EXPECT_TRUE(in.good()) << rel;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ReferenceConfig, LoadsCleanly) {
  const std::string path = std::string(SIGRELAY_SOURCE_DIR) + "/conf/sigrelay.conf";
  const LoadResult r = load_config(path, {});
  EXPECT_TRUE(r.config.has_value()) << dump(r, path);
  EXPECT_TRUE(r.warnings.empty()) << dump(r, path);
}

// Each key appears either set ("name = value") or as its commented default
// ("#name = default", no space after '#'), under its section.
TEST(ReferenceConfig, DocumentsEveryKeyWithItsDefault) {
  std::istringstream in(read_source("conf/sigrelay.conf"));
  const std::regex section(R"(^\[([a-z_.]+)\]\s*$)");
  const std::regex assignment(R"(^(#?)([a-z0-9_]+) =\s?(.*)$)");
  std::string current;
  std::map<std::string, std::vector<std::pair<bool, std::string>>> seen;  // key -> (commented, value)
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, section)) {
      current = m[1].str() + ".";
    } else if (std::regex_match(line, m, assignment)) {
      seen[current + m[2].str()].emplace_back(m[1].length() == 1, m[3].str());
    }
  }
  for (const KeyInfo& k : config_keys()) {
    const auto it = seen.find(k.name);
    ASSERT_NE(it, seen.end()) << k.name << " is not in conf/sigrelay.conf";
    for (const auto& [commented, value] : it->second) {
      if (commented) {
        EXPECT_EQ(value, k.default_text) << "commented default of " << k.name;
      }
    }
  }
}

TEST(ReferenceDocs, TableHasEveryKeyAndDefault) {
  const std::string doc = read_source("docs/configuration.md");
  for (const KeyInfo& k : config_keys()) {
    const std::string row = "| `" + k.name + "` | ";
    const auto at = doc.find(row);
    ASSERT_NE(at, std::string::npos) << k.name << " is not in docs/configuration.md";
    if (k.default_text.empty()) continue;
    const std::string cell = "`" + k.default_text + "` |";
    EXPECT_EQ(doc.compare(at + row.size(), cell.size(), cell), 0) << "default of " << k.name;
  }
}

}  // namespace
}  // namespace sigrelay::control
