// The per-worker call record ring: lookups by Call-ID and by number, wrap
// around, and a reader racing the writer never sees a torn record.
#include "dataplane/call_log.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

namespace sigrelay::dataplane {
namespace {

CallRecord make(const std::string& call_id, const std::string& calling, const std::string& called,
                std::uint16_t code) {
  CallRecord r;
  r.time_us = 1;
  r.final_code = code;
  set_field(r.call_id, call_id);
  set_field(r.calling, calling);
  set_field(r.called, called);
  return r;
}

TEST(CallLog, FindsByCallIdAndByNumberInAnyWriting) {
  CallLog log(8);
  log.add(make("a@sw", "+13035550147", "+12125551234", 503));
  log.add(make("b@sw", "13035550148", "2125551299", 302));
  ASSERT_EQ(log.find("a@sw").size(), 1u);
  EXPECT_EQ(log.find("a@sw")[0].final_code, 503);
  // The same number as written by another switch: +1, dashes, dots.
  EXPECT_EQ(log.find("212-555-1234").size(), 1u);
  EXPECT_EQ(log.find("+1 (212) 555.1234").size(), 1u);
  EXPECT_EQ(log.find("13035550148").size(), 1u);
  EXPECT_TRUE(log.find("c@sw").empty());
  EXPECT_TRUE(log.find("55").empty()) << "too short to be a number";
}

TEST(CallLog, KeepsTheLastCapacityRecordsOldestFirst) {
  CallLog log(4);
  for (int i = 0; i < 10; ++i) log.add(make("same", "1", "2125550000", static_cast<std::uint16_t>(300 + i)));
  const auto found = log.find("same");
  ASSERT_EQ(found.size(), 4u);
  EXPECT_EQ(found.front().final_code, 306);
  EXPECT_EQ(found.back().final_code, 309);
}

TEST(CallLog, LongFieldsAreTruncatedAndTerminated) {
  CallLog log(2);
  const std::string long_id(300, 'x');
  log.add(make(long_id, "1", "2", 200));
  const auto found = log.find(long_id.substr(0, sizeof(CallRecord::call_id) - 1));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(std::string(found[0].call_id).size(), sizeof(CallRecord::call_id) - 1);
}

TEST(CallLog, ReaderRacingTheWriterSeesOnlyWholeRecords) {
  CallLog log(16);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 200000; ++i) {
      // Each record is self-consistent: code and called number agree.
      const auto code = static_cast<std::uint16_t>(200 + i % 400);
      log.add(make("race", "1", "212555" + std::to_string(1000 + code), code));
    }
    done = true;
  });
  std::size_t seen = 0;
  while (!done.load()) {
    for (const auto& r : log.find("race")) {
      ++seen;
      ASSERT_EQ(std::string(r.called), "212555" + std::to_string(1000 + r.final_code));
    }
  }
  writer.join();
  EXPECT_EQ(log.find("race").size(), 16u);
  (void)seen;
}

}  // namespace
}  // namespace sigrelay::dataplane
