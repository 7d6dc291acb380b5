#include "sim/numbers.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sigrelay::sim {
namespace {

std::string invite(std::string_view ruri, std::string_view from, std::string_view extra = {}) {
  return "INVITE " + std::string(ruri) +
         " SIP/2.0\r\n"
         "Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n"
         "Max-Forwards: 70\r\n"
         "From: " + std::string(from) + ";tag=1928301774\r\n"
         "To: <sip:svc@example.com>\r\n"
         "Call-ID: a84b4c76e66710@192.0.2.1\r\n"
         "CSeq: 314159 INVITE\r\n" + std::string(extra) +
         "Content-Length: 0\r\n\r\n";
}

TEST(Numbers, NormalizeStripsPlusAndVisualSeparators) {
  // RFC 3966 §5.1.1 visual separators; RFC 8224 §8.3 drops them and the '+'.
  EXPECT_EQ(normalize_number("+1-212-555-0100"), "12125550100");
  EXPECT_EQ(normalize_number("+1.(212).555.0100"), "12125550100");
  EXPECT_EQ(normalize_number("12125550100"), "12125550100");
  // Only a leading '+' is a number's; elsewhere it stays (it cannot match a digit prefix).
  EXPECT_EQ(normalize_number("1+2"), "1+2");
  // user=phone parameters end the number (RFC 3261 §19.1.6).
  EXPECT_EQ(normalize_number("+12125550100;npdi;rn=+12125550000"), "12125550100");
  // %-escapes are decoded first: %2B is '+', %2D is '-'.
  EXPECT_EQ(normalize_number("%2B1%2D212"), "1212");
  EXPECT_EQ(normalize_number("alice"), "alice");
  EXPECT_EQ(normalize_number(""), "");
  EXPECT_EQ(normalize_number("12%G"), "12%G");  // malformed escape: kept as written
}

TEST(Numbers, CalledFromSipAndTelRequestUris) {
  sip::MessageWithHeaders<> m;
  auto text = invite("sip:+1-212-555-0100@svc.example.com;user=phone", "<sip:+13035550111@a.example>");
  ASSERT_TRUE(m.parse(text).ok());
  EXPECT_EQ(called_number(m.msg), "12125550100");

  auto tel = invite("tel:+1-212-555-0101", "<sip:1@a.example>");
  ASSERT_TRUE(m.parse(tel).ok());
  EXPECT_EQ(called_number(m.msg), "12125550101");

  auto nouser = invite("sip:svc.example.com", "<sip:1@a.example>");
  ASSERT_TRUE(m.parse(nouser).ok());
  EXPECT_EQ(called_number(m.msg), "");
}

TEST(Numbers, CallingPrefersPAssertedIdentity) {
  sip::MessageWithHeaders<> m;
  auto text = invite("sip:12125550100@svc.example.com", "\"Anon\" <sip:anonymous@anonymous.invalid>",
                     "P-Asserted-Identity: \"Alice\" <sip:+1-303-555-0111@a.example;user=phone>, <tel:+13035550111>\r\n");
  ASSERT_TRUE(m.parse(text).ok());
  EXPECT_EQ(calling_number(m.msg), "13035550111");
}

TEST(Numbers, CallingFallsBackToFrom) {
  sip::MessageWithHeaders<> m;
  auto text = invite("sip:12125550100@svc.example.com", "<sip:+1(303)555-0112@a.example>");
  ASSERT_TRUE(m.parse(text).ok());
  EXPECT_EQ(calling_number(m.msg), "13035550112");
}

}  // namespace
}  // namespace sigrelay::sim
