#include "sim/reason_phrase.hpp"

#include <gtest/gtest.h>

namespace sigrelay::sim {
namespace {

TEST(ReasonPhrase, TheCodesTheServiceAnswers) {
  // RFC 3261 §21.3.3, §21.4.4, §21.4.5, §21.4.24, §21.5.4, §21.6.2.
  EXPECT_EQ(reason_phrase(302), "Moved Temporarily");
  EXPECT_EQ(reason_phrase(403), "Forbidden");
  EXPECT_EQ(reason_phrase(404), "Not Found");
  EXPECT_EQ(reason_phrase(487), "Request Terminated");
  EXPECT_EQ(reason_phrase(503), "Service Unavailable");
  EXPECT_EQ(reason_phrase(603), "Decline");
  EXPECT_EQ(reason_phrase(607), "Unwanted");  // RFC 8197 §4
  EXPECT_EQ(reason_phrase(608), "Rejected");  // RFC 8688 §3.1
  EXPECT_EQ(reason_phrase(499), "");
}

}  // namespace
}  // namespace sigrelay::sim
