// Log lines: levels, the journald priority prefix, one line per write, and
// the rate limit with its "suppressed" summary.
#include "dataplane/log.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>

namespace sigrelay::log {
namespace {

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(pipe2(fds_, O_NONBLOCK), 0); }
  void TearDown() override {
    set_output(2, false);
    set_level(Level::info);
    close(fds_[0]);
    close(fds_[1]);
  }
  std::string drain() {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(fds_[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    return out;
  }
  int fds_[2] = {-1, -1};
};

TEST_F(LogTest, LevelsFilterAndNameTheLevel) {
  set_output(fds_[1], false);
  set_level(Level::warn);
  write(Level::info, "not shown");
  write(Level::warn, "shown");
  writef(Level::error, "code %d", 42);
  EXPECT_EQ(drain(), "sigrelay: warning: shown\nsigrelay: error: code 42\n");
  set_level(Level::debug);
  write(Level::debug, "now shown");
  EXPECT_EQ(drain(), "sigrelay: debug: now shown\n");
}

TEST_F(LogTest, JournalGetsSyslogPriorities) {
  set_output(fds_[1], true);
  write(Level::warn, "w");
  write(Level::error, "e");
  write(Level::info, "i");
  EXPECT_EQ(drain(), "<4>sigrelay: w\n<3>sigrelay: e\n<6>sigrelay: i\n");
}

TEST_F(LogTest, LongLinesStayOneLine) {
  set_output(fds_[1], false);
  write(Level::error, std::string(5000, 'x'));
  const std::string out = drain();
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1);
}

TEST_F(LogTest, RateLimitAllowsABurstThenSummarises) {
  set_output(fds_[1], false);
  RateLimit limit(2, std::chrono::milliseconds(1000));
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  EXPECT_TRUE(limit.allow(t0));
  EXPECT_TRUE(limit.allow(t0));
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(limit.allow(t0 + std::chrono::milliseconds(i)));
  EXPECT_EQ(limit.suppressed_total(), 10u);
  EXPECT_TRUE(limit.allow(t0 + std::chrono::milliseconds(1000))) << "a new interval";
  EXPECT_EQ(limit.take_suppressed(), 10u);
  EXPECT_EQ(limit.take_suppressed(), 0u);

  RateLimit live(1, std::chrono::hours(1));
  for (int i = 0; i < 5; ++i) limited(live, Level::warn, "flood %d", i);
  EXPECT_EQ(drain(), "sigrelay: warning: flood 0\n");
  EXPECT_EQ(live.suppressed_total(), 4u);
}

}  // namespace
}  // namespace sigrelay::log
