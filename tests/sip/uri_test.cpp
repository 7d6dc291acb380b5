// URI views, written against the grammars of RFC 3261 §19.1 / §25.1 (sip, sips,
// absoluteURI), RFC 3966 §3 (tel), RFC 5954 §4.1 (corrected IPv6address and
// IPv4 dec-octet) and the IPv6 torture cases of RFC 5118 §4.
#include "sip/uri.hpp"
#include "tests/sip/guarded_buffer.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <ostream>
#include <string>
#include <string_view>

namespace sigrelay::sip {

// Readable gtest failure messages (found by argument-dependent lookup).
static void PrintTo(HostKind k, std::ostream* os) {
  constexpr const char* kNames[] = {"none", "hostname", "ipv4", "ipv6"};
  *os << kNames[static_cast<int>(k) & 3];
}
static void PrintTo(UriScheme s, std::ostream* os) {
  constexpr const char* kNames[] = {"sip", "sips", "tel", "other"};
  *os << kNames[static_cast<int>(s) & 3];
}

namespace {

using namespace std::string_view_literals;

bool parses(std::string_view text) {
  Uri u;
  return parse_uri(text, u);
}

using testing::GuardedBuffer;

// ---------------------------------------------------------------- schemes

TEST(UriScheme, SipWithUserAndHost) {
  Uri u;
  ASSERT_TRUE(parse_uri("sip:alice@atlanta.com", u));
  EXPECT_EQ(u.scheme, UriScheme::sip);
  EXPECT_EQ(u.scheme_text, "sip");
  EXPECT_EQ(u.text, "sip:alice@atlanta.com");
  EXPECT_TRUE(u.has_user);
  EXPECT_EQ(u.user, "alice");
  EXPECT_EQ(u.password, "");
  EXPECT_EQ(u.host, "atlanta.com");
  EXPECT_EQ(u.host_kind, HostKind::hostname);
  EXPECT_FALSE(u.has_port);
  EXPECT_EQ(u.params, "");
  EXPECT_EQ(u.headers, "");
  EXPECT_EQ(u.opaque, "");
}

TEST(UriScheme, SipsWithHeaders) {
  // RFC 3261 §19.1.3 example.
  Uri u;
  ASSERT_TRUE(parse_uri("sips:alice@atlanta.com?subject=project%20x&priority=urgent", u));
  EXPECT_EQ(u.scheme, UriScheme::sips);
  EXPECT_EQ(u.user, "alice");
  EXPECT_EQ(u.host, "atlanta.com");
  EXPECT_EQ(u.headers, "subject=project%20x&priority=urgent");
  EXPECT_EQ(u.params, "");
}

TEST(UriScheme, SchemeIsCaseInsensitive) {
  // RFC 3261 §19.1.4: scheme names compare case-insensitively.
  Uri u;
  ASSERT_TRUE(parse_uri("SIP:alice@atlanta.com", u));
  EXPECT_EQ(u.scheme, UriScheme::sip);
  EXPECT_EQ(u.scheme_text, "SIP");
  ASSERT_TRUE(parse_uri("sIpS:bob@biloxi.com", u));
  EXPECT_EQ(u.scheme, UriScheme::sips);
  ASSERT_TRUE(parse_uri("TEL:+12025550100", u));
  EXPECT_EQ(u.scheme, UriScheme::tel);
}

TEST(UriScheme, OtherAbsoluteUrisStayOpaque) {
  // RFC 3261 §25.1: Request-URI and addr-spec may be any absoluteURI.
  Uri u;
  ASSERT_TRUE(parse_uri("mailto:alice@example.com", u));
  EXPECT_EQ(u.scheme, UriScheme::other);
  EXPECT_EQ(u.scheme_text, "mailto");
  EXPECT_EQ(u.opaque, "alice@example.com");
  EXPECT_EQ(u.host, "");
  EXPECT_FALSE(u.has_user);

  ASSERT_TRUE(parse_uri("urn:service:sos", u));  // RFC 5031
  EXPECT_EQ(u.scheme, UriScheme::other);
  EXPECT_EQ(u.scheme_text, "urn");
  EXPECT_EQ(u.opaque, "service:sos");

  ASSERT_TRUE(parse_uri("https://cert.example.com/cert.pem?x=1", u));
  EXPECT_EQ(u.scheme, UriScheme::other);
  EXPECT_EQ(u.opaque, "//cert.example.com/cert.pem?x=1");

  // RFC 4475 §3.3.2: an unknown scheme is syntactically fine.
  ASSERT_TRUE(parse_uri("nobarelyknown:somebody@example.com", u));
  EXPECT_EQ(u.scheme, UriScheme::other);
  // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
  EXPECT_TRUE(parses("x-a.b+c1:stuff"));
}

TEST(UriScheme, MalformedSchemesAreRejected) {
  EXPECT_FALSE(parses(""));
  EXPECT_FALSE(parses("alice@atlanta.com"));  // no scheme at all
  EXPECT_FALSE(parses(":alice@atlanta.com"));  // empty scheme
  EXPECT_FALSE(parses("1sip:alice@atlanta.com"));  // scheme starts with a digit
  EXPECT_FALSE(parses("si_p:alice@atlanta.com"));  // '_' is not a scheme character
  EXPECT_FALSE(parses("s ip:alice@atlanta.com"));
  // absoluteURI needs at least one character after the colon (RFC 2396 hier-part / opaque-part).
  EXPECT_FALSE(parses("mailto:"));
  EXPECT_FALSE(parses("mailto:a b"));
  EXPECT_FALSE(parses("mailto:<a@b>"));
  EXPECT_FALSE(parses("mailto:\"a\"@b"));
}

// ---------------------------------------------------------------- userinfo

TEST(UriUser, Rfc3261Examples) {
  // RFC 3261 §19.1.3.
  Uri u;
  ASSERT_TRUE(parse_uri("sip:alice:secretword@atlanta.com;transport=tcp", u));
  EXPECT_EQ(u.user, "alice");
  EXPECT_EQ(u.password, "secretword");
  EXPECT_EQ(u.host, "atlanta.com");
  EXPECT_EQ(u.params, "transport=tcp");

  ASSERT_TRUE(parse_uri("sip:+1-212-555-1212:1234@gateway.com;user=phone", u));
  EXPECT_EQ(u.user, "+1-212-555-1212");
  EXPECT_EQ(u.password, "1234");
  EXPECT_EQ(u.host, "gateway.com");
  EXPECT_EQ(u.params, "user=phone");

  // user-unreserved includes ';': the user part is "alice;day=tuesday".
  ASSERT_TRUE(parse_uri("sip:alice;day=tuesday@atlanta.com", u));
  EXPECT_EQ(u.user, "alice;day=tuesday");
  EXPECT_EQ(u.host, "atlanta.com");
  EXPECT_EQ(u.params, "");

  ASSERT_TRUE(parse_uri("sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com", u));
  EXPECT_FALSE(u.has_user);
  EXPECT_EQ(u.user, "");
  EXPECT_EQ(u.host, "atlanta.com");
  EXPECT_EQ(u.params, "method=REGISTER");
  EXPECT_EQ(u.headers, "to=alice%40atlanta.com");

  ASSERT_TRUE(parse_uri("sip:alice@atlanta.com;maddr=239.255.255.1;ttl=15", u));
  EXPECT_EQ(u.params, "maddr=239.255.255.1;ttl=15");
}

TEST(UriUser, UserUnreservedAndMarkCharacters) {
  // user = 1*( unreserved / escaped / user-unreserved ); mark = - _ . ! ~ * ' ( )
  Uri u;
  ASSERT_TRUE(parse_uri("sip:a-_.!~*'()&=+$,;?/z@example.com", u));
  EXPECT_EQ(u.user, "a-_.!~*'()&=+$,;?/z");
  EXPECT_EQ(u.host, "example.com");
}

TEST(UriUser, EmptyPasswordIsAllowed) {
  // password = *( ... ): zero characters is valid.
  Uri u;
  ASSERT_TRUE(parse_uri("sip:alice:@atlanta.com", u));
  EXPECT_EQ(u.user, "alice");
  EXPECT_EQ(u.password, "");
}

TEST(UriUser, EmptyUserIsRejected) {
  EXPECT_FALSE(parses("sip:@atlanta.com"));
  EXPECT_FALSE(parses("sip::pw@atlanta.com"));
}

TEST(UriUser, EscapesAreKeptAsWritten) {
  // RFC 4475 §3.1.1.3 / §3.1.1.9: escapes stay in the view; %40 is not an '@'.
  Uri u;
  ASSERT_TRUE(parse_uri("sip:sips%3Auser%40example.com@example.net", u));
  EXPECT_EQ(u.scheme, UriScheme::sip);
  EXPECT_EQ(u.user, "sips%3Auser%40example.com");
  EXPECT_EQ(u.host, "example.net");

  ASSERT_TRUE(parse_uri("sip:user;par=u%40example.net@example.com", u));
  EXPECT_EQ(u.user, "user;par=u%40example.net");
  EXPECT_EQ(u.host, "example.com");

  ASSERT_TRUE(parse_uri("sip:null-%00-null@example.com", u));  // RFC 4475 §3.1.1.4
  EXPECT_EQ(u.user, "null-%00-null");

  ASSERT_TRUE(parse_uri("sip:%61lice:p%41ss@example.com;p=%7e?h=%20", u));
  EXPECT_EQ(u.user, "%61lice");
  EXPECT_EQ(u.password, "p%41ss");
  EXPECT_EQ(u.params, "p=%7e");
  EXPECT_EQ(u.headers, "h=%20");
}

TEST(UriUser, MalformedEscapesAreRejected) {
  // escaped = "%" HEXDIG HEXDIG
  EXPECT_FALSE(parses("sip:al%2ice@example.com"));
  EXPECT_FALSE(parses("sip:alice%@example.com"));
  EXPECT_FALSE(parses("sip:alice%4@example.com"));
  EXPECT_FALSE(parses("sip:alice%G1@example.com"));
  EXPECT_FALSE(parses("sip:alice:pw%zz@example.com"));
  EXPECT_FALSE(parses("sip:alice@example.com;p=%4"));
  EXPECT_FALSE(parses("sip:alice@example.com;p=%"));
  EXPECT_FALSE(parses("sip:alice@example.com;p=%x1"));
  EXPECT_FALSE(parses("sip:alice@example.com?h=%2"));
  EXPECT_FALSE(parses("sip:alice@example.com?h=%"));
  // Escapes are not part of the host grammar at all.
  EXPECT_FALSE(parses("sip:alice@ex%61mple.com"));
}

TEST(UriUser, InvalidCharactersAreRejected) {
  EXPECT_FALSE(parses("sip:al ice@example.com"));
  EXPECT_FALSE(parses("sip:alice@example.com "));
  EXPECT_FALSE(parses(" sip:alice@example.com"));
  EXPECT_FALSE(parses("sip:<alice>@example.com"));
  EXPECT_FALSE(parses("sip:alice@<example.com>"));
  EXPECT_FALSE(parses("sip:\"alice\"@example.com"));
  EXPECT_FALSE(parses("sip:alice@example.com\""));
  EXPECT_FALSE(parses("sip:a#b@example.com"));
  EXPECT_FALSE(parses("sip:a@b@example.com"));
  EXPECT_FALSE(parses("sip:alice\t@example.com"));
  EXPECT_FALSE(parses("sip:alice@example.com\r\n"));
  EXPECT_FALSE(parses("sip:ali\0ce@example.com"sv));
  EXPECT_FALSE(parses("sip:alice@exa\xffmple.com"));
}

// ---------------------------------------------------------------- hosts

TEST(UriHost, Kinds) {
  Uri u;
  ASSERT_TRUE(parse_uri("sip:alice@example.com", u));
  EXPECT_EQ(u.host_kind, HostKind::hostname);
  ASSERT_TRUE(parse_uri("sip:alice@192.0.2.1", u));
  EXPECT_EQ(u.host_kind, HostKind::ipv4);
  EXPECT_EQ(u.host, "192.0.2.1");
  ASSERT_TRUE(parse_uri("sip:alice@[2001:db8::1]", u));
  EXPECT_EQ(u.host_kind, HostKind::ipv6);
  EXPECT_EQ(u.host, "[2001:db8::1]");
  ASSERT_TRUE(parse_uri("sip:example.com", u));
  EXPECT_FALSE(u.has_user);
  EXPECT_EQ(u.host, "example.com");
}

TEST(UriHost, HostnameGrammar) {
  // hostname = *( domainlabel "." ) toplabel [ "." ]
  // domainlabel = alphanum / alphanum *( alphanum / "-" ) alphanum
  // toplabel = ALPHA / ALPHA *( alphanum / "-" ) alphanum
  EXPECT_TRUE(parses("sip:a"));
  EXPECT_TRUE(parses("sip:3com.com"));          // a domainlabel may start with a digit
  EXPECT_TRUE(parses("sip:a-b.c--d.example"));
  EXPECT_TRUE(parses("sip:EXAMPLE.COM"));
  Uri u;
  ASSERT_TRUE(parse_uri("sip:alice@example.com.", u));  // trailing dot allowed
  EXPECT_EQ(u.host, "example.com.");
  EXPECT_EQ(u.host_kind, HostKind::hostname);

  EXPECT_FALSE(parses("sip:alice@"));
  EXPECT_FALSE(parses("sip:"));
  EXPECT_FALSE(parses("sip:-example.com"));
  EXPECT_FALSE(parses("sip:example-.com"));
  EXPECT_FALSE(parses("sip:example..com"));
  EXPECT_FALSE(parses("sip:.example.com"));
  EXPECT_FALSE(parses("sip:exa_mple.com"));
  EXPECT_FALSE(parses("sip:example.com.."));
}

TEST(UriHost, ToplabelMustStartWithAlpha) {
  // The toplabel rule is what separates a hostname from an IPv4 address:
  // "1.2.3" is neither (three parts; toplabel "3" starts with a digit).
  EXPECT_FALSE(parses("sip:alice@1.2.3"));
  EXPECT_FALSE(parses("sip:alice@example.123"));
  EXPECT_FALSE(parses("sip:alice@1.2.3.4.5"));
}

TEST(UriHost, Ipv4Grammar) {
  // RFC 5954 §4.1 replaces 1*3DIGIT with dec-octet (0..255).
  EXPECT_TRUE(parses("sip:0.0.0.0"));
  EXPECT_TRUE(parses("sip:255.255.255.255"));
  EXPECT_FALSE(parses("sip:alice@256.1.1.1"));
  EXPECT_FALSE(parses("sip:alice@1.2.3.1000"));
}

TEST(UriHost, Ipv6References) {
  Uri u;
  // RFC 5954 §4.1 / RFC 3986 IPv6address.
  for (std::string_view text : {"sip:[::]", "sip:[::1]", "sip:[1::]", "sip:[2001:db8::10]",
                                "sip:[2001:db8:0:0:0:0:0:10]", "sip:[FEDC:BA98:7654:3210:FEDC:BA98:7654:3210]",
                                "sip:[1:2:3:4:5:6:7::]", "sip:[::2:3:4:5:6:7:8]", "sip:[1:2:3:4:5:6::8]"}) {
    EXPECT_TRUE(parse_uri(text, u)) << text;
    EXPECT_EQ(u.host_kind, HostKind::ipv6) << text;
    EXPECT_EQ(u.host, text.substr(4)) << text;
  }
}

TEST(UriHost, Ipv6WithIpv4Tail) {
  Uri u;
  // RFC 5118 §4.9 (IPv4-mapped) and §4.10 (two colons before the IPv4 part).
  ASSERT_TRUE(parse_uri("sip:ted@[::ffff:192.0.2.2]", u));
  EXPECT_EQ(u.host, "[::ffff:192.0.2.2]");
  EXPECT_EQ(u.host_kind, HostKind::ipv6);
  ASSERT_TRUE(parse_uri("sip:user@[2001:db8::192.0.2.1]", u));
  EXPECT_EQ(u.host, "[2001:db8::192.0.2.1]");
  EXPECT_TRUE(parses("sip:[::192.0.2.1]"));
  EXPECT_TRUE(parses("sip:[1:2:3:4:5:6:192.0.2.1]"));

  EXPECT_FALSE(parses("sip:[1:2:3:4:5:6:7:192.0.2.1]"));  // 7 groups + IPv4 = 9 pieces
  EXPECT_FALSE(parses("sip:[::ffff:192.0.2]"));
  EXPECT_FALSE(parses("sip:[::ffff:256.0.2.1]"));
  EXPECT_FALSE(parses("sip:[::192.0.2.1:5]"));  // IPv4 part must come last
  EXPECT_FALSE(parses("sip:[192.0.2.1]"));      // an IPv4 address is not an IPv6reference
}

TEST(UriHost, InvalidIpv6) {
  EXPECT_FALSE(parses("sip:2001:db8::10"));     // RFC 5118 §4.2: brackets are mandatory
  EXPECT_FALSE(parses("sip:alice@::1"));
  EXPECT_FALSE(parses("sip:[::1"));             // unclosed
  EXPECT_FALSE(parses("sip:alice@[::1"));
  EXPECT_FALSE(parses("sip:::1]"));
  EXPECT_FALSE(parses("sip:[]"));
  EXPECT_FALSE(parses("sip:[12345::1]"));       // hex4 = 1*4HEXDIG
  EXPECT_FALSE(parses("sip:[1::2::3]"));        // "::" at most once
  EXPECT_FALSE(parses("sip:[::1::]"));
  EXPECT_FALSE(parses("sip:[:::1]"));
  EXPECT_FALSE(parses("sip:[:1]"));
  EXPECT_FALSE(parses("sip:[1:]"));
  EXPECT_FALSE(parses("sip:[1:2:3:4:5:6:7]"));   // too few groups without "::"
  EXPECT_FALSE(parses("sip:[1:2:3:4:5:6:7:8:9]"));
  EXPECT_FALSE(parses("sip:[1:2:3:4:5:6:7:8::]"));  // "::" stands for at least one group
  EXPECT_FALSE(parses("sip:[::1:2:3:4:5:6:7:8]"));
  EXPECT_FALSE(parses("sip:[g::1]"));
  EXPECT_FALSE(parses("sip:[::1 ]"));
  EXPECT_FALSE(parses("sip:[::1]x"));
  EXPECT_FALSE(parses("sip:[[::1]]"));
}

// ---------------------------------------------------------------- ports

TEST(UriPort, Bounds) {
  Uri u;
  ASSERT_TRUE(parse_uri("sip:alice@example.com:0", u));
  EXPECT_TRUE(u.has_port);
  EXPECT_EQ(u.port, 0);
  ASSERT_TRUE(parse_uri("sip:alice@example.com:65535", u));
  EXPECT_EQ(u.port, 65535);
  ASSERT_TRUE(parse_uri("sip:alice@192.0.2.1:5060;transport=udp", u));
  EXPECT_EQ(u.host, "192.0.2.1");
  EXPECT_EQ(u.port, 5060);
  EXPECT_EQ(u.params, "transport=udp");
  ASSERT_TRUE(parse_uri("sip:alice@example.com:05060", u));  // port = 1*DIGIT
  EXPECT_EQ(u.port, 5060);
  ASSERT_TRUE(parse_uri("sip:alice@example.com", u));
  EXPECT_FALSE(u.has_port);
  EXPECT_EQ(u.port, 0);

  EXPECT_FALSE(parses("sip:alice@example.com:65536"));
  EXPECT_FALSE(parses("sip:alice@example.com:99999999999"));
  EXPECT_FALSE(parses("sip:alice@example.com:"));
  EXPECT_FALSE(parses("sip:alice@example.com:;transport=tcp"));
  EXPECT_FALSE(parses("sip:alice@example.com:50a"));
  EXPECT_FALSE(parses("sip:alice@example.com:-1"));
  EXPECT_FALSE(parses("sip:alice@example.com:5060:5061"));
}

TEST(UriPort, Ipv6PortPlacement) {
  Uri u;
  // RFC 5118 §4.4: the port follows the closing bracket.
  ASSERT_TRUE(parse_uri("sip:[2001:db8::10]:5070", u));
  EXPECT_EQ(u.host, "[2001:db8::10]");
  EXPECT_TRUE(u.has_port);
  EXPECT_EQ(u.port, 5070);
  // RFC 5118 §4.3: inside the brackets it is just another hex group.
  ASSERT_TRUE(parse_uri("sip:[2001:db8::10:5070]", u));
  EXPECT_EQ(u.host, "[2001:db8::10:5070]");
  EXPECT_FALSE(u.has_port);
  EXPECT_FALSE(parses("sip:[2001:db8::10]:"));
  EXPECT_FALSE(parses("sip:[2001:db8::10]:65536"));
}

// ---------------------------------------------------------------- params and headers

TEST(UriParams, WithAndWithoutValues) {
  Uri u;
  ASSERT_TRUE(parse_uri("sip:proxy.example.com;lr;transport=tcp;maddr=[2001:db8::1]", u));
  EXPECT_EQ(u.host, "proxy.example.com");
  EXPECT_EQ(u.params, "lr;transport=tcp;maddr=[2001:db8::1]");
  EXPECT_EQ(find_param(u.params, "lr"), std::optional<std::string_view>(""));
  EXPECT_EQ(find_param(u.params, "transport"), std::optional<std::string_view>("tcp"));
  EXPECT_EQ(find_param(u.params, "maddr"), std::optional<std::string_view>("[2001:db8::1]"));
  EXPECT_EQ(find_param(u.params, "ttl"), std::nullopt);

  // paramchar = param-unreserved / unreserved / escaped
  ASSERT_TRUE(parse_uri("sip:h;p=a/b:c&d+e$f[g]-_.!~*'()%41", u));
  EXPECT_EQ(u.params, "p=a/b:c&d+e$f[g]-_.!~*'()%41");
}

TEST(UriParams, MalformedParams) {
  EXPECT_FALSE(parses("sip:alice@example.com;"));        // pname = 1*paramchar
  EXPECT_FALSE(parses("sip:alice@example.com;;lr"));
  EXPECT_FALSE(parses("sip:alice@example.com;=tcp"));
  EXPECT_FALSE(parses("sip:alice@example.com;transport="));  // pvalue = 1*paramchar
  EXPECT_FALSE(parses("sip:alice@example.com;a=b=c"));
  EXPECT_FALSE(parses("sip:alice@example.com;a=b,c"));
  EXPECT_FALSE(parses("sip:alice@example.com;a b"));
  EXPECT_FALSE(parses("sip:alice@example.com;a=\"b\""));
  EXPECT_FALSE(parses("sip:alice@example.com;a=<b>"));
}

TEST(UriHeaders, AfterQuestionMark) {
  Uri u;
  ASSERT_TRUE(parse_uri("sip:bob@biloxi.com;transport=tcp?subject=hi&priority=urgent", u));
  EXPECT_EQ(u.params, "transport=tcp");
  EXPECT_EQ(u.headers, "subject=hi&priority=urgent");
  // hvalue = *( hnv-unreserved / unreserved / escaped ): may be empty.
  ASSERT_TRUE(parse_uri("sip:bob@biloxi.com?subject=", u));
  EXPECT_EQ(u.headers, "subject=");
  ASSERT_TRUE(parse_uri("sip:bob@biloxi.com?Route=%3Csip:example.com%3E", u));  // RFC 4475 §3.3.14
  EXPECT_EQ(u.headers, "Route=%3Csip:example.com%3E");
  ASSERT_TRUE(parse_uri("sip:bob@biloxi.com?h=[]/?:+$", u));
  EXPECT_EQ(u.headers, "h=[]/?:+$");

  EXPECT_FALSE(parses("sip:bob@biloxi.com?"));
  EXPECT_FALSE(parses("sip:bob@biloxi.com?subject"));
  EXPECT_FALSE(parses("sip:bob@biloxi.com?=hi"));
  EXPECT_FALSE(parses("sip:bob@biloxi.com?a=b&"));
  EXPECT_FALSE(parses("sip:bob@biloxi.com?a=b&&c=d"));
  EXPECT_FALSE(parses("sip:bob@biloxi.com?a=b;c"));
  EXPECT_FALSE(parses("sip:bob@biloxi.com?a=b c"));
}

// ---------------------------------------------------------------- tel (RFC 3966)

TEST(UriTel, GlobalNumbers) {
  Uri u;
  ASSERT_TRUE(parse_uri("tel:+1-201-555-0123", u));  // RFC 3966 §6
  EXPECT_EQ(u.scheme, UriScheme::tel);
  EXPECT_EQ(u.scheme_text, "tel");
  EXPECT_TRUE(u.has_user);
  EXPECT_EQ(u.user, "+1-201-555-0123");
  EXPECT_EQ(u.host, "");
  EXPECT_EQ(u.host_kind, HostKind::none);
  EXPECT_FALSE(u.has_port);
  EXPECT_EQ(u.params, "");

  ASSERT_TRUE(parse_uri("tel:+1(201)555.0123;ext=1234;isub=abc", u));
  EXPECT_EQ(u.user, "+1(201)555.0123");
  EXPECT_EQ(u.params, "ext=1234;isub=abc");
  EXPECT_EQ(find_param(u.params, "ext"), std::optional<std::string_view>("1234"));

  ASSERT_TRUE(parse_uri("tel:+12025550100", u));
  EXPECT_EQ(u.user, "+12025550100");
}

TEST(UriTel, LocalNumbersWithPhoneContext) {
  Uri u;
  ASSERT_TRUE(parse_uri("tel:7042;phone-context=example.com", u));  // RFC 3966 §6
  EXPECT_EQ(u.user, "7042");
  EXPECT_EQ(u.params, "phone-context=example.com");
  EXPECT_EQ(find_param(u.params, "phone-context"), std::optional<std::string_view>("example.com"));

  ASSERT_TRUE(parse_uri("tel:863-1234;phone-context=+1-914-555", u));  // RFC 3966 §6
  EXPECT_EQ(u.user, "863-1234");
  EXPECT_EQ(find_param(u.params, "phone-context"), std::optional<std::string_view>("+1-914-555"));

  // local-number-digits = *phonedigit-hex (HEXDIG / "*" / "#") *phonedigit-hex
  ASSERT_TRUE(parse_uri("tel:*69;phone-context=example.com", u));
  EXPECT_EQ(u.user, "*69");
  ASSERT_TRUE(parse_uri("tel:ab-cd;phone-context=+1", u));
  EXPECT_EQ(u.user, "ab-cd");
}

TEST(UriTel, Malformed) {
  EXPECT_FALSE(parses("tel:"));
  EXPECT_FALSE(parses("tel:+"));
  EXPECT_FALSE(parses("tel:+-.()"));  // separators but no digit
  EXPECT_FALSE(parses("tel:-"));
  EXPECT_FALSE(parses("tel:+1 201 555 0123"));
  EXPECT_FALSE(parses("tel:xyz;phone-context=example.com"));
  EXPECT_FALSE(parses("tel:+1201;"));
  EXPECT_FALSE(parses("tel:+1201;;ext=1"));
  EXPECT_FALSE(parses("tel:+1201?subject=x"));  // tel has no headers component
  EXPECT_FALSE(parses("tel:+1201@example.com"));
  EXPECT_FALSE(parses("tel:<+1201>"));
}

TEST(UriTel, GlobalNumberDigitsAreDecimalOnly) {
  // global-number-digits = "+" *phonedigit DIGIT *phonedigit; phonedigit is
  // DIGIT or a visual separator. Hex digits, '*' and '#' belong to local numbers only.
  EXPECT_FALSE(parses("tel:+1201abc"));
  EXPECT_FALSE(parses("tel:+1201*5"));
  EXPECT_FALSE(parses("tel:+1201#"));
}

// ---------------------------------------------------------------- find_param

TEST(FindParam, CaseInsensitiveNames) {
  const auto params = "Transport=TCP;LR;Maddr=192.0.2.1"sv;
  EXPECT_EQ(find_param(params, "transport"), std::optional<std::string_view>("TCP"));
  EXPECT_EQ(find_param(params, "TRANSPORT"), std::optional<std::string_view>("TCP"));
  EXPECT_EQ(find_param(params, "lr"), std::optional<std::string_view>(""));
  EXPECT_EQ(find_param(params, "mAdDr"), std::optional<std::string_view>("192.0.2.1"));
}

TEST(FindParam, AbsentAndLookalikeNames) {
  const auto params = "xbranch=1;branchx=2;tag=3"sv;
  EXPECT_EQ(find_param(params, "branch"), std::nullopt);
  EXPECT_EQ(find_param(params, "ta"), std::nullopt);
  EXPECT_EQ(find_param(params, "tag"), std::optional<std::string_view>("3"));
  EXPECT_EQ(find_param("", "tag"), std::nullopt);
  EXPECT_EQ(find_param(";", "tag"), std::nullopt);
  // A value is not a name.
  EXPECT_EQ(find_param("a=tag", "tag"), std::nullopt);
}

TEST(FindParam, LeadingSemicolonIsOptional) {
  EXPECT_EQ(find_param(";tag=abc", "tag"), std::optional<std::string_view>("abc"));
  EXPECT_EQ(find_param("tag=abc", "tag"), std::optional<std::string_view>("abc"));
  EXPECT_EQ(find_param(";lr", "lr"), std::optional<std::string_view>(""));
}

TEST(FindParam, ValuelessParamsAmongOthers) {
  const auto params = "rport;branch=z9hG4bK1;lr"sv;
  EXPECT_EQ(find_param(params, "rport"), std::optional<std::string_view>(""));
  EXPECT_EQ(find_param(params, "lr"), std::optional<std::string_view>(""));
  EXPECT_EQ(find_param(params, "branch"), std::optional<std::string_view>("z9hG4bK1"));
}

TEST(FindParam, QuotedValuesHideSeparators) {
  // gen-value = token / host / quoted-string (RFC 3261 §25.1)
  const auto params = "a=\"x;y=1\";b=2;c=\"q\\\";r\";d"sv;
  EXPECT_EQ(find_param(params, "b"), std::optional<std::string_view>("2"));
  EXPECT_EQ(find_param(params, "d"), std::optional<std::string_view>(""));
  EXPECT_EQ(find_param(params, "y"), std::nullopt);  // inside the quotes
  EXPECT_EQ(find_param(params, "r"), std::nullopt);  // after an escaped quote, still inside
  const auto a = find_param(params, "a");
  ASSERT_TRUE(a.has_value());
  // The API does not say whether quotes are part of the view: accept both.
  EXPECT_TRUE(*a == "\"x;y=1\"" || *a == "x;y=1") << *a;
}

TEST(FindParam, LinearWhitespaceAroundSeparators) {
  // SEMI = SWS ";" SWS, EQUAL = SWS "=" SWS; LWS may include a folded line break.
  const auto params = " a = 1 ;  b\t=\t2 ;\r\n c ; d=\r\n 4 "sv;
  EXPECT_EQ(find_param(params, "a"), std::optional<std::string_view>("1"));
  EXPECT_EQ(find_param(params, "b"), std::optional<std::string_view>("2"));
  EXPECT_EQ(find_param(params, "c"), std::optional<std::string_view>(""));
  EXPECT_EQ(find_param(params, "d"), std::optional<std::string_view>("4"));
}

// ---------------------------------------------------------------- unescape

std::string unescaped(std::string_view in, int& n) {
  char out[64];
  n = unescape(in, out, sizeof out);
  return n < 0 ? std::string() : std::string(out, static_cast<std::size_t>(n));
}

TEST(Unescape, DecodesHexEscapes) {
  int n = 0;
  EXPECT_EQ(unescaped("alice", n), "alice");
  EXPECT_EQ(n, 5);
  EXPECT_EQ(unescaped("%61lice", n), "alice");
  EXPECT_EQ(n, 5);
  EXPECT_EQ(unescaped("%41%42", n), "AB");
  EXPECT_EQ(unescaped("%4a%4A", n), "JJ");
  EXPECT_EQ(unescaped("%2B1%20212", n), "+1 212");
  EXPECT_EQ(unescaped("u%40example.net", n), "u@example.net");
  EXPECT_EQ(unescaped("", n), "");
  EXPECT_EQ(n, 0);
}

TEST(Unescape, KeepsEscapedNul) {
  // RFC 4475 §3.1.1.4: %00 must not truncate the user name.
  int n = 0;
  const std::string s = unescaped("null-%00-null", n);
  EXPECT_EQ(n, 11);
  EXPECT_EQ(s, std::string("null-\0-null", 11));
}

TEST(Unescape, MalformedEscapes) {
  char out[16];
  EXPECT_EQ(unescape("%", out, sizeof out), -1);
  EXPECT_EQ(unescape("%4", out, sizeof out), -1);
  EXPECT_EQ(unescape("ab%", out, sizeof out), -1);
  EXPECT_EQ(unescape("ab%4", out, sizeof out), -1);
  EXPECT_EQ(unescape("%4G", out, sizeof out), -1);
  EXPECT_EQ(unescape("%G4", out, sizeof out), -1);
  EXPECT_EQ(unescape("% 4", out, sizeof out), -1);
  EXPECT_EQ(unescape("%-1", out, sizeof out), -1);
}

TEST(Unescape, OutputCapacity) {
  char out[8];
  EXPECT_EQ(unescape("abc", out, 2), -1);
  EXPECT_EQ(unescape("%41%42", out, 1), -1);
  EXPECT_EQ(unescape("abc", out, 3), 3);
  EXPECT_EQ(std::string_view(out, 3), "abc");
  EXPECT_EQ(unescape("%41%42%43", out, 3), 3);
  EXPECT_EQ(std::string_view(out, 3), "ABC");
  EXPECT_EQ(unescape("", out, 0), 0);
  EXPECT_EQ(unescape("a", out, 0), -1);
}

// ---------------------------------------------------------------- parse_hostport

TEST(ParseHostport, ConsumesOnlyTheHostport) {
  HostPort hp;
  EXPECT_EQ(parse_hostport("example.com", hp), 11u);
  EXPECT_EQ(hp.host, "example.com");
  EXPECT_EQ(hp.kind, HostKind::hostname);
  EXPECT_FALSE(hp.has_port);

  EXPECT_EQ(parse_hostport("example.com:5060;transport=udp", hp), 16u);
  EXPECT_EQ(hp.host, "example.com");
  EXPECT_TRUE(hp.has_port);
  EXPECT_EQ(hp.port, 5060);

  EXPECT_EQ(parse_hostport("192.0.2.1:0>", hp), 11u);
  EXPECT_EQ(hp.kind, HostKind::ipv4);
  EXPECT_EQ(hp.host, "192.0.2.1");
  EXPECT_EQ(hp.port, 0);
  EXPECT_TRUE(hp.has_port);

  EXPECT_EQ(parse_hostport("[2001:db8::1]:65535 rest", hp), 19u);
  EXPECT_EQ(hp.kind, HostKind::ipv6);
  EXPECT_EQ(hp.host, "[2001:db8::1]");
  EXPECT_EQ(hp.port, 65535);

  EXPECT_EQ(parse_hostport("[::1];lr", hp), 5u);
  EXPECT_EQ(hp.host, "[::1]");
  EXPECT_FALSE(hp.has_port);

  EXPECT_EQ(parse_hostport("example.com.", hp), 12u);
  EXPECT_EQ(hp.host, "example.com.");
}

TEST(ParseHostport, Rejections) {
  HostPort hp;
  EXPECT_EQ(parse_hostport("", hp), 0u);
  EXPECT_EQ(parse_hostport(":5060", hp), 0u);
  EXPECT_EQ(parse_hostport("example.com:", hp), 0u);
  EXPECT_EQ(parse_hostport("example.com:;lr", hp), 0u);
  EXPECT_EQ(parse_hostport("example.com:65536", hp), 0u);
  EXPECT_EQ(parse_hostport("[::1", hp), 0u);
  EXPECT_EQ(parse_hostport("[::1]:", hp), 0u);
  EXPECT_EQ(parse_hostport("[1::2::3]", hp), 0u);
  EXPECT_EQ(parse_hostport("2001:db8::1", hp), 0u);
  EXPECT_EQ(parse_hostport("-example.com", hp), 0u);
  EXPECT_EQ(parse_hostport(";lr", hp), 0u);
  EXPECT_EQ(parse_hostport("1.2.3", hp), 0u);
}

// ---------------------------------------------------------------- robustness

TEST(UriRobustness, EveryPrefixAgainstAGuardPage) {
  GuardedBuffer buf;
  ASSERT_TRUE(buf.ready());
  const std::string_view texts[] = {
      "sips:al%41ice:p%2Bw@[2001:db8::192.0.2.1]:5061;transport=tls;lr;maddr=[::1]?subject=a%20b&x=",
      "tel:555-(0123);ext=12;phone-context=+1-201",
      "sip:user;par=u%40example.net@example.com:5060",
      "urn:service:sos",
  };
  for (const auto full : texts) {
    for (std::size_t n = 0; n <= full.size(); ++n) {
      const auto text = buf.place(full.substr(0, n));
      Uri u;
      const bool ok = parse_uri(text, u);
      if (n == full.size()) {
        EXPECT_TRUE(ok) << full;
      }
      if (ok) {
        EXPECT_EQ(u.text.data(), text.data());
        EXPECT_EQ(u.text.size(), text.size());
      }
      (void)find_param(text, "lr");
      char out[256];
      (void)unescape(text, out, sizeof out);
      HostPort hp;
      const std::size_t used = parse_hostport(text, hp);
      EXPECT_LE(used, text.size());
    }
  }
  // Escapes cut short at the very end of the buffer.
  for (std::string_view tail : {"sip:a%", "sip:a%4", "sip:a@b;p=%", "sip:a@b?h=%4", "sip:[::1", "sip:a@b:"}) {
    EXPECT_FALSE(parses(buf.place(tail))) << tail;
  }
  char out[8];
  EXPECT_EQ(unescape(buf.place("%"), out, sizeof out), -1);
  EXPECT_EQ(unescape(buf.place("%4"), out, sizeof out), -1);
  EXPECT_EQ(find_param(buf.place("a=\"unterminated"), "b"), std::nullopt);
  EXPECT_EQ(find_param(buf.place("a=\"ends in backslash\\"), "b"), std::nullopt);
}

}  // namespace
}  // namespace sigrelay::sip
