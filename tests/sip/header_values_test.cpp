// Header value parsers, written against RFC 3261 §7.3.1 (LWS, folding),
// §20 (header definitions) and §25.1 (grammar), RFC 3581 (rport), RFC 5118
// (IPv6 in Via) and the examples of RFC 4475.
#include "sip/header_values.hpp"
#include "tests/sip/guarded_buffer.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace sigrelay::sip {

// Readable gtest failure messages (found by argument-dependent lookup).
static void PrintTo(Method m, std::ostream* os) {
  const auto name = method_name(m);
  *os << (name.empty() ? std::string("unknown") : std::string(name));
}

namespace {

using namespace std::string_view_literals;

using testing::GuardedBuffer;

// All via-parms of one Via value; `error` reports the list's verdict.
std::vector<Via> vias(std::string_view value, bool& error) {
  std::vector<Via> out;
  ViaList list(value);
  Via v;
  while (list.next(v)) out.push_back(v);
  error = list.error();
  return out;
}

bool via_valid(std::string_view value) {
  bool error = false;
  const auto all = vias(value, error);
  return !error && !all.empty();
}

std::vector<NameAddr> name_addrs(std::string_view value, bool& error, bool allow_star = false) {
  std::vector<NameAddr> out;
  NameAddrList list(value, allow_star);
  NameAddr na;
  while (list.next(na)) out.push_back(na);
  error = list.error();
  return out;
}

bool contained(std::string_view inner, std::string_view outer) {
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

// ---------------------------------------------------------------- Via

TEST(ViaList, SingleViaParm) {
  const auto value = "SIP/2.0/UDP erlang.bell-telephone.com:5060;branch=z9hG4bK87asdks7"sv;
  bool error = true;
  const auto all = vias(value, error);
  EXPECT_FALSE(error);
  ASSERT_EQ(all.size(), 1u);
  const Via& v = all[0];
  EXPECT_EQ(v.text, value);
  EXPECT_EQ(v.protocol, "SIP/2.0/UDP");
  EXPECT_EQ(v.transport, "UDP");
  EXPECT_EQ(v.host, "erlang.bell-telephone.com");
  EXPECT_TRUE(v.has_port);
  EXPECT_EQ(v.port, 5060);
  EXPECT_EQ(v.params, "branch=z9hG4bK87asdks7");
  EXPECT_TRUE(v.has_branch);
  EXPECT_EQ(v.branch, "z9hG4bK87asdks7");
  EXPECT_FALSE(v.has_rport);
  EXPECT_EQ(v.received, "");
  EXPECT_EQ(v.maddr, "");
  EXPECT_EQ(v.ttl, "");
  EXPECT_TRUE(contained(v.host, value));
  EXPECT_TRUE(contained(v.branch, value));
}

TEST(ViaList, WithoutPortOrParams) {
  bool error = true;
  const auto all = vias("SIP/2.0/TCP client.example.com", error);
  EXPECT_FALSE(error);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].transport, "TCP");
  EXPECT_EQ(all[0].host, "client.example.com");
  EXPECT_FALSE(all[0].has_port);
  EXPECT_EQ(all[0].port, 0);
  EXPECT_EQ(all[0].params, "");
  EXPECT_FALSE(all[0].has_branch);
  EXPECT_EQ(all[0].branch, "");
}

TEST(ViaList, Rfc3261Section20_42Examples) {
  // The three Via examples of RFC 3261 §20.42, including LWS around '/'
  // and ':' (SLASH and COLON are SWS-delimited) and before ';'.
  bool error = true;
  auto all = vias("SIP/2.0/UDP 192.0.2.1:5060 ;received=192.0.2.207\r\n  ;branch=z9hG4bK77asjd", error);
  EXPECT_FALSE(error);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].host, "192.0.2.1");
  EXPECT_EQ(all[0].port, 5060);
  EXPECT_EQ(all[0].received, "192.0.2.207");
  EXPECT_EQ(all[0].branch, "z9hG4bK77asjd");

  all = vias("SIP / 2.0 / UDP first.example.com: 4000;ttl=16\r\n  ;maddr=224.2.0.1 ;branch=z9hG4bKa7c6a8dlze.1",
             error);
  EXPECT_FALSE(error);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].transport, "UDP");
  EXPECT_EQ(all[0].host, "first.example.com");
  EXPECT_TRUE(all[0].has_port);
  EXPECT_EQ(all[0].port, 4000);
  EXPECT_EQ(all[0].ttl, "16");
  EXPECT_EQ(all[0].maddr, "224.2.0.1");
  EXPECT_EQ(all[0].branch, "z9hG4bKa7c6a8dlze.1");
}

TEST(ViaList, LwsAroundPortColon) {
  // sent-by = host [ COLON port ], COLON = SWS ":" SWS.
  for (std::string_view value : {"SIP/2.0/UDP host.example.com:5070", "SIP/2.0/UDP host.example.com :5070",
                                 "SIP/2.0/UDP host.example.com: 5070", "SIP/2.0/UDP host.example.com : 5070",
                                 "SIP/2.0/UDP host.example.com\r\n :\r\n 5070"}) {
    bool error = true;
    const auto all = vias(value, error);
    EXPECT_FALSE(error) << value;
    ASSERT_EQ(all.size(), 1u) << value;
    EXPECT_EQ(all[0].host, "host.example.com") << value;
    EXPECT_TRUE(all[0].has_port) << value;
    EXPECT_EQ(all[0].port, 5070) << value;
  }
}

TEST(ViaList, FoldedLwsAroundSlashSemicolonAndEquals) {
  // Shaped like RFC 4475 §3.1.1.1 (wsinv): folding everywhere LWS may go.
  const auto value =
      "SIP  / 2.0  / TCP     spindle.example.com   ;\r\n"
      "  branch  =   z9hG4bK9ikj8  ,\r\n"
      " SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n"
      " z9hG4bK30239"sv;
  bool error = true;
  const auto all = vias(value, error);
  EXPECT_FALSE(error);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].transport, "TCP");
  EXPECT_EQ(all[0].host, "spindle.example.com");
  EXPECT_FALSE(all[0].has_port);
  EXPECT_EQ(all[0].branch, "z9hG4bK9ikj8");
  EXPECT_EQ(all[1].transport, "UDP");
  EXPECT_EQ(all[1].host, "192.168.255.111");
  EXPECT_EQ(all[1].branch, "z9hG4bK30239");

  const auto value2 = "SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw"sv;
  const auto two = vias(value2, error);
  EXPECT_FALSE(error);
  ASSERT_EQ(two.size(), 1u);
  EXPECT_EQ(two[0].transport, "UDP");
  EXPECT_EQ(two[0].host, "192.0.2.2");
  EXPECT_EQ(two[0].branch, "390skdjuw");
}

TEST(ViaList, CommaSeparatedList) {
  const auto value =
      "SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com:5061;branch=z9hG4bK2 ,"
      "SIP/2.0/TLS [2001:db8::9:1]:5061;branch=z9hG4bK3"sv;
  bool error = true;
  const auto all = vias(value, error);
  EXPECT_FALSE(error);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].host, "a.example.com");
  EXPECT_EQ(all[0].branch, "z9hG4bK1");
  EXPECT_EQ(all[0].text, "SIP/2.0/UDP a.example.com;branch=z9hG4bK1");
  EXPECT_EQ(all[1].transport, "TCP");
  EXPECT_EQ(all[1].host, "b.example.com");
  EXPECT_EQ(all[1].port, 5061);
  EXPECT_EQ(all[1].branch, "z9hG4bK2");
  EXPECT_EQ(all[1].text, "SIP/2.0/TCP b.example.com:5061;branch=z9hG4bK2");
  EXPECT_EQ(all[2].transport, "TLS");
  EXPECT_EQ(all[2].host, "[2001:db8::9:1]");
  EXPECT_EQ(all[2].port, 5061);
  EXPECT_EQ(all[2].branch, "z9hG4bK3");
}

TEST(ViaList, TransportsAndProtocolCase) {
  // RFC 4475 §3.1.1.10: SCTP and unknown transport tokens are valid.
  for (std::string_view t : {"UDP", "TCP", "TLS", "SCTP", "UNKNOWN", "WS"}) {
    const std::string value = "SIP/2.0/" + std::string(t) + " t.example.com;branch=z9hG4bKx";
    bool error = true;
    const auto all = vias(value, error);
    EXPECT_FALSE(error) << value;
    ASSERT_EQ(all.size(), 1u) << value;
    EXPECT_EQ(all[0].transport, t);
  }
}

TEST(ViaList, Ipv6SentBy) {
  // RFC 5118 §4.1, §4.7, §4.9.
  bool error = true;
  auto all = vias("SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111", error);
  EXPECT_FALSE(error);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].host, "[2001:db8::9:1]");
  EXPECT_FALSE(all[0].has_port);

  all = vias("SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19", error);
  EXPECT_FALSE(error);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].host, "[::ffff:192.0.2.10]");
  EXPECT_EQ(all[0].port, 19823);

  // received holds an unbracketed IPv6address (RFC 3261 via-received).
  all = vias("SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111;received=2001:db8::9:255", error);
  EXPECT_FALSE(error);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].port, 6050);
  EXPECT_EQ(all[0].received, "2001:db8::9:255");
  EXPECT_EQ(all[0].branch, "z9hG4bKas3-111");

  EXPECT_FALSE(via_valid("SIP/2.0/UDP 2001:db8::9:1;branch=z9hG4bK1"));
  EXPECT_FALSE(via_valid("SIP/2.0/UDP [2001:db8::9:1;branch=z9hG4bK1"));
}

TEST(ViaList, BracketedReceivedIsTolerated) {
  // RFC 5118 §4.5: not strictly valid, but an element should accept it.
  bool error = true;
  const auto all = vias("SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111", error);
  EXPECT_FALSE(error);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].branch, "z9hG4bKas3-111");
  EXPECT_TRUE(all[0].received == "[2001:db8::9:255]" || all[0].received == "2001:db8::9:255") << all[0].received;
}

TEST(ViaList, ParamExtraction) {
  bool error = true;
  const auto all = vias(
      "SIP/2.0/UDP pc33.atlanta.com;Branch=z9hG4bK776asdhds;rport=5066;received=192.0.2.4;"
      "maddr=224.2.0.1;ttl=16;x-ext;x-q=\"a,b;c\"",
      error);
  EXPECT_FALSE(error);
  ASSERT_EQ(all.size(), 1u);
  const Via& v = all[0];
  EXPECT_TRUE(v.has_branch);  // parameter names are case-insensitive (§7.3.1)
  EXPECT_EQ(v.branch, "z9hG4bK776asdhds");
  EXPECT_TRUE(v.has_rport);
  EXPECT_EQ(v.rport, "5066");
  EXPECT_EQ(v.received, "192.0.2.4");
  EXPECT_EQ(v.maddr, "224.2.0.1");
  EXPECT_EQ(v.ttl, "16");
  EXPECT_EQ(v.params,
            "Branch=z9hG4bK776asdhds;rport=5066;received=192.0.2.4;maddr=224.2.0.1;ttl=16;x-ext;x-q=\"a,b;c\"");
}

TEST(ViaList, BareRport) {
  // RFC 3581 §3: response-port = "rport" [EQUAL 1*DIGIT]
  bool error = true;
  auto all = vias("SIP/2.0/UDP 192.0.2.1;rport;branch=z9hG4bKx", error);
  EXPECT_FALSE(error);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all[0].has_rport);
  EXPECT_EQ(all[0].rport, "");
  EXPECT_EQ(all[0].branch, "z9hG4bKx");

  all = vias("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx;rport", error);
  EXPECT_FALSE(error);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all[0].has_rport);
  EXPECT_EQ(all[0].rport, "");
}

TEST(ViaList, Malformed) {
  EXPECT_FALSE(via_valid(""));
  EXPECT_FALSE(via_valid("   "));
  EXPECT_FALSE(via_valid("SIP/2.0"));                              // no transport
  EXPECT_FALSE(via_valid("SIP/2.0/ host.example.com"));
  EXPECT_FALSE(via_valid("SIP/2.0/UDP"));                          // no sent-by
  EXPECT_FALSE(via_valid("SIP/2.0/UDP "));
  EXPECT_FALSE(via_valid("SIP/2.0/UDP ;branch=z9hG4bK1"));
  EXPECT_FALSE(via_valid("SIP/2.0/UDPhost.example.com"));          // LWS required before sent-by
  EXPECT_FALSE(via_valid("SIP/2.0/UDP host.example.com:"));
  EXPECT_FALSE(via_valid("SIP/2.0/UDP host.example.com:65536"));
  EXPECT_FALSE(via_valid("SIP/2.0/UDP host.example.com;;branch=z9hG4bK1"));  // empty param
  EXPECT_FALSE(via_valid("SIP/2.0/UDP 192.0.2.15;;,;,,"));       // RFC 4475 §3.1.2.1
  EXPECT_FALSE(via_valid("SIP/2.0/UDP host.example.com;"));
  EXPECT_FALSE(via_valid("SIP/2.0/UDP host.example.com;=x"));
  EXPECT_FALSE(via_valid("SIP/2.0/UDP host.example.com;branch="));  // branch = token, 1 char at least
  EXPECT_FALSE(via_valid("SIP/2.0/UDP host.example.com;branch=z9hG4bK1 junk"));
  EXPECT_FALSE(via_valid("SIP/2.0/UDP host.example.com;x=\"unterminated"));
  EXPECT_FALSE(via_valid("SIP/2.0/UDP host example.com"));
  EXPECT_FALSE(via_valid("SIP/2.0/UDP <host.example.com>"));
}

TEST(ViaList, TrailingAndEmptyElementsInList) {
  // via-parm *(COMMA via-parm): no empty elements.
  for (std::string_view value : {"SIP/2.0/UDP a.example.com;branch=z9hG4bK1,",
                                 "SIP/2.0/UDP a.example.com;branch=z9hG4bK1 , ",
                                 "SIP/2.0/UDP a.example.com;branch=z9hG4bK1,,SIP/2.0/UDP b.example.com",
                                 ",SIP/2.0/UDP a.example.com",
                                 "SIP/2.0/UDP a.example.com, junk"}) {
    bool error = false;
    (void)vias(value, error);
    EXPECT_TRUE(error) << value;
  }
}

TEST(ViaList, StopsAfterError) {
  ViaList list("SIP/2.0/UDP a.example.com;;x");
  Via v;
  EXPECT_FALSE(list.next(v));
  EXPECT_TRUE(list.error());
  EXPECT_FALSE(list.next(v));
  EXPECT_TRUE(list.error());
}

// ---------------------------------------------------------------- name-addr

TEST(NameAddr, QuotedDisplayWithEscapedQuote) {
  const auto value = "\"Alice \\\"Al\\\" Smith\" <sip:alice@atlanta.com>;tag=1928301774"sv;
  NameAddr na;
  ASSERT_TRUE(parse_name_addr(value, na));
  EXPECT_EQ(na.display, "\"Alice \\\"Al\\\" Smith\"");
  EXPECT_TRUE(na.bracketed);
  EXPECT_EQ(na.uri_text, "sip:alice@atlanta.com");
  EXPECT_EQ(na.uri.scheme, UriScheme::sip);
  EXPECT_EQ(na.uri.user, "alice");
  EXPECT_EQ(na.uri.host, "atlanta.com");
  EXPECT_EQ(na.params, "tag=1928301774");
  EXPECT_TRUE(na.has_tag);
  EXPECT_EQ(na.tag, "1928301774");
  EXPECT_EQ(na.text, value);
  EXPECT_FALSE(na.star);
}

TEST(NameAddr, QuotedDisplayEndingInEscapedBackslashAndQuote) {
  // RFC 4475 §3.1.1.1: "J Rosenberg \\\"" is quoted-pair '\' then quoted-pair '"'.
  NameAddr na;
  ASSERT_TRUE(parse_name_addr("\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8", na));
  EXPECT_EQ(na.display, "\"J Rosenberg \\\\\\\"\"");
  EXPECT_EQ(na.uri_text, "sip:jdrosen@example.com");
  EXPECT_EQ(na.tag, "98asjd8");
}

TEST(NameAddr, QuotedDisplayWithoutSpaceBeforeAngle) {
  // LAQUOT = SWS "<": the whitespace is optional after a quoted-string.
  NameAddr na;
  ASSERT_TRUE(parse_name_addr("\"Bob\"<sip:bob@biloxi.com>", na));
  EXPECT_EQ(na.display, "\"Bob\"");
  EXPECT_EQ(na.uri_text, "sip:bob@biloxi.com");
}

TEST(NameAddr, TokenDisplayName) {
  NameAddr na;
  ASSERT_TRUE(parse_name_addr("Bob Smith <sip:bob@biloxi.com>;tag=a6c85cf", na));
  EXPECT_EQ(trim_lws(na.display), "Bob Smith");
  EXPECT_TRUE(na.bracketed);
  EXPECT_EQ(na.uri_text, "sip:bob@biloxi.com");
  EXPECT_EQ(na.tag, "a6c85cf");

  ASSERT_TRUE(parse_name_addr("Mr.J.User-1 <sip:j@example.com>", na));
  EXPECT_EQ(trim_lws(na.display), "Mr.J.User-1");
}

TEST(NameAddr, NoDisplayName) {
  NameAddr na;
  ASSERT_TRUE(parse_name_addr("<sip:bob@biloxi.com>", na));
  EXPECT_EQ(na.display, "");
  EXPECT_TRUE(na.bracketed);
  EXPECT_EQ(na.uri_text, "sip:bob@biloxi.com");
  EXPECT_FALSE(na.has_tag);
  EXPECT_EQ(na.tag, "");
  EXPECT_EQ(na.params, "");
}

TEST(NameAddr, ParamsInsideAndAfterBrackets) {
  NameAddr na;
  ASSERT_TRUE(parse_name_addr("<sip:bob@biloxi.com;transport=tcp;lr> ; tag = a6c85cf ;q=0.7;expires=60", na));
  EXPECT_EQ(na.uri_text, "sip:bob@biloxi.com;transport=tcp;lr");
  EXPECT_EQ(na.uri.params, "transport=tcp;lr");
  EXPECT_TRUE(na.has_tag);
  EXPECT_EQ(na.tag, "a6c85cf");
  EXPECT_EQ(find_param(na.params, "q"), std::optional<std::string_view>("0.7"));
  EXPECT_EQ(find_param(na.params, "expires"), std::optional<std::string_view>("60"));
  EXPECT_EQ(find_param(na.params, "transport"), std::nullopt);  // URI param, not header param
}

TEST(NameAddr, BareAddrSpecParamsAreHeaderParams) {
  // RFC 3261 §20.10 / RFC 4475 §3.3.12: without <>, ';' params after the
  // URI belong to the header field, not to the URI.
  NameAddr na;
  ASSERT_TRUE(parse_name_addr("sip:alice@atlanta.com;tag=88sja8x", na));
  EXPECT_FALSE(na.bracketed);
  EXPECT_EQ(na.display, "");
  EXPECT_EQ(na.uri_text, "sip:alice@atlanta.com");
  EXPECT_EQ(na.uri.params, "");
  EXPECT_EQ(na.params, "tag=88sja8x");
  EXPECT_TRUE(na.has_tag);
  EXPECT_EQ(na.tag, "88sja8x");

  ASSERT_TRUE(parse_name_addr("sip:user@example.com;transport=tcp;unknownparam", na));
  EXPECT_EQ(na.uri_text, "sip:user@example.com");
  EXPECT_EQ(na.uri.params, "");
  EXPECT_EQ(find_param(na.params, "unknownparam"), std::optional<std::string_view>(""));
  EXPECT_FALSE(na.has_tag);

  // LWS before the header params (RFC 4475 §3.1.1.1).
  ASSERT_TRUE(parse_name_addr("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n", na));
  EXPECT_EQ(na.uri_text, "sip:vivekg@chair-dnrc.example.com");
  EXPECT_EQ(na.tag, "1918181833n");
}

TEST(NameAddr, NonSipUris) {
  NameAddr na;
  ASSERT_TRUE(parse_name_addr("<tel:+12025550100>;tag=1", na));
  EXPECT_EQ(na.uri.scheme, UriScheme::tel);
  EXPECT_EQ(na.uri.user, "+12025550100");
  EXPECT_EQ(na.tag, "1");
  ASSERT_TRUE(parse_name_addr("\"Dispatch\" <urn:service:sos>", na));
  EXPECT_EQ(na.uri.scheme, UriScheme::other);
}

TEST(NameAddr, ContactStar) {
  NameAddr na;
  ASSERT_TRUE(parse_name_addr("*", na, /*allow_star=*/true));
  EXPECT_TRUE(na.star);
  ASSERT_TRUE(parse_name_addr(" * ", na, /*allow_star=*/true));  // STAR = SWS "*" SWS
  EXPECT_TRUE(na.star);
  EXPECT_FALSE(parse_name_addr("*", na, /*allow_star=*/false));
  EXPECT_FALSE(parse_name_addr("*;expires=0", na, /*allow_star=*/true));
  EXPECT_FALSE(parse_name_addr("* junk", na, /*allow_star=*/true));
}

TEST(NameAddr, Malformed) {
  NameAddr na;
  EXPECT_FALSE(parse_name_addr("", na));
  EXPECT_FALSE(parse_name_addr("  ", na));
  // §20.10: a URI with '?' (or ',' / ';' meant for the URI) needs <>.
  EXPECT_FALSE(parse_name_addr("sip:bob@biloxi.com?subject=hi", na));
  EXPECT_FALSE(parse_name_addr("sip:user@example.com?Route=%3Csip:example.com%3E", na));  // RFC 4475 §3.1.2.13
  // Unterminated quoted-string (RFC 4475 §3.1.2.6).
  EXPECT_FALSE(parse_name_addr("\"Mr. J. User <sip:j.user@example.com>", na));
  EXPECT_FALSE(parse_name_addr("\"ends in backslash\\\" <sip:a@example.com>", na));
  // addr-spec contains no spaces; RAQUOT/LAQUOT allow none inside (RFC 4475 §3.1.2.14).
  EXPECT_FALSE(parse_name_addr("\"Watson, Thomas\" < sip:t.watson@example.org >", na));
  EXPECT_FALSE(parse_name_addr("<sip:alice @atlanta.com>", na));
  EXPECT_FALSE(parse_name_addr("<sip:alice@atlanta.com", na));  // unclosed
  EXPECT_FALSE(parse_name_addr("<>", na));
  EXPECT_FALSE(parse_name_addr("<sip:alice@atlanta.com> junk", na));
  EXPECT_FALSE(parse_name_addr("<sip:alice@atlanta.com>;;tag=1", na));
  EXPECT_FALSE(parse_name_addr("<sip:alice@atlanta.com>;", na));
  EXPECT_FALSE(parse_name_addr("<sip:alice@atlanta.com>;tag=", na));
  EXPECT_FALSE(parse_name_addr("J@ck <sip:j@example.com>", na));  // '@' is not a token character
  EXPECT_FALSE(parse_name_addr("<sip:a@example.com>, <sip:b@example.com>", na));  // one value only
  EXPECT_FALSE(parse_name_addr("alice", na));
}

TEST(NameAddrList, CommasInsideQuotesAndBracketsDoNotSplit) {
  const auto value =
      "\"Doe, John\" <sip:john@example.com>;q=0.9, <sip:a,b@example.net>;q=0.5,\r\n"
      " \"x\\\",y\" <sip:x@example.org>,sip:bare@example.com;expires=30"sv;
  bool error = true;
  const auto all = name_addrs(value, error);
  EXPECT_FALSE(error);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].display, "\"Doe, John\"");
  EXPECT_EQ(all[0].uri_text, "sip:john@example.com");
  EXPECT_EQ(find_param(all[0].params, "q"), std::optional<std::string_view>("0.9"));
  EXPECT_EQ(all[1].uri_text, "sip:a,b@example.net");
  EXPECT_EQ(all[1].uri.user, "a,b");
  EXPECT_EQ(find_param(all[1].params, "q"), std::optional<std::string_view>("0.5"));
  EXPECT_EQ(all[2].display, "\"x\\\",y\"");
  EXPECT_EQ(all[2].uri_text, "sip:x@example.org");
  EXPECT_FALSE(all[3].bracketed);
  EXPECT_EQ(all[3].uri_text, "sip:bare@example.com");
  EXPECT_EQ(find_param(all[3].params, "expires"), std::optional<std::string_view>("30"));
}

TEST(NameAddrList, SingleEntryAndStar) {
  bool error = true;
  auto all = name_addrs("<sip:bob@192.0.2.4>", error);
  EXPECT_FALSE(error);
  ASSERT_EQ(all.size(), 1u);
  all = name_addrs("*", error, /*allow_star=*/true);
  EXPECT_FALSE(error);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all[0].star);
}

TEST(NameAddrList, Malformed) {
  for (std::string_view value : {"", "<sip:a@example.com>,", "<sip:a@example.com>, ", ", <sip:a@example.com>",
                                 "<sip:a@example.com>,,<sip:b@example.com>", "<sip:a@example.com> <sip:b@example.com>",
                                 "\"Joe\" <sip:joe@example.org>;;;;"}) {
    bool error = false;
    (void)name_addrs(value, error);
    EXPECT_TRUE(error) << value;
  }
}

TEST(NameAddrList, StarCannotBeListed) {
  // Contact = ( STAR / (contact-param *(COMMA contact-param)) ): '*' stands alone.
  for (std::string_view value : {"*, <sip:a@example.com>", "<sip:a@example.com>, *"}) {
    bool error = false;
    (void)name_addrs(value, error, /*allow_star=*/true);
    EXPECT_TRUE(error) << value;
  }
}

// ---------------------------------------------------------------- CSeq

TEST(CSeqValue, Basic) {
  CSeq c;
  ASSERT_TRUE(parse_cseq("4711 INVITE", c));
  EXPECT_EQ(c.number, 4711u);
  EXPECT_EQ(c.method, "INVITE");
  EXPECT_EQ(c.method_id, Method::invite);
  ASSERT_TRUE(parse_cseq("1 REGISTER", c));
  EXPECT_EQ(c.method_id, Method::register_);
  ASSERT_TRUE(parse_cseq("0 ACK", c));
  EXPECT_EQ(c.number, 0u);
  EXPECT_EQ(c.method_id, Method::ack);
}

TEST(CSeqValue, LwsAndFoldingBetweenNumberAndMethod) {
  CSeq c;
  ASSERT_TRUE(parse_cseq("0009\r\n  INVITE", c));  // RFC 4475 §3.1.1.1
  EXPECT_EQ(c.number, 9u);
  EXPECT_EQ(c.method, "INVITE");
  ASSERT_TRUE(parse_cseq("12 \t OPTIONS", c));
  EXPECT_EQ(c.number, 12u);
  EXPECT_EQ(c.method, "OPTIONS");
}

TEST(CSeqValue, LeadingZeros) {
  CSeq c;
  ASSERT_TRUE(parse_cseq("00000000000000000000000001 BYE", c));
  EXPECT_EQ(c.number, 1u);
  EXPECT_EQ(c.method_id, Method::bye);
}

TEST(CSeqValue, ThirtyTwoBitBound) {
  // RFC 3261 §8.1.1.5: the sequence number MUST be expressible as a 32-bit unsigned integer.
  CSeq c;
  ASSERT_TRUE(parse_cseq("4294967295 INVITE", c));
  EXPECT_EQ(c.number, 4294967295u);
  EXPECT_FALSE(parse_cseq("4294967296 INVITE", c));
  EXPECT_FALSE(parse_cseq("36893488147419103232 REGISTER", c));  // RFC 4475 §3.1.2.4
  EXPECT_FALSE(parse_cseq("99999999999999999999999999999999 INVITE", c));
}

TEST(CSeqValue, ExtensionAndCaseSensitiveMethods) {
  // Methods are case-sensitive (§7.1): "invite" is an extension method.
  CSeq c;
  ASSERT_TRUE(parse_cseq("1 invite", c));
  EXPECT_EQ(c.method, "invite");
  EXPECT_EQ(c.method_id, Method::unknown);
  ASSERT_TRUE(parse_cseq("3 RE%47IST%45R", c));  // RFC 4475 §3.1.1.5: '%' is a token char
  EXPECT_EQ(c.method, "RE%47IST%45R");
  EXPECT_EQ(c.method_id, Method::unknown);
}

TEST(CSeqValue, Malformed) {
  CSeq c;
  EXPECT_FALSE(parse_cseq("", c));
  EXPECT_FALSE(parse_cseq("4711", c));           // missing method
  EXPECT_FALSE(parse_cseq("4711 ", c));
  EXPECT_FALSE(parse_cseq("INVITE", c));         // missing number
  EXPECT_FALSE(parse_cseq("INVITE 4711", c));
  EXPECT_FALSE(parse_cseq("4711INVITE", c));     // LWS required
  EXPECT_FALSE(parse_cseq("4711 INVITE x", c));  // trailing junk
  EXPECT_FALSE(parse_cseq("4711 INVITE;x", c));
  EXPECT_FALSE(parse_cseq("-1 INVITE", c));
  EXPECT_FALSE(parse_cseq("+1 INVITE", c));
  EXPECT_FALSE(parse_cseq("1.5 INVITE", c));
  EXPECT_FALSE(parse_cseq("abc INVITE", c));
  EXPECT_FALSE(parse_cseq("1 INV@TE", c));
  EXPECT_FALSE(parse_cseq("1, 2 INVITE", c));
}

// ---------------------------------------------------------------- parse_uint

TEST(ParseUint, Bounds) {
  EXPECT_EQ(parse_uint("0", 255), std::optional<std::uint32_t>(0));
  EXPECT_EQ(parse_uint("70", 255), std::optional<std::uint32_t>(70));
  EXPECT_EQ(parse_uint("255", 255), std::optional<std::uint32_t>(255));
  EXPECT_EQ(parse_uint("256", 255), std::nullopt);
  EXPECT_EQ(parse_uint("0068", 255), std::optional<std::uint32_t>(68));
  EXPECT_EQ(parse_uint("000000000000000000000000255", 255), std::optional<std::uint32_t>(255));
  EXPECT_EQ(parse_uint("4294967295", 4294967295u), std::optional<std::uint32_t>(4294967295u));
  EXPECT_EQ(parse_uint("4294967296", 4294967295u), std::nullopt);
  EXPECT_EQ(parse_uint("18446744073709551617", 4294967295u), std::nullopt);  // wraps 64 bits
  EXPECT_EQ(parse_uint("0", 0), std::optional<std::uint32_t>(0));
  EXPECT_EQ(parse_uint("1", 0), std::nullopt);
}

TEST(ParseUint, Syntax) {
  EXPECT_EQ(parse_uint(" 70 ", 255), std::optional<std::uint32_t>(70));
  EXPECT_EQ(parse_uint("\r\n 70", 255), std::optional<std::uint32_t>(70));
  EXPECT_EQ(parse_uint("", 255), std::nullopt);
  EXPECT_EQ(parse_uint("  ", 255), std::nullopt);
  EXPECT_EQ(parse_uint("7 0", 255), std::nullopt);
  EXPECT_EQ(parse_uint("+1", 255), std::nullopt);
  EXPECT_EQ(parse_uint("-1", 255), std::nullopt);
  EXPECT_EQ(parse_uint("-999", 65535), std::nullopt);  // RFC 4475 §3.1.2.3
  EXPECT_EQ(parse_uint("0x10", 255), std::nullopt);
  EXPECT_EQ(parse_uint("1a", 255), std::nullopt);
  EXPECT_EQ(parse_uint("1,2", 255), std::nullopt);
}

// ---------------------------------------------------------------- Call-ID

TEST(CallId, Valid) {
  EXPECT_TRUE(valid_call_id("f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com"));  // §20.8
  EXPECT_TRUE(valid_call_id("a84b4c76e66710"));
  EXPECT_TRUE(valid_call_id("3848276298220188511@atlanta.example.com"));
  EXPECT_TRUE(valid_call_id("SSG9559905523997077@hlau_4100"));
  EXPECT_TRUE(valid_call_id("[2001:db8::1]@[::1]"));
  // word = 1*( alphanum / - . ! % * _ + ` ' ~ ( ) < > : \ DQUOTE / [ ] ? { } )
  EXPECT_TRUE(valid_call_id("a-.!%*_+`'~()<>:\\\"/[]?{}z@w"));
}

TEST(CallId, Invalid) {
  EXPECT_FALSE(valid_call_id(""));
  EXPECT_FALSE(valid_call_id("abc def"));
  EXPECT_FALSE(valid_call_id("abc@def ghi"));
  EXPECT_FALSE(valid_call_id("@host"));
  EXPECT_FALSE(valid_call_id("id@"));
  EXPECT_FALSE(valid_call_id("@"));
  EXPECT_FALSE(valid_call_id("a@b@c"));
  EXPECT_FALSE(valid_call_id("a,b"));   // RFC 4475 §3.3.8: two Call-IDs in one header
  EXPECT_FALSE(valid_call_id("a;b"));
  EXPECT_FALSE(valid_call_id("a=b"));
  EXPECT_FALSE(valid_call_id("a\tb"));
  EXPECT_FALSE(valid_call_id("a\r\n b"));
  EXPECT_FALSE(valid_call_id("ab\0c"sv));
  EXPECT_FALSE(valid_call_id("caf\xc3\xa9"));
}

// ---------------------------------------------------------------- trim_lws

TEST(TrimLws, StripsSpaceTabCrLf) {
  EXPECT_EQ(trim_lws(" \t\r\n x y \r\n\t "), "x y");
  EXPECT_EQ(trim_lws("x"), "x");
  EXPECT_EQ(trim_lws(""), "");
  EXPECT_EQ(trim_lws(" \r\n\t"), "");
  EXPECT_EQ(trim_lws("a\r\n b"), "a\r\n b");  // inner folding stays
  const auto s = "  abc  "sv;
  EXPECT_EQ(trim_lws(s).data(), s.data() + 2);  // a view, not a copy
}

// ---------------------------------------------------------------- robustness

TEST(HeaderValuesRobustness, EveryPrefixAgainstAGuardPage) {
  GuardedBuffer buf;
  ASSERT_TRUE(buf.ready());
  const std::string_view via =
      "SIP / 2.0 / UDP [2001:db8::9:1] : 5060 ;received=192.0.2.1;rport;x=\"q\\\"\",\r\n"
      " SIP/2.0/TCP h.example.com;branch=z9hG4bK1";
  const std::string_view contact =
      "\"A \\\"b\\\", c\" <sip:a,b@[::1]:5060;lr>;q=0.5 , sip:x@y.example;tag=1, <tel:+1201>";
  const std::string_view cseq = "0009\r\n INVITE";
  const std::size_t first_valid = std::string_view("0009\r\n I").size();
  for (std::size_t n = 0; n <= via.size(); ++n) {
    const auto v = buf.place(via.substr(0, n));
    ViaList list(v);
    Via out;
    std::size_t count = 0;
    while (list.next(out) && count < 16) {
      EXPECT_TRUE(contained(out.text, v));
      EXPECT_TRUE(contained(out.host, v));
      EXPECT_TRUE(contained(out.branch, v) || out.branch.empty());
      ++count;
    }
    if (n == via.size()) {
      EXPECT_FALSE(list.error());
      EXPECT_EQ(count, 2u);
    }
  }
  for (std::size_t n = 0; n <= contact.size(); ++n) {
    const auto v = buf.place(contact.substr(0, n));
    NameAddrList list(v, true);
    NameAddr out;
    std::size_t count = 0;
    while (list.next(out) && count < 16) {
      EXPECT_TRUE(contained(out.uri_text, v));
      ++count;
    }
    if (n == contact.size()) {
      EXPECT_FALSE(list.error());
      EXPECT_EQ(count, 3u);
    }
    NameAddr single;
    (void)parse_name_addr(v, single, true);
  }
  for (std::size_t n = 0; n <= cseq.size(); ++n) {
    CSeq c;
    const bool ok = parse_cseq(buf.place(cseq.substr(0, n)), c);
    EXPECT_EQ(ok, n >= first_valid) << n;
    (void)parse_uint(buf.place(cseq.substr(0, n)), 0xffffffffu);
    (void)valid_call_id(buf.place(cseq.substr(0, n)));
    (void)trim_lws(buf.place(cseq.substr(0, n)));
  }
}

}  // namespace
}  // namespace sigrelay::sip
