#include "sim/rules.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sigrelay::sim {
namespace {

Rule must_parse(std::string_view text) {
  std::string error;
  auto r = parse_rule(text, error);
  EXPECT_TRUE(r.has_value()) << text << ": " << error;
  return r ? *r : Rule{};
}

std::string parse_error(std::string_view text) {
  std::string error;
  EXPECT_FALSE(parse_rule(text, error).has_value()) << text;
  return error;
}

RuleSet rule_set(std::initializer_list<std::string_view> texts) {
  RuleSet set;
  for (const auto t : texts) {
    std::string error;
    EXPECT_TRUE(set.add(must_parse(t), error)) << error;
  }
  return set;
}

TEST(Rules, ParsesEveryOption) {
  const Rule r = must_parse("  +1212   302 contacts=sip:a@10.0.0.1,sips:b@gw.example.com;transport=tls "
                            "delay_ms=250 trying attest=B  ");
  EXPECT_EQ(r.prefix, "1212");
  EXPECT_EQ(r.code, 302);
  ASSERT_EQ(r.contacts.size(), 2u);
  EXPECT_EQ(r.contacts[0], "sip:a@10.0.0.1");
  EXPECT_EQ(r.contacts[1], "sips:b@gw.example.com;transport=tls");
  EXPECT_EQ(r.delay_ms, 250u);
  EXPECT_TRUE(r.trying);
  EXPECT_FALSE(r.silent);
  EXPECT_EQ(r.attest, 'B');

  const Rule s = must_parse("1900 603 silent");
  EXPECT_TRUE(s.silent);
  EXPECT_EQ(s.attest, 0);
  EXPECT_EQ(must_parse("* 404").prefix, "");
  EXPECT_EQ(must_parse("+1-800 503").prefix, "1800");
  EXPECT_TRUE(must_parse("1 302 contacts=tel:+12125550100 no_identity").no_identity);
  EXPECT_FALSE(r.verify);
  const Rule v = must_parse("+1212 302 contacts=sip:term@192.0.2.30 verify trying delay_ms=5");
  EXPECT_TRUE(v.verify);
  EXPECT_FALSE(v.no_identity);
  EXPECT_EQ(v.contacts.size(), 1u);
}

TEST(Rules, VerifyGoesOnlyWithAPlain302) {
  // The verification result rides on the redirect (docs/sim.md).
  EXPECT_NE(parse_error("1212 603 verify").find("302"), std::string::npos);
  EXPECT_NE(parse_error("1212 301 contacts=sip:a@b verify").find("302"), std::string::npos);
  EXPECT_NE(parse_error("1212 302 silent verify").find("silent"), std::string::npos);
  EXPECT_NE(parse_error("1212 302 verify no_identity").find("no_identity"), std::string::npos);
  EXPECT_NE(parse_error("1212 302 verify attest=A").find("attest"), std::string::npos);
  EXPECT_NE(parse_error("1212 302 verify=yes").find("unknown option 'verify=yes'"), std::string::npos);
}

TEST(Rules, RejectsBadRules) {
  EXPECT_NE(parse_error("1212").find("PREFIX CODE"), std::string::npos);
  EXPECT_NE(parse_error("1212 200").find("300 to 699"), std::string::npos);  // 2xx would need a dialog
  EXPECT_NE(parse_error("1212 700").find("300 to 699"), std::string::npos);
  EXPECT_NE(parse_error("1212 5033").find("300 to 699"), std::string::npos);
  EXPECT_NE(parse_error("1212 50x").find("300 to 699"), std::string::npos);
  EXPECT_NE(parse_error("+ 503").find("empty"), std::string::npos);
  EXPECT_NE(parse_error("1212 503 contacts=sip:a@b").find("3xx"), std::string::npos);
  EXPECT_NE(parse_error("1212 302 contacts=http://x").find("http://x"), std::string::npos);
  EXPECT_NE(parse_error("1212 302 contacts=sip:a@b,").find("contact ''"), std::string::npos);
  EXPECT_NE(parse_error("1212 302 contacts=<sip:a@b>").find("<sip:a@b>"), std::string::npos);
  EXPECT_NE(parse_error("1212 503 delay_ms=-1").find("delay_ms"), std::string::npos);
  EXPECT_NE(parse_error("1212 503 delay_ms=3600001").find("delay_ms"), std::string::npos);
  EXPECT_NE(parse_error("1212 503 silent delay_ms=5").find("silent"), std::string::npos);
  EXPECT_NE(parse_error("1212 302 attest=D").find("attest"), std::string::npos);
  EXPECT_NE(parse_error("1212 503 loud").find("unknown option 'loud'"), std::string::npos);
  EXPECT_NE(parse_error("1212 503 silent=1").find("unknown option"), std::string::npos);
  std::string many = "1 302 contacts=sip:a@b";
  for (int i = 0; i < 16; ++i) many += ",sip:a@b";
  EXPECT_NE(parse_error(many).find("more than 16"), std::string::npos);
}

TEST(Rules, LongestPrefixWinsWhateverTheOrder) {
  const RuleSet set = rule_set({"1 503", "1212555 603", "+1212 302 no_identity", "44 404"});
  ASSERT_NE(set.match("12125550100"), nullptr);
  EXPECT_EQ(set.match("12125550100")->code, 603);
  EXPECT_EQ(set.match("12124440100")->code, 302);
  EXPECT_EQ(set.match("13035550100")->code, 503);
  EXPECT_EQ(set.match("442071234567")->code, 404);
  EXPECT_EQ(set.match("33123456789"), nullptr);
  EXPECT_EQ(set.match(""), nullptr);
  EXPECT_EQ(set.match("121"), set.match("1"));  // shorter than the longer prefixes
}

TEST(Rules, StarMatchesWhatNothingElseDoes) {
  const RuleSet set = rule_set({"* 404", "1212 603"});
  EXPECT_EQ(set.match("12125550100")->code, 603);
  EXPECT_EQ(set.match("33123456789")->code, 404);
  EXPECT_EQ(set.match("")->code, 404);
}

TEST(Rules, DuplicatePrefixIsAnError) {
  RuleSet set;
  std::string error;
  ASSERT_TRUE(set.add(must_parse("1212 503"), error));
  EXPECT_FALSE(set.add(must_parse("+1-212 603"), error));  // the same prefix once normalized
  EXPECT_NE(error.find("1212 503"), std::string::npos);
}

TEST(Rules, QValuesDescendFromOne) {
  EXPECT_EQ(q_value(0, 1), "1.0");
  EXPECT_EQ(q_value(0, 3), "1.0");
  EXPECT_EQ(q_value(1, 3), "0.9");
  EXPECT_EQ(q_value(2, 3), "0.8");
  EXPECT_EQ(q_value(9, 10), "0.1");
  // Longer lists use smaller steps and never reach 0 (which would mean "do not use").
  for (std::size_t n = 1; n <= kMaxContacts; ++n) {
    double previous = 2.0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::string q = q_value(i, n);
      // RFC 3261 §20.10 qvalue: "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ]
      ASSERT_TRUE(q == "1.0" || (q.size() >= 3 && q.size() <= 5 && q.rfind("0.", 0) == 0)) << q;
      const double v = std::stod(q);
      EXPECT_LT(v, previous) << n << " " << i;
      EXPECT_GT(v, 0.0);
      previous = v;
    }
  }
}

TEST(Rules, ContactValuesInGivenOrder) {
  const Rule r = must_parse("1 302 contacts=sip:first@10.0.0.1,sip:second@10.0.0.2;transport=tcp");
  const auto v = contact_values(r);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0], "<sip:first@10.0.0.1>;q=1.0");
  EXPECT_EQ(v[1], "<sip:second@10.0.0.2;transport=tcp>;q=0.9");
}

std::string invite_to(std::string_view ruri) {
  return "INVITE " + std::string(ruri) +
         " SIP/2.0\r\n"
         "Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKnashds8\r\n"
         "Max-Forwards: 70\r\n"
         "From: <sip:+13035550111@a.example>;tag=1928301774\r\n"
         "To: <" + std::string(ruri) + ">\r\n"
         "Call-ID: a84b4c76e66710@192.0.2.1\r\n"
         "CSeq: 1 INVITE\r\n"
         "Content-Length: 0\r\n\r\n";
}

TEST(Rules, DecideFollowsTheRules) {
  const RuleSet set = rule_set({"1212 302 no_identity contacts=sip:a@b", "1900 603 delay_ms=40", "1999 503 silent"});
  sip::MessageWithHeaders<> m;
  const std::string a = invite_to("sip:+1-212-555-0100@svc.example.com");
  ASSERT_TRUE(m.parse(a).ok());
  Decision d = decide(m.msg, true, set, 403);
  EXPECT_EQ(d.action, Action::answer);
  EXPECT_EQ(d.code, 302);
  EXPECT_EQ(d.called, "12125550100");
  ASSERT_NE(d.rule, nullptr);
  EXPECT_EQ(d.rule->prefix, "1212");

  const std::string b = invite_to("tel:+19005550100");
  ASSERT_TRUE(m.parse(b).ok());
  d = decide(m.msg, true, set, 403);
  EXPECT_EQ(d.action, Action::answer);
  EXPECT_EQ(d.code, 603);
  EXPECT_EQ(d.delay_ms, 40u);

  const std::string c = invite_to("sip:19995550100@svc.example.com");
  ASSERT_TRUE(m.parse(c).ok());
  d = decide(m.msg, true, set, 403);
  EXPECT_EQ(d.action, Action::silent);

  const std::string e = invite_to("sip:4420@svc.example.com");
  ASSERT_TRUE(m.parse(e).ok());
  d = decide(m.msg, true, set, 403);
  EXPECT_EQ(d.action, Action::answer);
  EXPECT_EQ(d.code, 503);  // nothing matches: "no action needed"
  EXPECT_EQ(d.rule, nullptr);
}

TEST(Rules, ForbiddenSourceNeverReachesTheRules) {
  const RuleSet set = rule_set({"* 302 no_identity", "1999 503 silent"});
  sip::MessageWithHeaders<> m;
  const std::string c = invite_to("sip:19995550100@svc.example.com");
  ASSERT_TRUE(m.parse(c).ok());
  Decision d = decide(m.msg, false, set, 403);
  EXPECT_EQ(d.action, Action::forbidden);
  EXPECT_EQ(d.code, 403);
  EXPECT_EQ(d.rule, nullptr);
  d = decide(m.msg, false, set, 404);  // the in-line service's way of saying it
  EXPECT_EQ(d.code, 404);
}

}  // namespace
}  // namespace sigrelay::sim
