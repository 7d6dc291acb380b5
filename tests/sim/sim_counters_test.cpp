#include "sim/sim_counters.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace sigrelay::sim {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(SimCounters, JsonHasEveryDocumentedField) {
  SimCounters c;
  c.invites = 3;
  c.invites_by_code[503] = 2;
  c.invites_by_code[302] = 1;
  c.pings = 4;
  c.last_invite = "INVITE sip:1@x SIP/2.0\r\n\r\n";
  const auto j = nlohmann::json::parse(counters_json(c));
  for (const char* key : {"connections_accepted", "connections_open", "tls_handshake_failures", "invites",
                          "invites_by_code", "options", "acks", "cancels", "pings", "forbidden",
                          "bad_messages", "last_invite"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["invites"], 3);
  EXPECT_EQ(j["invites_by_code"]["503"], 2);
  EXPECT_EQ(j["invites_by_code"]["302"], 1);
  EXPECT_EQ(j["pings"], 4);
  EXPECT_EQ(j["last_invite"], "INVITE sip:1@x SIP/2.0\r\n\r\n");
}

TEST(SimCounters, BytesThatAreNotUtf8DoNotBreakTheJson) {
  SimCounters c;
  c.last_invite = std::string("INVITE sip:\xff\xfe@x SIP/2.0\r\n", 25);
  const std::string text = counters_json(c);
  const auto j = nlohmann::json::parse(text, nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["last_invite"].get<std::string>().rfind("INVITE sip:", 0), 0u);
}

TEST(SimCounters, WriteReplacesTheFile) {
  const std::string path = ::testing::TempDir() + "/sim_counters_test.json";
  std::string error;
  ASSERT_TRUE(write_file_atomically(path, "first\n", error)) << error;
  EXPECT_EQ(slurp(path), "first\n");
  ASSERT_TRUE(write_file_atomically(path, "second\n", error)) << error;
  EXPECT_EQ(slurp(path), "second\n");
  std::remove(path.c_str());
  EXPECT_FALSE(write_file_atomically("/nonexistent-dir/c.json", "x", error));
  EXPECT_NE(error.find("/nonexistent-dir/"), std::string::npos);
}

}  // namespace
}  // namespace sigrelay::sim
