#include "sip/header_id.hpp"

#include <gtest/gtest.h>

#include <string>

#include "sip/method.hpp"

namespace sigrelay::sip {
namespace {

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}
std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST(HeaderId, EveryKnownFullNameRoundTripsInAnyCase) {
  for (auto i = static_cast<int>(HeaderId::via); i < static_cast<int>(HeaderId::count_); ++i) {
    const auto id = static_cast<HeaderId>(i);
    const std::string name(header_name(id));
    SCOPED_TRACE(name);
    ASSERT_FALSE(name.empty());
    EXPECT_EQ(classify_header(name), id);
    EXPECT_EQ(classify_header(upper(name)), id);
    EXPECT_EQ(classify_header(lower(name)), id);
  }
}

TEST(HeaderId, CompactForms) {
  // RFC 3261 §7.3.3 / §20 and the extensions that define a compact form.
  const std::pair<char, HeaderId> compact[] = {
      {'v', HeaderId::via},          {'i', HeaderId::call_id},          {'l', HeaderId::content_length},
      {'f', HeaderId::from},         {'t', HeaderId::to},               {'m', HeaderId::contact},
      {'k', HeaderId::supported},    {'s', HeaderId::subject},          {'c', HeaderId::content_type},
      {'e', HeaderId::content_encoding}, {'o', HeaderId::event},        {'u', HeaderId::allow_events},
      {'r', HeaderId::refer_to},     {'x', HeaderId::session_expires},  {'b', HeaderId::referred_by},
      {'y', HeaderId::identity},     {'a', HeaderId::accept_contact},   {'j', HeaderId::reject_contact},
      {'d', HeaderId::request_disposition},
  };
  for (const auto& [c, id] : compact) {
    EXPECT_EQ(classify_header(std::string(1, c)), id) << c;
    EXPECT_EQ(classify_header(std::string(1, static_cast<char>(std::toupper(c)))), id) << c;
  }
  EXPECT_EQ(classify_header("z"), HeaderId::other);
  EXPECT_EQ(classify_header("w"), HeaderId::other);
}

TEST(HeaderId, NearMissesAreOther) {
  for (const char* name : {"Vias", "Call-Id2", "Content-Lengths", "Fro", "X-Call-ID", "CSeq-", "Max_Forwards",
                           "Contect", "Calm-ID", "Recurd-Route", "C%6Fntact", "Route-Set", "P-Asserted-Identitx"}) {
    EXPECT_EQ(classify_header(name), HeaderId::other) << name;
  }
}

TEST(Method, CaseSensitiveClassification) {
  EXPECT_EQ(classify_method("INVITE"), Method::invite);
  EXPECT_EQ(classify_method("ACK"), Method::ack);
  EXPECT_EQ(classify_method("CANCEL"), Method::cancel);
  EXPECT_EQ(classify_method("OPTIONS"), Method::options);
  // RFC 3261 §7.1: method names are case-sensitive.
  EXPECT_EQ(classify_method("invite"), Method::unknown);
  EXPECT_EQ(classify_method("RE%47IST%45R"), Method::unknown);
  for (auto i = 1; i <= static_cast<int>(Method::update); ++i) {
    const auto m = static_cast<Method>(i);
    EXPECT_EQ(classify_method(method_name(m)), m);
  }
}

}  // namespace
}  // namespace sigrelay::sip
