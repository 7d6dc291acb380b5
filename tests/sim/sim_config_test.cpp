#include "sim/sim_config.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace sigrelay::sim {
namespace {

class SimConfigTest : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    path_ = ::testing::TempDir() + "/sim_config_test_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".conf";
    std::ofstream(path_) << text;
    return path_;
  }
  void TearDown() override {
    if (!path_.empty()) std::remove(path_.c_str());
  }
  ConfigResult load(std::vector<std::string> args, SimConfig& out) {
    std::vector<const char*> argv{"sigrelay-sim"};
    for (const auto& a : args) argv.push_back(a.c_str());
    return load_config(static_cast<int>(argv.size()), argv.data(), out);
  }
  std::string path_;
};

TEST_F(SimConfigTest, ReadsEveryKey) {
  const std::string path = write(
      "# a comment\n"
      "listen.tcp = 127.0.0.1:5060\n"
      "listen.tcp = [::1]:0\n"
      "listen.tls = 127.0.0.1:5061\n"
      "tls.cert = /etc/ssl/sim.crt\n"
      "tls.key = /etc/ssl/sim.key\n"
      "sim.allow = 10.0.0.0/8\n"
      "sim.allow = 2001:db8::/32\n"
      "sim.forbidden_code = 404\n"
      "sim.counters_file = /tmp/c.json\n"
      "sim.max_connections = 50\n"
      "sim.send_buffer = 4096\n"
      "rule = +1212 302 contacts=sip:a@10.0.0.1\n"
      "rule = 1900 603\n"
      "[shaken]\n"
      "key = /etc/sim/shaken.pem\n"
      "x5u = https://cert.example.org/sim.pem\n"
      "attest = B\n");
  SimConfig c;
  const ConfigResult r = load({"--config", path}, c);
  ASSERT_EQ(r.status, ConfigStatus::ok) << r.message;
  ASSERT_EQ(c.tcp.size(), 2u);
  EXPECT_EQ(c.tcp[0].addr.ss_family, AF_INET);
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in*>(&c.tcp[0].addr)->sin_port), 5060);
  EXPECT_EQ(c.tcp[1].addr.ss_family, AF_INET6);
  ASSERT_EQ(c.tls.size(), 1u);
  EXPECT_EQ(c.tls_cert, "/etc/ssl/sim.crt");
  EXPECT_EQ(c.tls_key, "/etc/ssl/sim.key");
  EXPECT_FALSE(c.allow.empty());
  EXPECT_EQ(c.forbidden_code, 404);
  EXPECT_EQ(c.counters_file, "/tmp/c.json");
  EXPECT_EQ(c.max_connections, 50u);
  EXPECT_EQ(c.send_buffer, 4096u);
  EXPECT_EQ(c.shaken_key, "/etc/sim/shaken.pem");
  EXPECT_EQ(c.shaken_x5u, "https://cert.example.org/sim.pem");
  EXPECT_EQ(c.shaken_attest, 'B');
  ASSERT_EQ(c.rules.rules().size(), 2u);
  EXPECT_EQ(c.rules.match("12125550100")->code, 302);
  EXPECT_FALSE(c.quiet);
}

TEST_F(SimConfigTest, CommandLineOverridesTheFile) {
  const std::string path = write("listen.tcp = 127.0.0.1:5060\nsim.counters_file = /tmp/a.json\n");
  SimConfig c;
  const ConfigResult r = load({"--config", path, "--listen.tcp=127.0.0.1:0", "--sim.counters_file", "/tmp/b.json",
                               "--quiet"},
                              c);
  ASSERT_EQ(r.status, ConfigStatus::ok) << r.message;
  ASSERT_EQ(c.tcp.size(), 1u);
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in*>(&c.tcp[0].addr)->sin_port), 0);
  EXPECT_EQ(c.counters_file, "/tmp/b.json");
  EXPECT_TRUE(c.quiet);
}

TEST_F(SimConfigTest, UnknownKeyIsNamedWithItsLine) {
  const std::string path = write("listen.tcp = 127.0.0.1:0\n\nsim.alow = 10.0.0.0/8\n");
  SimConfig c;
  const ConfigResult r = load({"--config", path}, c);
  ASSERT_EQ(r.status, ConfigStatus::error);
  EXPECT_NE(r.message.find("sim.alow"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find(":3:"), std::string::npos) << r.message;
}

TEST_F(SimConfigTest, BadValuesAreNamed) {
  struct Case {
    const char* text;
    const char* expect;
  } cases[] = {
      {"listen.tcp = 127.0.0.1\n", "has no :port"},
      {"listen.tcp = localhost:5060\n", "numeric"},
      {"listen.tcp = 127.0.0.1:70000\n", "valid port"},
      {"listen.tcp = ::1:5060\n", "numeric"},
      {"sim.counters_file = /tmp/x\n", "no listener"},
      {"listen.tls = 127.0.0.1:0\n", "needs tls.cert and tls.key"},
      {"listen.tcp = 127.0.0.1:0\nsim.allow = 10.0.0.1/8\n", "sim.allow"},
      {"listen.tcp = 127.0.0.1:0\nsim.forbidden_code = 200\n", "sim.forbidden_code"},
      {"listen.tcp = 127.0.0.1:0\nshaken.attest = D\n", "shaken.attest"},
      {"listen.tcp = 127.0.0.1:0\nshaken.key = /k.pem\n", "shaken.x5u"},
      {"listen.tcp = 127.0.0.1:0\nrule = 1212 302 contacts=sip:a@b\n", "shaken.key"},
      {"listen.tcp = 127.0.0.1:0\nrule = 1212 503\nrule = 1212 603\n", "already used"},
      {"listen.tcp = 127.0.0.1:0\nrule = 1212 2xx\n", "300 to 699"},
      {"listen.tcp = 127.0.0.1:0\ntls.cert = a\ntls.cert = b\n", "tls.cert"},
      {"listen.tcp = 127.0.0.1:0\nshaken.trust =\n", "shaken.trust"},
      {"listen.tcp = 127.0.0.1:0\nshaken.trust = /t.pem\nrule = 1212 603 verify\n", "302"},
  };
  for (const Case& k : cases) {
    const std::string path = write(k.text);
    SimConfig c;
    const ConfigResult r = load({"--config", path}, c);
    EXPECT_EQ(r.status, ConfigStatus::error) << k.text;
    EXPECT_NE(r.message.find(k.expect), std::string::npos) << k.text << " -> " << r.message;
  }
}

TEST_F(SimConfigTest, ShakenTrustIsRepeatable) {
  const std::string path = write(
      "listen.tcp = 127.0.0.1:0\n"
      "shaken.trust = /etc/sim/carriers.pem\n"
      "[shaken]\n"
      "trust = /etc/sim/own.pem\n");
  SimConfig c;
  ConfigResult r = load({"--config", path}, c);
  ASSERT_EQ(r.status, ConfigStatus::ok) << r.message;
  EXPECT_EQ(c.shaken_trust, (std::vector<std::string>{"/etc/sim/carriers.pem", "/etc/sim/own.pem"}));
  EXPECT_TRUE(c.shaken_key.empty());

  SimConfig d;
  r = load({"--config", path, "--shaken.trust=/tmp/other.pem"}, d);
  ASSERT_EQ(r.status, ConfigStatus::ok) << r.message;
  EXPECT_EQ(d.shaken_trust, std::vector<std::string>{"/tmp/other.pem"});

  SimConfig none;
  r = load({"--listen.tcp=127.0.0.1:0"}, none);
  ASSERT_EQ(r.status, ConfigStatus::ok) << r.message;
  EXPECT_TRUE(none.shaken_trust.empty());
}

TEST_F(SimConfigTest, VerifyRuleNeedsKeysToTrustButNoSigningKey) {
  // With shaken.trust: no shaken.key needed, although the rule is a 302.
  std::string path = write("listen.tcp = 127.0.0.1:0\nshaken.trust = /t.pem\nrule = 1212 302 contacts=sip:a@b verify\n");
  SimConfig c;
  ConfigResult r = load({"--config", path}, c);
  ASSERT_EQ(r.status, ConfigStatus::ok) << r.message;
  ASSERT_NE(c.rules.match("12125550100"), nullptr);
  EXPECT_TRUE(c.rules.match("12125550100")->verify);

  // With shaken.key alone: its own key is trusted.
  path = write("listen.tcp = 127.0.0.1:0\nshaken.key = /k.pem\nshaken.x5u = https://x/c.pem\n"
               "rule = 1212 302 contacts=sip:a@b verify\n");
  SimConfig k;
  r = load({"--config", path}, k);
  ASSERT_EQ(r.status, ConfigStatus::ok) << r.message;

  // With neither: nothing could ever pass, so it is an error on the rule's line.
  path = write("listen.tcp = 127.0.0.1:0\n\nrule = 1212 302 contacts=sip:a@b verify\n");
  SimConfig n;
  r = load({"--config", path}, n);
  ASSERT_EQ(r.status, ConfigStatus::error);
  EXPECT_NE(r.message.find("shaken.trust"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find(":3:"), std::string::npos) << r.message;

  // A signing 302 next to it still needs shaken.key.
  path = write("listen.tcp = 127.0.0.1:0\nshaken.trust = /t.pem\nrule = 1212 302 verify\nrule = 1646 302\n");
  SimConfig s;
  r = load({"--config", path}, s);
  ASSERT_EQ(r.status, ConfigStatus::error);
  EXPECT_NE(r.message.find("'1646 302'"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("shaken.key"), std::string::npos) << r.message;
}

TEST_F(SimConfigTest, UnknownKeyInASectionIsNamedWithItsLine) {
  const std::string path = write("listen.tcp = 127.0.0.1:0\n[shaken]\nkey = /k.pem\nx5v = https://x\n");
  SimConfig c;
  const ConfigResult r = load({"--config", path}, c);
  ASSERT_EQ(r.status, ConfigStatus::error);
  EXPECT_NE(r.message.find("'shaken.x5v'"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find(":4:"), std::string::npos) << r.message;
}

TEST_F(SimConfigTest, RuleErrorPointsAtItsLine) {
  const std::string path = write("listen.tcp = 127.0.0.1:0\nrule = 1 503\nrule = 2 503 loud\n");
  SimConfig c;
  const ConfigResult r = load({"--config", path}, c);
  ASSERT_EQ(r.status, ConfigStatus::error);
  EXPECT_NE(r.message.find(":3:"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("loud"), std::string::npos) << r.message;
}

TEST_F(SimConfigTest, MissingFileAndHelp) {
  SimConfig c;
  ConfigResult r = load({"--config", "/nonexistent/sim.conf"}, c);
  EXPECT_EQ(r.status, ConfigStatus::error);
  EXPECT_NE(r.message.find("/nonexistent/sim.conf"), std::string::npos);
  r = load({"--help"}, c);
  EXPECT_EQ(r.status, ConfigStatus::help);
  EXPECT_NE(r.message.find("listen.tls"), std::string::npos);
  r = load({"--no-such-flag"}, c);
  EXPECT_EQ(r.status, ConfigStatus::error);
}

TEST(ListenAddress, Forms) {
  ListenAddress a;
  std::string error;
  ASSERT_TRUE(parse_listen_address("[2001:db8::1]:5061", a, error)) << error;
  EXPECT_EQ(a.addr.ss_family, AF_INET6);
  EXPECT_EQ(a.len, sizeof(sockaddr_in6));
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in6*>(&a.addr)->sin6_port), 5061);
  ASSERT_TRUE(parse_listen_address("0.0.0.0:0", a, error)) << error;
  EXPECT_EQ(a.len, sizeof(sockaddr_in));
  EXPECT_FALSE(parse_listen_address("[127.0.0.1]:5060", a, error));
  EXPECT_FALSE(parse_listen_address("[::1]5060", a, error));
  EXPECT_FALSE(parse_listen_address("127.0.0.1:", a, error));
  EXPECT_FALSE(parse_listen_address("127.0.0.1:-1", a, error));
}

}  // namespace
}  // namespace sigrelay::sim
