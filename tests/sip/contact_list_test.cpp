// The Contacts of a 302 as in-line mode's targets, written against RFC 3261
// §8.1.3.4 and §16.5 (recursing on a redirect), §20.10 (Contact, q and the
// rule that params inside <> belong to the URI), §7.3.1 (several header
// fields of one name are one comma-separated list, compact form "m") and the
// qvalue grammar of §25.1.
#include "sip/contact_list.hpp"
#include "tests/sip/guarded_buffer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace sigrelay::sip {
namespace {

using namespace std::string_view_literals;

// A 302 with the given header lines (each without its CRLF) between the
// mandatory headers and the end of the header block.
std::string redirect(const std::vector<std::string>& extra) {
  std::string m =
      "SIP/2.0 302 Moved Temporarily\r\n"
      "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n"
      "From: <sip:+15551230000@192.0.2.10>;tag=1928301774\r\n"
      "To: <sip:+15559870000@192.0.2.20>;tag=a6c85cf\r\n"
      "Call-ID: a84b4c76e66710@192.0.2.10\r\n"
      "CSeq: 314159 INVITE\r\n";
  for (const auto& line : extra) m += line + "\r\n";
  m += "Content-Length: 0\r\n\r\n";
  return m;
}

// The messages under test come from the relay's own parse depth, where
// Contact values are not checked: the collector must judge them itself.
struct Parsed {
  std::string bytes;
  MessageWithHeaders<64> mh;
  ParseResult result;
  explicit Parsed(std::string b, ParseDepth depth = ParseDepth::relay) : bytes(std::move(b)) {
    ParseOptions opts;
    opts.depth = depth;
    result = mh.parse(bytes, opts);
  }
};

std::vector<std::string> uris(const ContactSet& s) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < s.count; ++i) out.emplace_back(s.items[i].uri_text);
  return out;
}

std::vector<int> qs(const ContactSet& s) {
  std::vector<int> out;
  for (std::size_t i = 0; i < s.count; ++i) out.push_back(s.items[i].q);
  return out;
}

std::vector<int> orders(const ContactSet& s) {
  std::vector<int> out;
  for (std::size_t i = 0; i < s.count; ++i) out.push_back(s.items[i].order);
  return out;
}

using Strings = std::vector<std::string>;
using Ints = std::vector<int>;

// ---- parse_qvalue: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )

TEST(ParseQvalue, AcceptsTheGrammar) {
  EXPECT_EQ(parse_qvalue("0"), 0);
  EXPECT_EQ(parse_qvalue("0."), 0);  // 0*3DIGIT: no digits after the dot is allowed
  EXPECT_EQ(parse_qvalue("0.0"), 0);
  EXPECT_EQ(parse_qvalue("0.000"), 0);
  EXPECT_EQ(parse_qvalue("0.5"), 500);
  EXPECT_EQ(parse_qvalue("0.05"), 50);
  EXPECT_EQ(parse_qvalue("0.007"), 7);
  EXPECT_EQ(parse_qvalue("0.123"), 123);
  EXPECT_EQ(parse_qvalue("0.999"), 999);
  EXPECT_EQ(parse_qvalue("1"), 1000);
  EXPECT_EQ(parse_qvalue("1."), 1000);
  EXPECT_EQ(parse_qvalue("1.0"), 1000);
  EXPECT_EQ(parse_qvalue("1.000"), 1000);
}

TEST(ParseQvalue, RefusesEverythingElse) {
  for (const auto v : {""sv, "1.5"sv, "1.001"sv, "1.0000"sv, "0.1234"sv, "abc"sv, "2"sv, ".5"sv, "00.5"sv,
                       "0,5"sv, "0.5 "sv, " 0.5"sv, "-0.5"sv, "+1"sv, "0.5a"sv, "0.a"sv, "10"sv, "01"sv,
                       "\"0.5\""sv, "1e0"sv}) {
    EXPECT_FALSE(parse_qvalue(v).has_value()) << '"' << v << '"';
  }
}

// ---- ordering

TEST(CollectContacts, HighestQFirstAndEqualQKeepMessageOrder) {
  Parsed p(redirect({"Contact: <sip:a@192.0.2.1>;q=0.5, <sip:b@192.0.2.2>;q=0.9, <sip:c@192.0.2.3>;q=0.5, "
                     "<sip:d@192.0.2.4>;q=0.7"}));
  ASSERT_TRUE(p.result.ok());
  const auto s = collect_contacts(p.mh.msg);
  EXPECT_EQ(uris(s), (Strings{"sip:b@192.0.2.2", "sip:d@192.0.2.4", "sip:a@192.0.2.1", "sip:c@192.0.2.3"}));
  EXPECT_EQ(qs(s), (Ints{900, 700, 500, 500}));
  EXPECT_EQ(orders(s), (Ints{1, 3, 0, 2}));
  EXPECT_EQ(s.skipped_invalid, 0u);
  EXPECT_EQ(s.dropped_over_limit, 0u);
}

TEST(CollectContacts, QZeroIsAValidTargetTriedLast) {
  Parsed p(redirect({"Contact: <sip:zero@192.0.2.1>;q=0, <sip:low@192.0.2.2>;q=0.001"}));
  ASSERT_TRUE(p.result.ok());
  const auto s = collect_contacts(p.mh.msg);
  EXPECT_EQ(uris(s), (Strings{"sip:low@192.0.2.2", "sip:zero@192.0.2.1"}));
  EXPECT_EQ(qs(s), (Ints{1, 0}));
  EXPECT_EQ(s.skipped_invalid, 0u);
}

TEST(CollectContacts, AbsentQIsOnePointZero) {
  // q=1.0, absent and q=1 are the same preference: message order decides.
  Parsed p(redirect({"Contact: <sip:low@192.0.2.9>;q=0.999, <sip:a@192.0.2.1>;q=1.0, <sip:b@192.0.2.2>, "
                     "<sip:c@192.0.2.3>;q=1"}));
  ASSERT_TRUE(p.result.ok());
  const auto s = collect_contacts(p.mh.msg);
  EXPECT_EQ(uris(s), (Strings{"sip:a@192.0.2.1", "sip:b@192.0.2.2", "sip:c@192.0.2.3", "sip:low@192.0.2.9"}));
  EXPECT_EQ(qs(s), (Ints{1000, 1000, 1000, 999}));
}

TEST(CollectContacts, InvalidQSkipsOnlyThatEntry) {
  Parsed p(redirect({"Contact: <sip:a@192.0.2.1>;q=1.5, <sip:b@192.0.2.2>;q=0.1234, <sip:c@192.0.2.3>;q=abc, "
                     "<sip:ok@192.0.2.4>;q=0.2, <sip:d@192.0.2.5>;q"}));
  ASSERT_TRUE(p.result.ok());
  const auto s = collect_contacts(p.mh.msg);
  EXPECT_EQ(uris(s), (Strings{"sip:ok@192.0.2.4"}));
  EXPECT_EQ(qs(s), (Ints{200}));
  EXPECT_EQ(orders(s), (Ints{3}));
  EXPECT_EQ(s.skipped_invalid, 4u);
}

// ---- several headers, compact form

TEST(CollectContacts, EveryContactHeaderFullAndCompactFormIsOneList) {
  Parsed p(redirect({"Contact: <sip:a@192.0.2.1>;q=0.3", "X-Other: <sip:not-a-contact@192.0.2.99>",
                     "m: <sip:b@192.0.2.2>;q=0.8, <sip:c@192.0.2.3>;q=0.3", "CONTACT: <sip:d@192.0.2.4>;q=0.8"}));
  ASSERT_TRUE(p.result.ok());
  const auto s = collect_contacts(p.mh.msg);
  EXPECT_EQ(uris(s), (Strings{"sip:b@192.0.2.2", "sip:d@192.0.2.4", "sip:a@192.0.2.1", "sip:c@192.0.2.3"}));
  EXPECT_EQ(orders(s), (Ints{1, 3, 0, 2}));
}

TEST(CollectContacts, NoContactGivesAnEmptySet) {
  Parsed p(redirect({}));
  ASSERT_TRUE(p.result.ok());
  const auto s = collect_contacts(p.mh.msg);
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.skipped_invalid, 0u);
  EXPECT_EQ(s.dropped_over_limit, 0u);
}

// ---- display names, params

TEST(CollectContacts, DisplayNamesAndHeaderParams) {
  Parsed p(redirect({
      // A comma inside a quoted display name does not end the entry.
      "Contact: \"Gateway, East\" <sip:+15551112222@192.0.2.1:5080;user=phone>;q=0.4;expires=60",
      "Contact: Gateway West <sips:gw@192.0.2.2>;expires=3600;q=0.6",
      "Contact: \"Quote \\\" inside\" <sip:q@192.0.2.3>;q=0.5",
      // An instance id whose quoted value holds <, > and commas.
      "Contact: <sip:inst@192.0.2.4>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>,x\";q=0.45",
  }));
  ASSERT_TRUE(p.result.ok());
  const auto s = collect_contacts(p.mh.msg);
  EXPECT_EQ(uris(s), (Strings{"sips:gw@192.0.2.2", "sip:q@192.0.2.3", "sip:inst@192.0.2.4",
                              "sip:+15551112222@192.0.2.1:5080;user=phone"}));
  EXPECT_EQ(qs(s), (Ints{600, 500, 450, 400}));
  ASSERT_EQ(s.count, 4u);
  EXPECT_EQ(s.items[0].uri.scheme, UriScheme::sips);
  const Uri& gw = s.items[3].uri;
  EXPECT_EQ(gw.scheme, UriScheme::sip);
  EXPECT_EQ(gw.user, "+15551112222");
  EXPECT_EQ(gw.host, "192.0.2.1");
  EXPECT_EQ(gw.host_kind, HostKind::ipv4);
  EXPECT_EQ(gw.port, 5080);
  EXPECT_EQ(find_param(gw.params, "user"), "phone");
  EXPECT_EQ(s.skipped_invalid, 0u);
}

TEST(CollectContacts, QInsideTheBracketsIsAUriParamNotTheContactQ) {
  // RFC 3261 §20.10: with <>, params inside belong to the URI; without <>,
  // params after the addr-spec are header params.
  Parsed p(redirect({"Contact: <sip:inner@192.0.2.1;q=0.1>, sip:bare@192.0.2.2;q=0.2, "
                     "<sip:both@192.0.2.3;transport=tcp>;q=0.3"}));
  ASSERT_TRUE(p.result.ok());
  const auto s = collect_contacts(p.mh.msg);
  EXPECT_EQ(uris(s), (Strings{"sip:inner@192.0.2.1;q=0.1", "sip:both@192.0.2.3;transport=tcp", "sip:bare@192.0.2.2"}));
  EXPECT_EQ(qs(s), (Ints{1000, 300, 200}));
}

TEST(CollectContacts, IpV6Contact) {
  Parsed p(redirect({"Contact: <sip:v6@[2001:db8::10]:5070>;q=0.5"}));
  ASSERT_TRUE(p.result.ok());
  const auto s = collect_contacts(p.mh.msg);
  ASSERT_EQ(s.count, 1u);
  EXPECT_EQ(s.items[0].uri.host, "[2001:db8::10]");
  EXPECT_EQ(s.items[0].uri.host_kind, HostKind::ipv6);
  EXPECT_EQ(s.items[0].uri.port, 5070);
}

TEST(CollectContacts, TargetsAreViewsIntoTheMessage) {
  Parsed p(redirect({"Contact: <sip:a@192.0.2.1>"}));
  ASSERT_TRUE(p.result.ok());
  const auto s = collect_contacts(p.mh.msg);
  ASSERT_EQ(s.count, 1u);
  const auto& text = s.items[0].uri_text;
  EXPECT_GE(text.data(), p.bytes.data());
  EXPECT_LE(text.data() + text.size(), p.bytes.data() + p.bytes.size());
  EXPECT_EQ(s.items[0].uri.text, text);
}

// ---- limits

TEST(CollectContacts, MoreThanSixteenKeepsTheFirstSixteenOfEqualQ) {
  std::string line = "Contact: ";
  for (int i = 0; i < 20; ++i) {
    if (i > 0) line += ", ";
    line += "<sip:t" + std::to_string(i) + "@192.0.2." + std::to_string(i + 1) + ">";
  }
  Parsed p(redirect({line}));
  ASSERT_TRUE(p.result.ok());
  const auto s = collect_contacts(p.mh.msg);
  ASSERT_EQ(s.count, kMaxContactTargets);
  EXPECT_EQ(s.dropped_over_limit, 4u);
  for (std::size_t i = 0; i < s.count; ++i) {
    EXPECT_EQ(s.items[i].order, i);
    EXPECT_EQ(s.items[i].uri_text, "sip:t" + std::to_string(i) + "@192.0.2." + std::to_string(i + 1));
  }
}

TEST(CollectContacts, OverTheLimitTheLowestQFallsOut) {
  // 16 low-q targets, then a better one: it goes first, the last low one goes.
  std::vector<std::string> lines;
  for (int i = 0; i < 16; ++i) lines.push_back("Contact: <sip:low" + std::to_string(i) + "@192.0.2.1>;q=0.1");
  lines.push_back("m: <sip:best@192.0.2.2>;q=0.9, <sip:worst@192.0.2.3>;q=0");
  Parsed p(redirect(lines));
  ASSERT_TRUE(p.result.ok());
  const auto s = collect_contacts(p.mh.msg);
  ASSERT_EQ(s.count, kMaxContactTargets);
  EXPECT_EQ(s.dropped_over_limit, 2u);
  EXPECT_EQ(s.items[0].uri_text, "sip:best@192.0.2.2");
  EXPECT_EQ(s.items[0].order, 16);
  EXPECT_EQ(s.items[1].uri_text, "sip:low0@192.0.2.1");
  EXPECT_EQ(s.items[15].uri_text, "sip:low14@192.0.2.1");
}

// ---- garbage

TEST(CollectContacts, StarAndNonSipSchemesAreSkipped) {
  Parsed p(redirect({"Contact: *", "Contact: <tel:+15551234567>;q=0.9, <mailto:ops@example.com>",
                     "Contact: <sip:ok@192.0.2.1>;q=0.1, <http://example.com/x>"}));
  ASSERT_TRUE(p.result.ok());
  const auto s = collect_contacts(p.mh.msg);
  EXPECT_EQ(uris(s), (Strings{"sip:ok@192.0.2.1"}));
  EXPECT_EQ(s.items[0].order, 3);
  EXPECT_EQ(s.skipped_invalid, 4u);
}

TEST(CollectContacts, GarbageEntriesCostOnlyThemselves) {
  Parsed p(redirect({
      "Contact: <sip:a@192.0.2.1>;q=0.5, <sip:@>, ,<sip:b@192.0.2.2>;q=0.6",
      "Contact: <>, <<sip:x@192.0.2.9>>, sip:, <sip:c@192.0.2.3>;;q=0.1, <sip:d@192.0.2.4>;q=0.4",
      "Contact: sip:e@192.0.2.5?subject=x, <sip:f@192.0.2.6> trailing, <sip:g@192.0.2.7>",
      "Contact: <sip:h@999.0.2.8>, <sip:i@[2001:db8::zz]>, <sip:j@192.0.2.10:99999>",
  }));
  ASSERT_TRUE(p.result.ok());
  const auto s = collect_contacts(p.mh.msg);
  EXPECT_EQ(uris(s), (Strings{"sip:g@192.0.2.7", "sip:b@192.0.2.2", "sip:a@192.0.2.1", "sip:d@192.0.2.4"}));
  EXPECT_EQ(s.skipped_invalid, 11u);
  EXPECT_EQ(s.dropped_over_limit, 0u);
}

TEST(CollectContacts, UnterminatedQuoteOrBracketSwallowsTheRestOfThatHeaderOnly) {
  Parsed p(redirect({"Contact: <sip:a@192.0.2.1>, \"open <sip:b@192.0.2.2>, <sip:c@192.0.2.3>",
                     "Contact: <sip:d@192.0.2.4, <sip:e@192.0.2.5>", "Contact: <sip:f@192.0.2.6>;q=0.2"}));
  ASSERT_TRUE(p.result.ok());
  const auto s = collect_contacts(p.mh.msg);
  EXPECT_EQ(uris(s), (Strings{"sip:a@192.0.2.1", "sip:f@192.0.2.6"}));
  EXPECT_EQ(s.skipped_invalid, 2u);
}

TEST(CollectContacts, EmptyOrAllCommaValues) {
  Parsed p(redirect({"Contact: ,,,", "Contact: <sip:a@192.0.2.1>,"}));
  ASSERT_TRUE(p.result.ok());
  const auto s = collect_contacts(p.mh.msg);
  EXPECT_EQ(uris(s), (Strings{"sip:a@192.0.2.1"}));
  EXPECT_EQ(s.skipped_invalid, 5u);  // four empty entries in the first, one after the trailing comma
}

TEST(CollectContacts, FoldedContactValue) {
  // RFC 3261 §7.3.1: a line break followed by whitespace is linear whitespace.
  Parsed p(redirect({"Contact: <sip:a@192.0.2.1>;q=0.2,\r\n   <sip:b@192.0.2.2>\r\n\t;q=0.7"}));
  ASSERT_TRUE(p.result.ok());
  const auto s = collect_contacts(p.mh.msg);
  EXPECT_EQ(uris(s), (Strings{"sip:b@192.0.2.2", "sip:a@192.0.2.1"}));
  EXPECT_EQ(qs(s), (Ints{700, 200}));
}

TEST(CollectContacts, SameResultAtFullDepthForValidContacts) {
  const auto bytes = redirect({"Contact: \"A\" <sip:a@192.0.2.1>;q=0.5, sip:b@192.0.2.2;q=0.7", "m: <sips:c@[2001:db8::1]>"});
  Parsed relay(bytes, ParseDepth::relay);
  Parsed full(bytes, ParseDepth::full);
  ASSERT_TRUE(relay.result.ok());
  ASSERT_TRUE(full.result.ok());
  const auto a = collect_contacts(relay.mh.msg);
  const auto b = collect_contacts(full.mh.msg);
  EXPECT_EQ(uris(a), (Strings{"sips:c@[2001:db8::1]", "sip:b@192.0.2.2", "sip:a@192.0.2.1"}));
  EXPECT_EQ(uris(a), uris(b));
  EXPECT_EQ(qs(a), qs(b));
  EXPECT_EQ(orders(a), orders(b));
}

TEST(CollectContacts, NeverReadsPastTheMessage) {
  // The message ends right at a guard page: any over-read faults.
  const auto bytes = redirect({"Contact: <sip:a@192.0.2.1>;q=0.5, \"unterminated <sip:b@192.0.2.2"});
  testing::GuardedBuffer buf(bytes);
  ASSERT_TRUE(buf.ready());
  MessageWithHeaders<64> mh;
  ParseOptions opts;
  opts.depth = ParseDepth::relay;
  ASSERT_TRUE(mh.parse(buf.view(), opts).ok());
  const auto s = collect_contacts(mh.msg);
  EXPECT_EQ(uris(s), (Strings{"sip:a@192.0.2.1"}));
  EXPECT_EQ(s.skipped_invalid, 1u);
}

}  // namespace
}  // namespace sigrelay::sip
