// Whole-message parsing, written against RFC 3261 §7 (message format), §8.1.1
// (mandatory headers), §18.3 (framing), §20 (header fields) and §25.1
// (grammar), with cases from RFC 4475. Messages are written as raw string
// literals with one header per line and turned into wire form by wire().
#include "sip/message.hpp"
#include "sip/field_split.hpp"
#include "tests/sip/guarded_buffer.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <ostream>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sigrelay::sip {

// Readable gtest failure messages (found by argument-dependent lookup).
static void PrintTo(ParseError e, std::ostream* os) { *os << to_string(e); }
static void PrintTo(HeaderId id, std::ostream* os) {
  const auto name = header_name(id);
  *os << (name.empty() ? "HeaderId(" + std::to_string(static_cast<int>(id)) + ")" : std::string(name));
}

namespace {

using namespace std::string_view_literals;

// Readable text to wire bytes: the newline right after R"( is dropped, every
// LF becomes CRLF, and "{len}" becomes the length of the body (what follows
// the first empty line).
std::string wire(std::string_view text) {
  if (!text.empty() && text.front() == '\n') text.remove_prefix(1);
  std::string out;
  out.reserve(text.size() + 64);
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  const auto end_of_headers = out.find("\r\n\r\n");
  if (end_of_headers != std::string::npos) {
    const std::size_t body_len = out.size() - (end_of_headers + 4);
    const auto len = out.find("{len}");
    if (len != std::string::npos && len < end_of_headers) out.replace(len, 5, std::to_string(body_len));
  }
  return out;
}

// Replaces the first occurrence of `from`; a test that edits text that is
// not there is a broken test.
std::string edit(std::string_view text, std::string_view from, std::string_view to) {
  std::string s(text);
  const auto at = s.find(from);
  if (at == std::string::npos) {
    ADD_FAILURE() << "edit: \"" << from << "\" not found";
    return s;
  }
  s.replace(at, from.size(), to);
  return s;
}

// Removes the whole line that starts with `prefix`.
std::string drop_line(std::string_view text, std::string_view prefix) {
  std::string s(text);
  std::size_t at = 0;
  while (true) {
    at = s.find(prefix, at);
    if (at == std::string::npos) {
      ADD_FAILURE() << "drop_line: \"" << prefix << "\" not found";
      return s;
    }
    if (at == 0 || s[at - 1] == '\n') break;
    ++at;
  }
  const auto eol = s.find('\n', at);
  s.erase(at, eol == std::string::npos ? std::string::npos : eol - at + 1);
  return s;
}

bool inside(std::string_view inner, std::string_view outer) {
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

// The line of `bytes` that contains byte `offset`.
std::string_view line_at(std::string_view bytes, std::size_t offset) {
  if (offset >= bytes.size()) return {};
  const auto start = bytes.rfind('\n', offset == 0 ? 0 : offset - 1);
  const std::size_t from = (start == std::string_view::npos || offset == 0) ? 0 : start + 1;
  const auto end = bytes.find('\n', from);
  return bytes.substr(from, end == std::string_view::npos ? std::string_view::npos : end - from + 1);
}

using testing::GuardedBuffer;

// ---------------------------------------------------------------- messages

constexpr std::string_view kSdp =
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 client.atlanta.example.com\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.101\r\n"
    "t=0 0\r\n"
    "m=audio 49172 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\n";

constexpr std::string_view kInvite = R"(
INVITE sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9
Max-Forwards: 70
From: "Alice" <sip:alice@atlanta.example.com>;tag=9fxced76sl
To: Bob <sip:bob@biloxi.example.com>
Call-ID: 3848276298220188511@atlanta.example.com
CSeq: 1 INVITE
Contact: <sip:alice@client.atlanta.example.com;transport=tcp>
Content-Type: application/sdp
Content-Length: {len}

v=0
o=alice 2890844526 2890844526 IN IP4 client.atlanta.example.com
s=-
c=IN IP4 192.0.2.101
t=0 0
m=audio 49172 RTP/AVP 0
a=rtpmap:0 PCMU/8000
)";

// The smallest request with every header RFC 3261 §8.1.1 makes mandatory.
constexpr std::string_view kOptions = R"(
OPTIONS sip:relay.example.net SIP/2.0
Via: SIP/2.0/UDP switch.example.net:5060;branch=z9hG4bK-opt1
Max-Forwards: 70
From: <sip:ping@switch.example.net>;tag=1234
To: <sip:relay.example.net>
Call-ID: opt-1@switch.example.net
CSeq: 10 OPTIONS
Content-Length: 0

)";
constexpr std::size_t kOptionsHeaders = 7;

constexpr std::string_view kOk = R"(
SIP/2.0 200 OK
Via: SIP/2.0/UDP server10.biloxi.example.com;branch=z9hG4bK4b43c2ff8.1;received=192.0.2.3
Via: SIP/2.0/UDP bigbox3.site3.atlanta.example.com;branch=z9hG4bK77ef4c2312983.1
 ;received=192.0.2.2
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds ;received=192.0.2.1
To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314159 INVITE
Contact: <sip:bob@192.0.2.4>
Content-Type: application/sdp
Content-Length: {len}

v=0
o=bob 2808844564 2808844564 IN IP4 192.0.2.4
s=-
c=IN IP4 192.0.2.4
t=0 0
m=audio 3456 RTP/AVP 0
a=rtpmap:0 PCMU/8000
)";

constexpr std::string_view kIdentity =
    "eyJhbGciOiJFUzI1NiIsInBwdCI6InNoYWtlbiIsInR5cCI6InBhc3Nwb3J0In0.eyJhdHRlc3QiOiJBIn0.c2lnbmF0dXJl"
    ";info=<https://cert.example.com/sp.pem>;alg=ES256;ppt=shaken";

constexpr std::string_view kRedirect = R"(
SIP/2.0 302 Moved Temporarily
Via: SIP/2.0/TLS relay.example.net:5061;branch=z9hG4bK-r1;received=198.51.100.7
From: <sip:+12025550100@switch.example.net;user=phone>;tag=sw-1
To: <sip:+12025550199@relay.example.net;user=phone>;tag=svc-9
Call-ID: 7f3a9c@switch.example.net
CSeq: 1 INVITE
Contact: <sip:+12025550199@gw1.example.com;transport=udp>;q=0.9,
 <sip:+12025550199@gw2.example.com:5080>;q=0.5
Contact: "Screening" <sip:captcha@ivr.example.com>;q=0.1
Identity: {identity}
Content-Length: 0

)";

std::string redirect_wire() { return wire(edit(kRedirect, "{identity}", kIdentity)); }

// ---------------------------------------------------------------- valid messages

TEST(ParseMessage, InviteWithSdp) {
  const std::string bytes = wire(kInvite);
  MessageWithHeaders<> p;
  const ParseResult r = p.parse(bytes);
  ASSERT_TRUE(r.ok()) << to_string(r.error) << " at " << r.offset;
  EXPECT_TRUE(static_cast<bool>(r));
  EXPECT_TRUE(r.respondable);
  const Message& m = p.msg;

  EXPECT_EQ(m.bytes, bytes);
  EXPECT_EQ(m.bytes.data(), bytes.data());
  EXPECT_TRUE(m.is_request);
  EXPECT_EQ(m.method, "INVITE");
  EXPECT_EQ(m.method_id, Method::invite);
  EXPECT_EQ(m.request_uri_text, "sip:bob@biloxi.example.com");
  EXPECT_EQ(m.request_uri.scheme, UriScheme::sip);
  EXPECT_EQ(m.request_uri.user, "bob");
  EXPECT_EQ(m.request_uri.host, "biloxi.example.com");
  EXPECT_EQ(m.version, "SIP/2.0");
  EXPECT_EQ(m.status, 0);

  ASSERT_EQ(m.headers.size(), 9u);
  EXPECT_EQ(m.headers.data(), p.storage);
  const std::string_view names[] = {"Via",  "Max-Forwards", "From",         "To",            "Call-ID",
                                    "CSeq", "Contact",      "Content-Type", "Content-Length"};
  const HeaderId ids[] = {HeaderId::via,  HeaderId::max_forwards, HeaderId::from,         HeaderId::to,
                          HeaderId::call_id, HeaderId::cseq,      HeaderId::contact,      HeaderId::content_type,
                          HeaderId::content_length};
  for (std::size_t i = 0; i < 9; ++i) {
    EXPECT_EQ(m.headers[i].name, names[i]);
    EXPECT_EQ(m.headers[i].id, ids[i]);
  }

  const auto block_start = bytes.find("Via:");
  const auto body_start = bytes.find("\r\n\r\n") + 4;
  EXPECT_EQ(m.header_block, std::string_view(bytes).substr(block_start, body_start - block_start));
  EXPECT_EQ(m.body, kSdp);
  EXPECT_EQ(m.body.data(), bytes.data() + body_start);

  EXPECT_EQ(m.call_id, "3848276298220188511@atlanta.example.com");
  EXPECT_EQ(m.cseq.number, 1u);
  EXPECT_EQ(m.cseq.method, "INVITE");
  EXPECT_EQ(m.cseq.method_id, Method::invite);
  EXPECT_EQ(m.via_count, 1);
  EXPECT_EQ(m.top_via.transport, "UDP");
  EXPECT_EQ(m.top_via.host, "client.atlanta.example.com");
  EXPECT_EQ(m.top_via.port, 5060);
  EXPECT_EQ(m.top_via.branch, "z9hG4bK74bf9");
  EXPECT_EQ(m.from.display, "\"Alice\"");
  EXPECT_EQ(m.from.uri.user, "alice");
  EXPECT_EQ(m.from.tag, "9fxced76sl");
  EXPECT_TRUE(m.from.has_tag);
  EXPECT_EQ(trim_lws(m.to.display), "Bob");
  EXPECT_EQ(m.to.uri_text, "sip:bob@biloxi.example.com");
  EXPECT_FALSE(m.to.has_tag);
  EXPECT_EQ(m.max_forwards, 70);
  EXPECT_TRUE(m.has_content_length);
  EXPECT_EQ(m.content_length, kSdp.size());

  for (const Header& h : m.headers) {
    EXPECT_TRUE(inside(h.line, bytes));
    EXPECT_TRUE(inside(h.name, h.line));
    EXPECT_TRUE(inside(h.value, h.line));
  }
  for (auto v : {m.method, m.request_uri_text, m.version, m.call_id, m.cseq.method, m.top_via.branch, m.from.tag,
                 m.body, m.header_block}) {
    EXPECT_TRUE(inside(v, bytes));
  }
}

TEST(ParseMessage, Response200Ok) {
  const std::string bytes = wire(kOk);
  MessageWithHeaders<> p;
  const ParseResult r = p.parse(bytes);
  ASSERT_TRUE(r.ok()) << to_string(r.error) << " at " << r.offset;
  EXPECT_FALSE(r.respondable);  // responses are never answered
  const Message& m = p.msg;
  EXPECT_FALSE(m.is_request);
  EXPECT_EQ(m.version, "SIP/2.0");
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.reason, "OK");
  EXPECT_EQ(m.method, "");
  EXPECT_EQ(m.via_count, 3);
  EXPECT_EQ(m.top_via.host, "server10.biloxi.example.com");
  EXPECT_EQ(m.top_via.branch, "z9hG4bK4b43c2ff8.1");
  EXPECT_EQ(m.top_via.received, "192.0.2.3");
  EXPECT_EQ(m.to.tag, "a6c85cf");
  EXPECT_EQ(m.from.tag, "1928301774");
  EXPECT_EQ(m.cseq.number, 314159u);
  EXPECT_EQ(m.cseq.method_id, Method::invite);
  EXPECT_EQ(m.call_id, "a84b4c76e66710@pc33.atlanta.example.com");
  EXPECT_EQ(m.max_forwards, -1);
  EXPECT_EQ(m.body.substr(0, 5), "v=0\r\n");
  EXPECT_EQ(m.body.size(), m.content_length);
  EXPECT_EQ(m.bytes, bytes);
}

TEST(ParseMessage, Redirect302WithContactsAndIdentity) {
  const std::string bytes = redirect_wire();
  MessageWithHeaders<> p;
  const ParseResult r = p.parse(bytes);
  ASSERT_TRUE(r.ok()) << to_string(r.error) << " at " << r.offset;
  EXPECT_FALSE(r.respondable);
  const Message& m = p.msg;
  EXPECT_EQ(m.status, 302);
  EXPECT_EQ(m.reason, "Moved Temporarily");
  EXPECT_EQ(m.top_via.transport, "TLS");
  EXPECT_EQ(m.top_via.port, 5061);
  EXPECT_EQ(m.to.tag, "svc-9");
  EXPECT_EQ(m.from.uri.user, "+12025550100");
  EXPECT_EQ(m.content_length, 0u);
  EXPECT_EQ(m.body, "");

  const Header* identity = m.find(HeaderId::identity);
  ASSERT_NE(identity, nullptr);
  EXPECT_EQ(identity->value, kIdentity);
  EXPECT_EQ(m.find("Identity"), identity);
  EXPECT_EQ(m.find("identity"), identity);
  EXPECT_EQ(m.find("y"), identity);  // RFC 8224 compact form
  const auto semi = identity->value.find(';');
  ASSERT_NE(semi, std::string_view::npos);
  const auto identity_params = identity->value.substr(semi);
  EXPECT_EQ(find_param(identity_params, "alg"), std::optional<std::string_view>("ES256"));
  EXPECT_EQ(find_param(identity_params, "ppt"), std::optional<std::string_view>("shaken"));

  std::vector<NameAddr> contacts;
  for (const Header& h : m.headers) {
    if (h.id != HeaderId::contact) continue;
    NameAddrList list(h.value, true);
    NameAddr na;
    while (list.next(na)) contacts.push_back(na);
    EXPECT_FALSE(list.error());
  }
  ASSERT_EQ(contacts.size(), 3u);
  EXPECT_EQ(contacts[0].uri.host, "gw1.example.com");
  EXPECT_EQ(find_param(contacts[0].uri.params, "transport"), std::optional<std::string_view>("udp"));
  EXPECT_EQ(find_param(contacts[0].params, "q"), std::optional<std::string_view>("0.9"));
  EXPECT_EQ(contacts[1].uri.host, "gw2.example.com");
  EXPECT_EQ(contacts[1].uri.port, 5080);
  EXPECT_EQ(find_param(contacts[1].params, "q"), std::optional<std::string_view>("0.5"));
  EXPECT_EQ(contacts[2].display, "\"Screening\"");
  EXPECT_EQ(contacts[2].uri.user, "captcha");
  EXPECT_EQ(find_param(contacts[2].params, "q"), std::optional<std::string_view>("0.1"));
}

TEST(ParseMessage, MaxForwardsIsOptionalAndBounded) {
  // A proxy adds Max-Forwards when it is absent (RFC 3261 §16.6 step 3).
  MessageWithHeaders<> p;
  const std::string no_mf = wire(drop_line(kOptions, "Max-Forwards:"));
  ASSERT_TRUE(p.parse(no_mf).ok());
  EXPECT_EQ(p.msg.max_forwards, -1);
  EXPECT_TRUE(p.parse(no_mf).respondable);

  const std::string zero = wire(edit(kOptions, "Max-Forwards: 70", "Max-Forwards: 0"));  // RFC 4475 §3.3.11
  ASSERT_TRUE(p.parse(zero).ok());
  EXPECT_EQ(p.msg.max_forwards, 0);
  const std::string top = wire(edit(kOptions, "Max-Forwards: 70", "Max-Forwards: 255"));
  ASSERT_TRUE(p.parse(top).ok());
  EXPECT_EQ(p.msg.max_forwards, 255);
  const std::string zeros = wire(edit(kOptions, "Max-Forwards: 70", "Max-Forwards: 0068"));  // RFC 4475 §3.1.1.1
  ASSERT_TRUE(p.parse(zeros).ok());
  EXPECT_EQ(p.msg.max_forwards, 68);
}

TEST(ParseMessage, ExtensionAndCaseSensitiveMethods) {
  MessageWithHeaders<> p;
  std::string bytes = wire(edit(edit(kOptions, "OPTIONS sip:", "FOO sip:"), "10 OPTIONS", "10 FOO"));
  ASSERT_TRUE(p.parse(bytes).ok());
  EXPECT_EQ(p.msg.method, "FOO");
  EXPECT_EQ(p.msg.method_id, Method::unknown);
  // Methods are case-sensitive (§7.1): "invite" is a valid extension token.
  bytes = wire(edit(edit(kOptions, "OPTIONS sip:", "invite sip:"), "10 OPTIONS", "10 invite"));
  ASSERT_TRUE(p.parse(bytes).ok());
  EXPECT_EQ(p.msg.method, "invite");
  EXPECT_EQ(p.msg.method_id, Method::unknown);
}

TEST(ParseMessage, SipVersionIsCaseInsensitive) {
  // RFC 3261 §7.1: "The SIP-Version string is case-insensitive".
  MessageWithHeaders<> p;
  const std::string request = wire(edit(kOptions, " SIP/2.0\n", " sip/2.0\n"));
  ParseResult r = p.parse(request);
  EXPECT_EQ(r.error, ParseError::ok);
  const std::string response = wire(edit(kOk, "SIP/2.0 200", "sip/2.0 200"));
  r = p.parse(response);
  EXPECT_EQ(r.error, ParseError::ok);
  EXPECT_EQ(p.msg.status, 200);
}

TEST(ParseMessage, RequestUriSchemes) {
  MessageWithHeaders<> p;
  const std::string tel = wire(edit(kOptions, "OPTIONS sip:relay.example.net ", "OPTIONS tel:+12025550100 "));
  ParseResult r = p.parse(tel);
  ASSERT_TRUE(r.ok()) << to_string(r.error);
  EXPECT_EQ(p.msg.request_uri.scheme, UriScheme::tel);
  EXPECT_EQ(p.msg.request_uri.user, "+12025550100");
  const std::string sips = wire(edit(kOptions, "OPTIONS sip:relay.example.net ", "OPTIONS sips:[2001:db8::10]:5061 "));
  r = p.parse(sips);
  ASSERT_TRUE(r.ok()) << to_string(r.error);
  EXPECT_EQ(p.msg.request_uri.scheme, UriScheme::sips);
  EXPECT_EQ(p.msg.request_uri.host, "[2001:db8::10]");
  EXPECT_EQ(p.msg.request_uri.port, 5061);
  // RFC 4475 §3.3.2: an unknown scheme parses (a UAS answers 416).
  const std::string unknown =
      wire(edit(kOptions, "OPTIONS sip:relay.example.net ", "OPTIONS nobarelyknown:somebody@example.com "));
  r = p.parse(unknown);
  ASSERT_TRUE(r.ok()) << to_string(r.error);
  EXPECT_EQ(p.msg.request_uri.scheme, UriScheme::other);
}

TEST(ParseMessage, SeveralViaHeaders) {
  MessageWithHeaders<> p;
  const std::string bytes = wire(edit(kOptions, "Max-Forwards: 70\n",
                                      "Via: SIP/2.0/TCP b.example.com;branch=z9hG4bK-b,\n"
                                      " SIP/2.0/UDP c.example.com;branch=z9hG4bK-c\n"
                                      "Max-Forwards: 70\n"));
  const ParseResult r = p.parse(bytes);
  ASSERT_TRUE(r.ok()) << to_string(r.error);
  EXPECT_EQ(p.msg.via_count, 3);
  EXPECT_EQ(p.msg.top_via.host, "switch.example.net");
  EXPECT_EQ(p.msg.top_via.branch, "z9hG4bK-opt1");
}

// ---------------------------------------------------------------- header fields

TEST(HeaderFields, LinesIncludeTheirCrlfAndTileTheHeaderBlock) {
  const std::string bytes = wire(kInvite);
  MessageWithHeaders<> p;
  ASSERT_TRUE(p.parse(bytes).ok());
  const Message& m = p.msg;
  ASSERT_FALSE(m.headers.empty());
  const char* expected_start = bytes.data() + bytes.find("\r\n") + 2;  // right after the start line
  for (const Header& h : m.headers) {
    EXPECT_EQ(h.line.data(), expected_start);
    ASSERT_GE(h.line.size(), 2u);
    EXPECT_EQ(h.line.substr(h.line.size() - 2), "\r\n");
    EXPECT_EQ(h.line.data(), h.name.data());
    EXPECT_TRUE(inside(h.value, h.line));
    expected_start = h.line.data() + h.line.size();
  }
  // What follows the last field is the empty line, then the body.
  EXPECT_EQ(std::string_view(expected_start, 2), "\r\n");
  EXPECT_EQ(expected_start + 2, m.body.data());
}

TEST(HeaderFields, FoldedValues) {
  // RFC 3261 §7.3.1 example, and folding inside CSeq and Via.
  const std::string bytes = wire(edit(edit(edit(kOptions, "Content-Length: 0\n",
                                                "Subject: I know you're there,\n"
                                                "     pick up the phone\n"
                                                "     and talk to me!\n"
                                                "Content-Length: 0\n"),
                                           "CSeq: 10 OPTIONS", "CSeq: 10\n\t OPTIONS"),
                                      "Via: SIP/2.0/UDP switch.example.net:5060;", "Via: SIP/2.0/UDP\n switch.example.net:5060\n ;"));
  MessageWithHeaders<> p;
  const ParseResult r = p.parse(bytes);
  ASSERT_TRUE(r.ok()) << to_string(r.error) << " at " << r.offset;
  const Header* subject = p.msg.find(HeaderId::subject);
  ASSERT_NE(subject, nullptr);
  EXPECT_EQ(subject->value, "I know you're there,\r\n     pick up the phone\r\n     and talk to me!");
  EXPECT_EQ(subject->line,
            "Subject: I know you're there,\r\n     pick up the phone\r\n     and talk to me!\r\n");
  EXPECT_EQ(p.msg.cseq.number, 10u);
  EXPECT_EQ(p.msg.cseq.method, "OPTIONS");
  EXPECT_EQ(p.msg.top_via.host, "switch.example.net");
  EXPECT_EQ(p.msg.top_via.branch, "z9hG4bK-opt1");
  const Header* via = p.msg.find(HeaderId::via);
  ASSERT_NE(via, nullptr);
  EXPECT_EQ(via->line.substr(via->line.size() - 2), "\r\n");
  EXPECT_NE(via->line.find("\r\n ;branch"), std::string_view::npos);
}

TEST(HeaderFields, WhitespaceAroundColonAndValue) {
  // HCOLON = *( SP / HTAB ) ":" SWS; the value is trimmed; an empty value is allowed.
  const std::string bytes = wire(edit(edit(kOptions, "Call-ID: opt-1", "Call-ID \t:   opt-1"), "Content-Length: 0\n",
                                      "Subject:\nX-Note:   spaced value  \t\nContent-Length: 0\n"));
  MessageWithHeaders<> p;
  const ParseResult r = p.parse(bytes);
  ASSERT_TRUE(r.ok()) << to_string(r.error) << " at " << r.offset;
  const Header* call_id = p.msg.find(HeaderId::call_id);
  ASSERT_NE(call_id, nullptr);
  EXPECT_EQ(call_id->name, "Call-ID");
  EXPECT_EQ(call_id->value, "opt-1@switch.example.net");
  EXPECT_EQ(p.msg.call_id, "opt-1@switch.example.net");
  const Header* subject = p.msg.find("Subject");
  ASSERT_NE(subject, nullptr);
  EXPECT_EQ(subject->value, "");
  const Header* note = p.msg.find("X-Note");
  ASSERT_NE(note, nullptr);
  EXPECT_EQ(note->value, "spaced value");
  EXPECT_EQ(note->id, HeaderId::other);
}

TEST(HeaderFields, FindByIdAndName) {
  const std::string bytes =
      wire(edit(kOptions, "Content-Length: 0\n", "X-Custom: one\nX-Custom: two\nv: SIP/2.0/UDP second.example.net;branch=z9hG4bK-2\nContent-Length: 0\n"));
  MessageWithHeaders<> p;
  ASSERT_TRUE(p.parse(bytes).ok());
  const Message& m = p.msg;
  const Header* call_id = m.find(HeaderId::call_id);
  ASSERT_NE(call_id, nullptr);
  for (std::string_view name : {"Call-ID", "call-id", "CALL-ID", "Call-Id", "i", "I"}) {
    EXPECT_EQ(m.find(name), call_id) << name;
  }
  const Header* via = m.find(HeaderId::via);
  ASSERT_NE(via, nullptr);
  EXPECT_EQ(via->name, "Via");  // the first one, not the compact one below it
  EXPECT_EQ(m.find("v"), via);
  EXPECT_EQ(m.find("VIA"), via);
  const Header* custom = m.find("x-custom");
  ASSERT_NE(custom, nullptr);
  EXPECT_EQ(custom->value, "one");
  EXPECT_EQ(m.find("X-CUSTOM"), custom);
  EXPECT_EQ(m.find("X-Custo"), nullptr);
  EXPECT_EQ(m.find("X-Custom2"), nullptr);
  EXPECT_EQ(m.find("Subject"), nullptr);
  EXPECT_EQ(m.find("s"), nullptr);
  EXPECT_EQ(m.find(HeaderId::contact), nullptr);
  EXPECT_EQ(m.find(""), nullptr);
  EXPECT_EQ(m.find("z"), nullptr);
}

TEST(HeaderFields, CompactFormsInAMessage) {
  constexpr std::string_view compact = R"(
OPTIONS sip:relay.example.net SIP/2.0
v: SIP/2.0/UDP switch.example.net:5060;branch=z9hG4bK-c1
F: <sip:ping@switch.example.net>;tag=1
t: <sip:relay.example.net>
I: c-1@switch.example.net
CSeq: 11 OPTIONS
m: <sip:ping@192.0.2.9>
k: timer
L: 0

)";
  MessageWithHeaders<> p;
  const std::string bytes = wire(compact);
  const ParseResult r = p.parse(bytes);
  ASSERT_TRUE(r.ok()) << to_string(r.error) << " at " << r.offset;
  EXPECT_TRUE(r.respondable);
  const Message& m = p.msg;
  EXPECT_EQ(m.top_via.branch, "z9hG4bK-c1");
  EXPECT_EQ(m.from.tag, "1");
  EXPECT_EQ(m.to.uri.host, "relay.example.net");
  EXPECT_EQ(m.call_id, "c-1@switch.example.net");
  EXPECT_TRUE(m.has_content_length);
  ASSERT_NE(m.find("Contact"), nullptr);
  EXPECT_EQ(m.find("Contact")->name, "m");
  ASSERT_NE(m.find(HeaderId::supported), nullptr);
  EXPECT_EQ(m.find("Supported")->value, "timer");
  EXPECT_EQ(m.find("content-length"), m.find("l"));
}

TEST(HeaderFields, ClassifyCompactAndFullNames) {
  struct Entry {
    char compact;
    std::string_view full;
    HeaderId id;
  };
  // RFC 3261 §7.3.3 / §20, RFC 3265, RFC 3515, RFC 4028, RFC 3892, RFC 8224, RFC 3841.
  const Entry entries[] = {
      {'v', "Via", HeaderId::via},
      {'i', "Call-ID", HeaderId::call_id},
      {'l', "Content-Length", HeaderId::content_length},
      {'f', "From", HeaderId::from},
      {'t', "To", HeaderId::to},
      {'m', "Contact", HeaderId::contact},
      {'k', "Supported", HeaderId::supported},
      {'s', "Subject", HeaderId::subject},
      {'c', "Content-Type", HeaderId::content_type},
      {'e', "Content-Encoding", HeaderId::content_encoding},
      {'o', "Event", HeaderId::event},
      {'u', "Allow-Events", HeaderId::allow_events},
      {'r', "Refer-To", HeaderId::refer_to},
      {'x', "Session-Expires", HeaderId::session_expires},
      {'b', "Referred-By", HeaderId::referred_by},
      {'y', "Identity", HeaderId::identity},
      {'a', "Accept-Contact", HeaderId::accept_contact},
      {'j', "Reject-Contact", HeaderId::reject_contact},
      {'d', "Request-Disposition", HeaderId::request_disposition},
  };
  for (const Entry& e : entries) {
    const char lower[2] = {e.compact, 0};
    const char upper[2] = {static_cast<char>(e.compact - 'a' + 'A'), 0};
    EXPECT_EQ(classify_header(lower), e.id) << lower;
    EXPECT_EQ(classify_header(upper), e.id) << upper;
    EXPECT_EQ(classify_header(e.full), e.id) << e.full;
    std::string shouted(e.full);
    for (char& c : shouted) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    EXPECT_EQ(classify_header(shouted), e.id) << shouted;
  }
  EXPECT_EQ(classify_header("CSeq"), HeaderId::cseq);
  EXPECT_EQ(classify_header("cseq"), HeaderId::cseq);
  EXPECT_EQ(classify_header("Max-Forwards"), HeaderId::max_forwards);
  EXPECT_EQ(classify_header("Record-Route"), HeaderId::record_route);
  EXPECT_EQ(classify_header("Route"), HeaderId::route);
  EXPECT_EQ(classify_header("P-Asserted-Identity"), HeaderId::p_asserted_identity);
  EXPECT_EQ(classify_header("z"), HeaderId::other);
  EXPECT_EQ(classify_header("Vias"), HeaderId::other);
  EXPECT_EQ(classify_header("Via-X"), HeaderId::other);
  EXPECT_EQ(classify_header("To "), HeaderId::other);
  EXPECT_EQ(classify_header("X-Anything"), HeaderId::other);
}

// ---------------------------------------------------------------- framing

TEST(Framing, DatagramTrailingBytesAreIgnored) {
  // RFC 3261 §18.3 / RFC 4475 §3.1.1.8: bytes past Content-Length are not part of the message.
  const std::string msg = wire(kOptions);
  const std::string datagram = msg + "INVITE sip:joe@example.com SIP/2.0\r\nt: sip:joe@example.com\r\n\r\n";
  MessageWithHeaders<> p;
  const ParseResult r = p.parse(datagram);
  ASSERT_TRUE(r.ok()) << to_string(r.error);
  EXPECT_EQ(p.msg.bytes, msg);
  EXPECT_EQ(p.msg.body, "");
  EXPECT_EQ(p.msg.body.data(), datagram.data() + msg.size());

  const std::string with_body = wire(edit(kOptions, "Content-Length: 0", "Content-Length: 4")) + "abcdEXTRA";
  ASSERT_TRUE(p.parse(with_body).ok());
  EXPECT_EQ(p.msg.body, "abcd");
  EXPECT_EQ(p.msg.bytes.data() + p.msg.bytes.size(), p.msg.body.data() + 4);
  EXPECT_EQ(p.msg.bytes.size(), with_body.size() - 5);
}

TEST(Framing, DatagramWithoutContentLengthTakesTheRest) {
  // RFC 3261 §18.3: over UDP the body ends at the end of the datagram.
  const std::string bytes = wire(drop_line(kOptions, "Content-Length:")) + "body!";
  MessageWithHeaders<> p;
  const ParseResult r = p.parse(bytes);
  ASSERT_TRUE(r.ok()) << to_string(r.error);
  EXPECT_FALSE(p.msg.has_content_length);
  EXPECT_EQ(p.msg.body, "body!");
  EXPECT_EQ(p.msg.bytes, bytes);
}

TEST(Framing, StreamModeRequiresContentLength) {
  // RFC 3261 §18.3 / §20.14: Content-Length MUST be used over stream transports.
  ParseOptions stream;
  stream.datagram = false;
  MessageWithHeaders<> p;
  ParseResult r = p.parse(wire(drop_line(kOptions, "Content-Length:")), stream);
  EXPECT_EQ(r.error, ParseError::missing_header);
  EXPECT_EQ(r.header, HeaderId::content_length);
  r = p.parse(wire(kOptions), stream);
  EXPECT_EQ(r.error, ParseError::ok);
  const std::string invite = wire(kInvite);
  r = p.parse(invite, stream);
  EXPECT_EQ(r.error, ParseError::ok);
  EXPECT_EQ(p.msg.body, kSdp);
}

TEST(Framing, LeadingCrlfsAreSkipped) {
  // RFC 3261 §7.5: implementations should ignore CRLFs before the start line.
  const std::string msg = wire(kOptions);
  const std::string bytes = "\r\n\r\n" + msg;
  MessageWithHeaders<> p;
  const ParseResult r = p.parse(bytes);
  ASSERT_TRUE(r.ok()) << to_string(r.error);
  EXPECT_EQ(p.msg.bytes, msg);
  EXPECT_EQ(p.msg.bytes.data(), bytes.data() + 4);
  EXPECT_EQ(p.msg.method, "OPTIONS");
}

TEST(Framing, MessageTooLarge) {
  const std::string bytes = wire(kOptions);
  MessageWithHeaders<> p;
  ParseOptions opts;
  opts.max_message_size = static_cast<std::uint32_t>(bytes.size());
  EXPECT_EQ(p.parse(bytes, opts).error, ParseError::ok);
  opts.max_message_size = static_cast<std::uint32_t>(bytes.size() - 1);
  const ParseResult r = p.parse(bytes, opts);
  EXPECT_EQ(r.error, ParseError::message_too_large);
  EXPECT_FALSE(r.respondable);
}

TEST(Framing, TooManyHeaders) {
  const std::string bytes = wire(kOptions);
  Message m;
  std::vector<Header> storage(kOptionsHeaders);
  ParseResult r = parse_message(bytes, m, storage);
  EXPECT_EQ(r.error, ParseError::ok);
  EXPECT_EQ(m.headers.size(), kOptionsHeaders);
  r = parse_message(bytes, m, std::span<Header>(storage.data(), kOptionsHeaders - 1));
  EXPECT_EQ(r.error, ParseError::too_many_headers);
  r = parse_message(bytes, m, std::span<Header>(storage.data(), 3));
  EXPECT_EQ(r.error, ParseError::too_many_headers);
  r = parse_message(bytes, m, std::span<Header>());
  EXPECT_EQ(r.error, ParseError::too_many_headers);
}

TEST(Framing, StorageBeyondTheHeadersIsUntouched) {
  const std::string bytes = wire(kOptions);
  Message m;
  std::vector<Header> storage(kOptionsHeaders + 2);
  storage[kOptionsHeaders].name = "sentinel";
  storage[kOptionsHeaders + 1].name = "sentinel";
  ASSERT_TRUE(parse_message(bytes, m, storage).ok());
  EXPECT_EQ(storage[kOptionsHeaders].name, "sentinel");
  EXPECT_EQ(storage[kOptionsHeaders + 1].name, "sentinel");
}

// ---------------------------------------------------------------- leniency flags

TEST(Leniency, BareLineFeeds) {
  std::string lf(kOptions);
  lf.erase(0, 1);  // the newline after R"(
  MessageWithHeaders<> p;
  ParseResult r = p.parse(lf);
  EXPECT_EQ(r.error, ParseError::bad_line_ending);
  ParseOptions lenient;
  lenient.allow_bare_lf = true;
  r = p.parse(lf, lenient);
  ASSERT_EQ(r.error, ParseError::ok);
  EXPECT_EQ(p.msg.method, "OPTIONS");
  EXPECT_EQ(p.msg.version, "SIP/2.0");
  EXPECT_EQ(p.msg.call_id, "opt-1@switch.example.net");
  for (const Header& h : p.msg.headers) {
    EXPECT_EQ(h.value.find('\r'), std::string_view::npos);
    EXPECT_EQ(h.line.back(), '\n');
  }
  // One bare LF in an otherwise CRLF message.
  const std::string mixed = edit(wire(kOptions), "Max-Forwards: 70\r\n", "Max-Forwards: 70\n");
  EXPECT_EQ(p.parse(mixed).error, ParseError::bad_line_ending);
  r = p.parse(mixed, lenient);
  EXPECT_EQ(r.error, ParseError::ok);
  EXPECT_EQ(p.msg.max_forwards, 70);
}

TEST(Leniency, ExtraSpacesInRequestLine) {
  // RFC 4475 §3.1.2.9 and §3.1.2.10: invalid, but an element may be liberal.
  const std::string multi = wire(edit(kOptions, "OPTIONS sip:relay.example.net SIP/2.0",
                                      "OPTIONS  sip:relay.example.net      SIP/2.0"));
  const std::string trailing =
      wire(edit(kOptions, "OPTIONS sip:relay.example.net SIP/2.0", "OPTIONS sip:relay.example.net SIP/2.0  "));
  MessageWithHeaders<> p;
  EXPECT_FALSE(p.parse(multi).ok());
  EXPECT_FALSE(p.parse(trailing).ok());
  ParseOptions lenient;
  lenient.allow_extra_request_line_spaces = true;
  for (const std::string& bytes : {multi, trailing}) {
    const ParseResult r = p.parse(bytes, lenient);
    ASSERT_EQ(r.error, ParseError::ok) << bytes;
    EXPECT_EQ(p.msg.method, "OPTIONS");
    EXPECT_EQ(p.msg.request_uri_text, "sip:relay.example.net");
    EXPECT_EQ(p.msg.version, "SIP/2.0");
  }
}

// ---------------------------------------------------------------- errors

enum class Respondable { unspecified, yes, no };

struct ErrorCase {
  std::string label;
  std::string bytes;
  ParseError error;
  std::optional<HeaderId> header;   // checked when set
  Respondable respondable;
  std::string_view offset_line;     // when set, the line holding offset starts with this
  ParseOptions opts{};
};

std::vector<ErrorCase> error_cases() {
  const std::string options = std::string(kOptions);
  const auto replace = [&](std::string_view from, std::string_view to) { return wire(edit(options, from, to)); };
  const auto add = [&](std::string_view header_line) {
    return wire(edit(options, "Content-Length: 0\n", std::string(header_line) + "\nContent-Length: 0\n"));
  };
  using R = Respondable;
  const auto none = std::optional<HeaderId>(HeaderId::none);
  std::vector<ErrorCase> c;

  c.push_back({"nothing", "", ParseError::empty, none, R::no, {}});
  c.push_back({"only CRLFs", "\r\n\r\n\r\n", ParseError::empty, none, R::no, {}});

  c.push_back({"bare LF ends the start line", edit(wire(kOptions), "SIP/2.0\r\n", "SIP/2.0\n"),
               ParseError::bad_line_ending, none, R::unspecified, {}});
  c.push_back({"bare LF ends a header", edit(wire(kOptions), "Call-ID: opt-1@switch.example.net\r\n",
                                             "Call-ID: opt-1@switch.example.net\n"),
               ParseError::bad_line_ending, none, R::unspecified, {}});
  c.push_back({"bare CR inside a header", add("Subject: one\rtwo"), ParseError::bad_line_ending, std::nullopt,
               R::unspecified, {}});

  c.push_back({"two elements", replace("OPTIONS sip:relay.example.net SIP/2.0", "OPTIONS sip:relay.example.net"),
               ParseError::bad_start_line, none, R::no, {}});
  c.push_back({"one word", replace("OPTIONS sip:relay.example.net SIP/2.0", "HELLO"), ParseError::bad_start_line,
               none, R::no, {}});
  c.push_back({"version only", replace("OPTIONS sip:relay.example.net SIP/2.0", "SIP/2.0"),
               ParseError::bad_start_line, none, R::no, {}});

  c.push_back({"method not a token", replace("OPTIONS sip:", "OPT@IONS sip:"), ParseError::bad_method, none,
               R::unspecified, {}});
  c.push_back({"method with separator", replace("OPTIONS sip:", "OPT(IONS) sip:"), ParseError::bad_method, none,
               R::unspecified, {}});

  c.push_back({"unclosed IPv6 Request-URI", replace("OPTIONS sip:relay.example.net ", "OPTIONS sip:[2001:db8::10 "),
               ParseError::bad_request_uri, none, R::yes, {}});
  c.push_back({"unbracketed IPv6 Request-URI (RFC 5118 4.2)",
               replace("OPTIONS sip:relay.example.net ", "OPTIONS sip:2001:db8::10 "), ParseError::bad_request_uri, none,
               R::yes, {}});
  c.push_back({"<> around Request-URI (RFC 4475 3.1.2.7)",
               replace("OPTIONS sip:relay.example.net ", "OPTIONS <sip:relay.example.net> "),
               ParseError::bad_request_uri, none, R::yes, {}});

  c.push_back({"HTTP version", replace(" SIP/2.0\n", " HTTP/1.1\n"), ParseError::bad_sip_version, none,
               R::unspecified, {}});
  c.push_back({"version without minor", replace(" SIP/2.0\n", " SIP/2\n"), ParseError::bad_sip_version, none,
               R::unspecified, {}});
  c.push_back({"version with letters", replace(" SIP/2.0\n", " SIP/2.x\n"), ParseError::bad_sip_version, none,
               R::unspecified, {}});
  c.push_back({"response version", wire(edit(kOk, "SIP/2.0 200", "SIP/2 200")), ParseError::bad_sip_version, none,
               R::no, {}});

  c.push_back({"SIP/3.0 request", replace(" SIP/2.0\n", " SIP/3.0\n"), ParseError::unsupported_sip_version, none,
               R::yes, {}});
  c.push_back({"SIP/7.0 request (RFC 4475 3.1.2.16)", replace(" SIP/2.0\n", " SIP/7.0\n"),
               ParseError::unsupported_sip_version, none, R::yes, {}});
  c.push_back({"SIP/3.0 response", wire(edit(kOk, "SIP/2.0 200", "SIP/3.0 200")),
               ParseError::unsupported_sip_version, none, R::no, {}});

  const auto status = [&](std::string_view line) { return wire(edit(kOk, "SIP/2.0 200 OK", line)); };
  c.push_back({"four-digit status", status("SIP/2.0 2000 OK"), ParseError::bad_status_code, none, R::no, {}});
  c.push_back({"two-digit status", status("SIP/2.0 20 OK"), ParseError::bad_status_code, none, R::no, {}});
  c.push_back({"letter in status", status("SIP/2.0 2x0 OK"), ParseError::bad_status_code, none, R::no, {}});
  c.push_back({"huge status (RFC 4475 3.1.2.19)", status("SIP/2.0 4294967301 better not break the receiver"),
               ParseError::bad_status_code, none, R::no, {}});
  c.push_back({"status class 0", status("SIP/2.0 099 Low"), ParseError::bad_status_code, none, R::no, {}});
  c.push_back({"status class 7", status("SIP/2.0 700 High"), ParseError::bad_status_code, none, R::no, {}});

  c.push_back({"control character in reason", status("SIP/2.0 200 O\x01K"), ParseError::bad_reason_phrase, none,
               R::no, {}});
  c.push_back({"DEL in reason", status("SIP/2.0 200 O\x7fK"), ParseError::bad_reason_phrase, none, R::no, {}});

  c.push_back({"header without colon", add("Subject hello"), ParseError::bad_header_line, none, R::unspecified, {}});
  c.push_back({"space inside header name", add("X Custom: hello"), ParseError::bad_header_line, none,
               R::unspecified, {}});
  c.push_back({"separator in header name", add("X@Custom: hello"), ParseError::bad_header_line, none,
               R::unspecified, {}});
  c.push_back({"empty header name", add(": hello"), ParseError::bad_header_line, none, R::unspecified, {}});
  c.push_back({"continuation of nothing", replace("SIP/2.0\nVia:", "SIP/2.0\n folded\nVia:"),
               ParseError::bad_header_line, none, R::unspecified, {}});

  std::string no_end = wire(kOptions);
  no_end.resize(no_end.size() - 2);  // drop the empty line
  c.push_back({"no empty line", no_end, ParseError::missing_header_terminator, none, R::no, {}});
  no_end.resize(no_end.size() - 2);  // and the last CRLF
  c.push_back({"last line unterminated", no_end, ParseError::missing_header_terminator, none, R::no, {}});
  c.push_back({"start line only", "OPTIONS sip:relay.example.net SIP/2.0\r\n", ParseError::missing_header_terminator,
               none, R::no, {}});

  const std::pair<std::string_view, HeaderId> mandatory[] = {{"Via:", HeaderId::via},
                                                             {"From:", HeaderId::from},
                                                             {"To:", HeaderId::to},
                                                             {"Call-ID:", HeaderId::call_id},
                                                             {"CSeq:", HeaderId::cseq}};
  for (const auto& [name, id] : mandatory) {
    c.push_back({"missing " + std::string(name), wire(drop_line(options, name)), ParseError::missing_header, id, R::no,
                 {}});
  }
  c.push_back({"response missing To", wire(drop_line(kOk, "To:")), ParseError::missing_header, HeaderId::to, R::no,
               {}});

  c.push_back({"two Call-IDs", add("Call-ID: other@switch.example.net"), ParseError::duplicate_header,
               HeaderId::call_id, R::yes, "Call-ID: other"});
  c.push_back({"Call-ID and i", add("i: other@switch.example.net"), ParseError::duplicate_header, HeaderId::call_id,
               R::yes, {}});
  c.push_back({"two CSeqs", add("CSeq: 11 OPTIONS"), ParseError::duplicate_header, HeaderId::cseq, R::yes,
               "CSeq: 11"});
  c.push_back({"two Froms", add("f: <sip:other@switch.example.net>;tag=9"), ParseError::duplicate_header,
               HeaderId::from, R::yes, {}});
  c.push_back({"two Tos", add("To: <sip:other@relay.example.net>"), ParseError::duplicate_header, HeaderId::to,
               R::yes, "To: <sip:other"});
  c.push_back({"two Max-Forwards", add("Max-Forwards: 69"), ParseError::duplicate_header, HeaderId::max_forwards,
               R::yes, "Max-Forwards: 69"});
  c.push_back({"Content-Length and l", add("l: 0"), ParseError::duplicate_header, HeaderId::content_length, R::yes,
               {}});

  c.push_back({"CSeq number not numeric", replace("CSeq: 10 OPTIONS", "CSeq: abc OPTIONS"),
               ParseError::invalid_header_value, HeaderId::cseq, R::yes, "CSeq:"});
  c.push_back({"CSeq 2^32", replace("CSeq: 10 OPTIONS", "CSeq: 4294967296 OPTIONS"),
               ParseError::invalid_header_value, HeaderId::cseq, R::yes, "CSeq:"});
  c.push_back({"CSeq without method", replace("CSeq: 10 OPTIONS", "CSeq: 10"), ParseError::invalid_header_value,
               HeaderId::cseq, R::yes, "CSeq:"});
  c.push_back({"Via without sent-by", replace("Via: SIP/2.0/UDP switch.example.net:5060;branch=z9hG4bK-opt1",
                                              "Via: SIP/2.0/UDP"),
               ParseError::invalid_header_value, HeaderId::via, R::unspecified, "Via:"});
  c.push_back({"second Via header invalid", add("Via: SIP/2.0/UDP b.example.net;;branch=x"),
               ParseError::invalid_header_value, HeaderId::via, R::unspecified, "Via: SIP/2.0/UDP b."});
  c.push_back({"Via list with trailing comma", replace(";branch=z9hG4bK-opt1\n", ";branch=z9hG4bK-opt1,\n"),
               ParseError::invalid_header_value, HeaderId::via, R::unspecified, "Via:"});
  c.push_back({"From with unterminated quote", replace("From: <sip:ping", "From: \"Ping <sip:ping"),
               ParseError::invalid_header_value, HeaderId::from, R::unspecified, "From:"});
  c.push_back({"To with spaces in <>", replace("To: <sip:relay.example.net>", "To: < sip:relay.example.net >"),
               ParseError::invalid_header_value, HeaderId::to, R::unspecified, "To:"});
  c.push_back({"two To values in one header", replace("To: <sip:relay.example.net>",
                                                      "To: <sip:relay.example.net>, <sip:b@example.net>"),
               ParseError::invalid_header_value, HeaderId::to, R::unspecified, "To:"});
  c.push_back({"Call-ID with space", replace("Call-ID: opt-1@switch.example.net", "Call-ID: opt 1@switch.example.net"),
               ParseError::invalid_header_value, HeaderId::call_id, R::unspecified, "Call-ID:"});
  c.push_back({"two Call-ID values in one header", replace("Call-ID: opt-1@switch.example.net", "Call-ID: a@b, c@d"),
               ParseError::invalid_header_value, HeaderId::call_id, R::unspecified, "Call-ID:"});
  c.push_back({"Max-Forwards 256", replace("Max-Forwards: 70", "Max-Forwards: 256"), ParseError::invalid_header_value,
               HeaderId::max_forwards, R::yes, "Max-Forwards:"});
  c.push_back({"Max-Forwards negative", replace("Max-Forwards: 70", "Max-Forwards: -1"),
               ParseError::invalid_header_value, HeaderId::max_forwards, R::yes, "Max-Forwards:"});
  c.push_back({"Max-Forwards not numeric", replace("Max-Forwards: 70", "Max-Forwards: seventy"),
               ParseError::invalid_header_value, HeaderId::max_forwards, R::yes, "Max-Forwards:"});
  c.push_back({"negative Content-Length (RFC 4475 3.1.2.3)", replace("Content-Length: 0", "Content-Length: -999"),
               ParseError::invalid_header_value, HeaderId::content_length, R::unspecified, "Content-Length:"});
  c.push_back({"Content-Length not numeric", replace("Content-Length: 0", "Content-Length: zero"),
               ParseError::invalid_header_value, HeaderId::content_length, R::unspecified, "Content-Length:"});
  c.push_back({"Contact with trailing comma", add("Contact: <sip:ping@192.0.2.9>,"), ParseError::invalid_header_value,
               HeaderId::contact, R::unspecified, "Contact:"});
  c.push_back({"bare Contact with ? (RFC 4475 3.1.2.13)", add("Contact: sip:user@example.com?Route=%3Csip:example.com%3E"),
               ParseError::invalid_header_value, HeaderId::contact, R::unspecified, "Contact:"});
  c.push_back({"Contact with empty params (RFC 4475 3.1.2.1)", add("Contact: \"Joe\" <sip:joe@example.org>;;;;"),
               ParseError::invalid_header_value, HeaderId::contact, R::unspecified, "Contact:"});

  c.push_back({"CSeq names another method (RFC 4475 3.1.2.17)", replace("CSeq: 10 OPTIONS", "CSeq: 10 INVITE"),
               ParseError::cseq_method_mismatch, std::nullopt, R::yes, "CSeq:"});
  c.push_back({"CSeq method differs in case", replace("CSeq: 10 OPTIONS", "CSeq: 10 options"),
               ParseError::cseq_method_mismatch, std::nullopt, R::yes, "CSeq:"});

  c.push_back({"body shorter than Content-Length", wire(edit(kOptions, "Content-Length: 0", "Content-Length: 100")) +
                                                       "only ten..",
               ParseError::content_length_exceeds_datagram, std::nullopt, R::unspecified, {}});
  return c;
}

TEST(ParseErrors, EachCaseGivesItsError) {
  for (const ErrorCase& c : error_cases()) {
    SCOPED_TRACE(c.label);
    MessageWithHeaders<> p;
    const ParseResult r = p.parse(c.bytes, c.opts);
    EXPECT_EQ(r.error, c.error) << "got " << to_string(r.error) << ", expected " << to_string(c.error);
    EXPECT_FALSE(r.ok());
    EXPECT_FALSE(static_cast<bool>(r));
    if (c.header) {
      EXPECT_EQ(r.header, *c.header) << "got " << header_name(r.header) << ", expected " << header_name(*c.header);
    }
    if (c.respondable == Respondable::yes) {
      EXPECT_TRUE(r.respondable);
    } else if (c.respondable == Respondable::no) {
      EXPECT_FALSE(r.respondable);
    }
    if (!c.offset_line.empty()) {
      const auto line = line_at(c.bytes, r.offset);
      EXPECT_EQ(line.substr(0, c.offset_line.size()), c.offset_line) << "offset " << r.offset << " is in: " << line;
    }
    EXPECT_FALSE(describe(r).empty());
  }
}

TEST(ParseErrors, EveryErrorCodeIsProvoked) {
  std::set<ParseError> seen;
  for (const ErrorCase& c : error_cases()) seen.insert(c.error);
  seen.insert(ParseError::too_many_headers);   // Framing.TooManyHeaders
  seen.insert(ParseError::message_too_large);  // Framing.MessageTooLarge
  for (int e = static_cast<int>(ParseError::empty); e <= static_cast<int>(ParseError::message_too_large); ++e) {
    EXPECT_EQ(seen.count(static_cast<ParseError>(e)), 1u) << to_string(static_cast<ParseError>(e));
  }
}

TEST(ParseErrors, NamesAreDistinct) {
  std::set<std::string_view> names;
  for (int e = 0; e <= static_cast<int>(ParseError::message_too_large); ++e) {
    const auto name = to_string(static_cast<ParseError>(e));
    EXPECT_NE(name, "unknown");
    EXPECT_TRUE(names.insert(name).second) << name;
  }
  EXPECT_EQ(to_string(ParseError::invalid_header_value), "invalid_header_value");
}

TEST(ParseErrors, StatusLineWithoutReasonSeparator) {
  // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF: the
  // second SP is mandatory even when the phrase is empty.
  MessageWithHeaders<> p;
  ParseResult r = p.parse(wire(edit(kOk, "SIP/2.0 200 OK", "SIP/2.0 200")));
  EXPECT_TRUE(r.error == ParseError::bad_status_code || r.error == ParseError::bad_start_line)
      << to_string(r.error);
  // RFC 4475 §3.1.1.13: an empty phrase after the SP is fine.
  const std::string empty_phrase = wire(edit(kOk, "SIP/2.0 200 OK", "SIP/2.0 200 "));
  r = p.parse(empty_phrase);
  EXPECT_EQ(r.error, ParseError::ok);
  EXPECT_EQ(p.msg.reason, "");
}

TEST(Respondable, ValidRequestsAndResponses) {
  MessageWithHeaders<> p;
  EXPECT_TRUE(p.parse(wire(kOptions)).respondable);
  EXPECT_TRUE(p.parse(wire(kInvite)).respondable);
  EXPECT_FALSE(p.parse(wire(kOk)).respondable);
  EXPECT_FALSE(p.parse(redirect_wire()).respondable);
  // A broken response is still a response.
  EXPECT_FALSE(p.parse(wire(edit(kOk, "CSeq: 314159 INVITE", "CSeq: x INVITE"))).respondable);
}

// ---------------------------------------------------------------- memory safety

TEST(Robustness, BodyEndsAtAGuardPage) {
  GuardedBuffer buf;
  ASSERT_TRUE(buf.ready());
  const std::string bytes = wire(kInvite);
  ASSERT_LT(bytes.size(), buf.capacity());
  const auto placed = buf.place(bytes);
  MessageWithHeaders<> p;
  const ParseResult r = p.parse(placed);
  ASSERT_TRUE(r.ok()) << to_string(r.error);
  EXPECT_EQ(p.msg.body, kSdp);
  EXPECT_EQ(p.msg.body.data() + p.msg.body.size(), buf.guard());
  EXPECT_EQ(p.msg.bytes.data() + p.msg.bytes.size(), buf.guard());

  // The same without Content-Length (body runs to the end of the datagram)
  // and with a header section that ends exactly at the guard.
  const std::string no_cl = wire(drop_line(kInvite, "Content-Length:"));
  ASSERT_TRUE(p.parse(buf.place(no_cl)).ok());
  EXPECT_EQ(p.msg.body, kSdp);
  ASSERT_TRUE(p.parse(buf.place(wire(kOptions))).ok());
  EXPECT_EQ(p.msg.body.data(), buf.guard());
}

TEST(Robustness, EveryPrefixAgainstAGuardPage) {
  GuardedBuffer buf;
  ASSERT_TRUE(buf.ready());
  ParseOptions stream;
  stream.datagram = false;
  for (const std::string& full : {wire(kInvite), wire(kOk), redirect_wire()}) {
    for (std::size_t n = 0; n <= full.size(); ++n) {
      const auto bytes = buf.place(std::string_view(full).substr(0, n));
      MessageWithHeaders<> p;
      const ParseResult r = p.parse(bytes);
      if (n < full.size()) {
        // Every strict prefix lacks the empty line or part of the body.
        EXPECT_FALSE(r.ok()) << "prefix of " << n << " bytes parsed";
      } else {
        EXPECT_TRUE(r.ok()) << to_string(r.error);
      }
      const ParseResult rs = p.parse(bytes, stream);
      EXPECT_EQ(rs.ok(), n == full.size()) << n;
    }
  }
}

TEST(Robustness, SingleByteCorruptionsAgainstAGuardPage) {
  GuardedBuffer buf;
  ASSERT_TRUE(buf.ready());
  const std::string full = wire(kInvite);
  const char replacements[] = {'\0', '\r', '\n', ' ', '\t', ':', ';', ',', '<', '>', '"', '\\', '%', '[', ']', '\x80'};
  for (std::size_t i = 0; i < full.size(); ++i) {
    for (char c : replacements) {
      std::string mutated = full;
      mutated[i] = c;
      const auto bytes = buf.place(mutated);
      MessageWithHeaders<> p;
      const ParseResult r = p.parse(bytes);
      EXPECT_LE(r.offset, bytes.size());
      if (!r.ok()) continue;
      const Message& m = p.msg;
      EXPECT_TRUE(inside(m.bytes, bytes));
      EXPECT_TRUE(inside(m.body, bytes));
      EXPECT_TRUE(inside(m.header_block, bytes));
      for (const Header& h : m.headers) {
        EXPECT_TRUE(inside(h.line, bytes));
        EXPECT_TRUE(inside(h.value, h.line));
      }
      EXPECT_GE(m.via_count, 1);
      EXPECT_FALSE(m.call_id.empty());
    }
  }
}

// ---------------------------------------------------------------- parse depth

ParseOptions relay_depth() {
  ParseOptions o;
  o.depth = ParseDepth::relay;
  return o;
}

TEST(ParseDepthRelay, AcceptsWhatFullAcceptsWithTheSameKeyFields) {
  for (const std::string& bytes : {wire(kInvite), wire(kOk), redirect_wire(), wire(kOptions)}) {
    MessageWithHeaders<> full;
    MessageWithHeaders<> relay;
    ASSERT_TRUE(full.parse(bytes).ok());
    ASSERT_TRUE(relay.parse(bytes, relay_depth()).ok());
    const Message& f = full.msg;
    const Message& r = relay.msg;
    EXPECT_EQ(r.request_uri_text, f.request_uri_text);
    EXPECT_EQ(r.request_uri.user, f.request_uri.user);
    EXPECT_EQ(r.request_uri.host, f.request_uri.host);
    EXPECT_EQ(r.call_id, f.call_id);
    EXPECT_EQ(r.cseq.number, f.cseq.number);
    EXPECT_EQ(r.cseq.method, f.cseq.method);
    EXPECT_EQ(r.top_via.text, f.top_via.text);
    EXPECT_EQ(r.top_via.branch, f.top_via.branch);
    EXPECT_EQ(r.top_via.received, f.top_via.received);
    EXPECT_EQ(r.from.tag, f.from.tag);
    EXPECT_EQ(r.from.uri_text, f.from.uri_text);
    EXPECT_EQ(r.from.display, f.from.display);
    EXPECT_EQ(r.to.tag, f.to.tag);
    EXPECT_EQ(r.to.has_tag, f.to.has_tag);
    EXPECT_EQ(r.max_forwards, f.max_forwards);
    EXPECT_EQ(r.content_length, f.content_length);
    EXPECT_EQ(r.body, f.body);
    ASSERT_EQ(r.headers.size(), f.headers.size());
    for (std::size_t i = 0; i < r.headers.size(); ++i) EXPECT_EQ(r.headers[i].line, f.headers[i].line);
    EXPECT_EQ(r.via_count, 1);
    // The From URI is bounded, not parsed: only its text is there.
    EXPECT_EQ(r.from.uri.text, f.from.uri_text);
    EXPECT_TRUE(r.from.uri.host.empty());
  }
}

TEST(ParseDepthRelay, LeavesContactsAndLowerViasUnchecked) {
  // RFC 3261 §25.1: no URI holds SP, and a via-parm needs a sent-by.
  const std::string bad_contact = wire(edit(kInvite, "<sip:alice@client", "<sip:al ice@client"));
  const std::string bad_lower_via = wire(edit(kInvite, "Max-Forwards: 70\n", "Via: SIP/2.0/UDP ;branch=z9hG4bK-x\nMax-Forwards: 70\n"));
  const std::string bad_from_uri = wire(edit(kInvite, "<sip:alice@atlanta", "<sip:alice@@atlanta"));
  struct Case {
    const std::string& bytes;
    HeaderId header;
  };
  for (const Case& c : {Case{bad_contact, HeaderId::contact}, Case{bad_lower_via, HeaderId::via},
                        Case{bad_from_uri, HeaderId::from}}) {
    MessageWithHeaders<> full;
    const ParseResult rf = full.parse(c.bytes);
    EXPECT_EQ(rf.error, ParseError::invalid_header_value);
    EXPECT_EQ(rf.header, c.header);
    MessageWithHeaders<> relay;
    const ParseResult rr = relay.parse(c.bytes, relay_depth());
    EXPECT_TRUE(rr.ok()) << to_string(rr.error);
    EXPECT_EQ(relay.msg.top_via.branch, "z9hG4bK74bf9");
    EXPECT_EQ(relay.msg.from.tag, "9fxced76sl");
    EXPECT_EQ(relay.msg.call_id, "3848276298220188511@atlanta.example.com");
  }
}

TEST(ParseDepthRelay, StillRejectsWhatTheRelayUses) {
  struct Case {
    std::string bytes;
    ParseError error;
    HeaderId header;
  };
  const Case cases[] = {
      {wire(edit(kInvite, "SIP/2.0/UDP client", "SIP/2.0/UDP ")), ParseError::invalid_header_value, HeaderId::via},
      {wire(edit(kInvite, ";tag=9fxced76sl", ";tag=")), ParseError::invalid_header_value, HeaderId::from},
      {wire(edit(kInvite, "To: Bob <sip:bob@biloxi.example.com>", "To: Bob <sip:bob@biloxi.example.com")),
       ParseError::invalid_header_value, HeaderId::to},
      {wire(edit(kInvite, "Call-ID: 3848276298220188511@", "Call-ID: 38482 76298220188511@")),
       ParseError::invalid_header_value, HeaderId::call_id},
      {wire(edit(kInvite, "CSeq: 1 INVITE", "CSeq: 1 BYE")), ParseError::cseq_method_mismatch, HeaderId::cseq},
      {wire(edit(kInvite, "Max-Forwards: 70", "Max-Forwards: 256")), ParseError::invalid_header_value,
       HeaderId::max_forwards},
      {wire(edit(kInvite, "INVITE sip:bob@biloxi", "INVITE sip:bob@@biloxi")), ParseError::bad_request_uri,
       HeaderId::none},
  };
  for (const Case& c : cases) {
    MessageWithHeaders<> full;
    MessageWithHeaders<> relay;
    const ParseResult rf = full.parse(c.bytes);
    const ParseResult rr = relay.parse(c.bytes, relay_depth());
    EXPECT_EQ(rf.error, c.error);
    EXPECT_EQ(rf.header, c.header);
    EXPECT_EQ(rr.error, c.error) << c.bytes;
    EXPECT_EQ(rr.header, c.header);
    EXPECT_EQ(rr.respondable, rf.respondable);
  }
}

TEST(ParseDepthRelay, EveryPrefixAndCorruptionAgainstAGuardPage) {
  GuardedBuffer buf;
  ASSERT_TRUE(buf.ready());
  const char replacements[] = {'\0', '\r', '\n', ' ', '\t', ':', ';', ',', '<', '>', '"', '\\', '%', '[', ']', '\x80'};
  for (const std::string& whole : {wire(kInvite), redirect_wire()}) {
    for (std::size_t n = 0; n <= whole.size(); ++n) {
      MessageWithHeaders<> p;
      EXPECT_EQ(p.parse(buf.place(std::string_view(whole).substr(0, n)), relay_depth()).ok(), n == whole.size());
    }
    for (std::size_t i = 0; i < whole.size(); ++i) {
      for (char c : replacements) {
        std::string mutated = whole;
        mutated[i] = c;
        const auto bytes = buf.place(mutated);
        MessageWithHeaders<> full;
        MessageWithHeaders<> relay;
        const ParseResult rf = full.parse(bytes);
        const ParseResult rr = relay.parse(bytes, relay_depth());
        EXPECT_LE(rr.offset, bytes.size());
        // Relay depth checks a subset: it never refuses what full accepts.
        if (rf.ok()) {
          EXPECT_TRUE(rr.ok()) << i;
          EXPECT_EQ(relay.msg.top_via.branch, full.msg.top_via.branch);
          EXPECT_EQ(relay.msg.from.tag, full.msg.from.tag);
        }
      }
    }
  }
}


// ---------------------------------------------------------------- per-CPU copies

// The header split runs in one of two copies (sip/field_split.hpp); these
// tests force each in turn. Where the CPU lacks AVX2 only the baseline runs.
std::vector<detail::SplitIsa> runnable_isas() {
  std::vector<detail::SplitIsa> isas{detail::SplitIsa::baseline};
  if (detail::isa_supported(detail::SplitIsa::avx2)) isas.push_back(detail::SplitIsa::avx2);
  return isas;
}

// Restores the copy chosen for this CPU when a test ends.
struct IsaGuard {
  detail::SplitIsa saved = detail::split_isa();
  ~IsaGuard() { detail::use_split_isa(saved); }
};

std::string_view at_or_null(std::string_view v, std::string_view base) {
  return v.data() == nullptr ? "(null)"sv : base.substr(static_cast<std::size_t>(v.data() - base.data()), v.size());
}

// Everything a caller may read, as text (views by position, so that two
// parses of the same bytes compare equal only if they point at the same bytes).
std::string describe_parse(const ParseResult& r, const Message& m, std::string_view bytes) {
  std::string s;
  const auto view = [&](std::string_view name, std::string_view v) {
    s += name;
    s += '=';
    if (v.data() == nullptr) {
      s += "null";
    } else {
      s += std::to_string(v.data() - bytes.data()) + "+" + std::to_string(v.size());
    }
    s += ' ';
  };
  const auto num = [&](std::string_view name, long v) {
    s += name;
    s += '=' + std::to_string(v) + ' ';
  };
  const auto uri = [&](std::string_view name, const Uri& u) {
    s += name;
    s += ':';
    view("text", u.text);
    num("scheme", static_cast<int>(u.scheme));
    view("user", u.user);
    view("password", u.password);
    num("has_user", u.has_user);
    view("host", u.host);
    num("kind", static_cast<int>(u.host_kind));
    num("port", u.port);
    num("has_port", u.has_port);
    view("params", u.params);
    view("headers", u.headers);
    view("opaque", u.opaque);
  };
  const auto name_addr = [&](std::string_view name, const NameAddr& n) {
    s += name;
    s += ':';
    view("text", n.text);
    view("display", n.display);
    view("uri_text", n.uri_text);
    uri("uri", n.uri);
    view("params", n.params);
    view("tag", n.tag);
    num("has_tag", n.has_tag);
    num("bracketed", n.bracketed);
    num("star", n.star);
  };
  num("error", static_cast<int>(r.error));
  num("header", static_cast<int>(r.header));
  num("offset", r.offset);
  num("respondable", r.respondable);
  view("bytes", m.bytes);
  num("is_request", m.is_request);
  view("method", m.method);
  num("method_id", static_cast<int>(m.method_id));
  view("request_uri_text", m.request_uri_text);
  uri("request_uri", m.request_uri);
  num("status", m.status);
  view("reason", m.reason);
  view("version", m.version);
  num("headers", static_cast<long>(m.headers.size()));
  for (const Header& h : m.headers) {
    view("name", h.name);
    view("value", h.value);
    view("line", h.line);
    num("id", static_cast<int>(h.id));
  }
  view("header_block", m.header_block);
  view("body", m.body);
  view("call_id", m.call_id);
  num("cseq", m.cseq.number);
  view("cseq_method", m.cseq.method);
  const Via& v = m.top_via;
  s += "via:";
  view("text", v.text);
  view("protocol", v.protocol);
  view("transport", v.transport);
  view("host", v.host);
  num("port", v.port);
  num("has_port", v.has_port);
  view("params", v.params);
  view("branch", v.branch);
  view("received", v.received);
  view("maddr", v.maddr);
  view("ttl", v.ttl);
  view("rport", v.rport);
  num("has_branch", v.has_branch);
  num("has_rport", v.has_rport);
  num("via_count", m.via_count);
  name_addr("from", m.from);
  name_addr("to", m.to);
  num("max_forwards", m.max_forwards);
  num("content_length", m.content_length);
  num("has_content_length", m.has_content_length);
  return s;
}

TEST(SplitIsa, BaselineIsAlwaysThereAndEachCopyCanBeForced) {
  IsaGuard guard;
  EXPECT_TRUE(detail::isa_supported(detail::SplitIsa::baseline));
  ASSERT_TRUE(detail::use_split_isa(detail::SplitIsa::baseline));
  EXPECT_EQ(detail::split_isa(), detail::SplitIsa::baseline);
  const bool avx2 = detail::isa_supported(detail::SplitIsa::avx2);
  EXPECT_EQ(detail::use_split_isa(detail::SplitIsa::avx2), avx2);  // refused where the CPU lacks it
  EXPECT_EQ(detail::split_isa(), avx2 ? detail::SplitIsa::avx2 : detail::SplitIsa::baseline);
}

TEST(SplitIsa, EveryErrorCaseUnderEachCopy) {
  IsaGuard guard;
  for (const detail::SplitIsa isa : runnable_isas()) {
    ASSERT_TRUE(detail::use_split_isa(isa));
    SCOPED_TRACE(isa == detail::SplitIsa::avx2 ? "avx2" : "baseline");
    for (const ErrorCase& c : error_cases()) {
      SCOPED_TRACE(c.label);
      MessageWithHeaders<> p;
      const ParseResult r = p.parse(c.bytes, c.opts);
      EXPECT_EQ(r.error, c.error) << "got " << to_string(r.error) << ", expected " << to_string(c.error);
      if (c.header) {
        EXPECT_EQ(r.header, *c.header);
      }
      if (!c.offset_line.empty()) {
        const auto line = line_at(c.bytes, r.offset);
        EXPECT_EQ(line.substr(0, c.offset_line.size()), c.offset_line) << "offset " << r.offset;
      }
    }
    // And the messages that must parse.
    for (const std::string& bytes : {wire(kInvite), wire(kOk), redirect_wire(), wire(kOptions)}) {
      MessageWithHeaders<> p;
      EXPECT_TRUE(p.parse(bytes).ok());
      EXPECT_TRUE(p.parse(bytes, relay_depth()).ok());
    }
  }
}

// A CR not followed by LF inside the header section is no line ending (RFC
// 3261 §7: lines end with CRLF) and is refused where it stands, wherever it
// falls in the 64-byte blocks the split scans: the Identity value of the 302
// spans several blocks, and every position in it is tried.
TEST(SplitIsa, BareCrAnywhereInAValueUnderEachCopy) {
  IsaGuard guard;
  GuardedBuffer buf;
  ASSERT_TRUE(buf.ready());
  const std::string whole = redirect_wire();
  const auto identity = whole.find("Identity: ");
  ASSERT_NE(identity, std::string::npos);
  const auto value_start = identity + 10;
  const auto value_end = whole.find("\r\n", value_start);
  for (const detail::SplitIsa isa : runnable_isas()) {
    ASSERT_TRUE(detail::use_split_isa(isa));
    for (std::size_t i = value_start; i < value_end; ++i) {
      std::string mutated = whole;
      mutated[i] = '\r';
      MessageWithHeaders<> p;
      const ParseResult r = p.parse(buf.place(mutated));
      EXPECT_EQ(r.error, ParseError::bad_line_ending) << i;
      EXPECT_EQ(r.offset, i);
    }
    // A CR right before the CRLF of the last line (CR CR LF), and one in
    // the body, which is no business of the header section.
    std::string before_end = whole;
    before_end.insert(whole.size() - 4, "\r");
    MessageWithHeaders<> p;
    const ParseResult r = p.parse(buf.place(before_end));
    EXPECT_EQ(r.error, ParseError::bad_line_ending);
    EXPECT_EQ(r.offset, whole.size() - 4);
    const std::string in_body = wire(edit(kInvite, "v=0", "v=\r0"));
    EXPECT_TRUE(p.parse(buf.place(in_body)).ok());
  }
}

// Both copies give the same answer, byte for byte, for every prefix and
// every single-byte corruption of the sample messages, at both depths and
// with and without bare-LF leniency, against a guard page.
TEST(SplitIsa, CopiesAgreeOnEveryPrefixAndCorruption) {
  const auto isas = runnable_isas();
  if (isas.size() < 2) GTEST_SKIP() << "this CPU runs only the baseline copy";
  IsaGuard guard;
  GuardedBuffer buf;
  ASSERT_TRUE(buf.ready());
  ParseOptions lenient;
  lenient.allow_bare_lf = true;
  ParseOptions relay = relay_depth();
  const ParseOptions option_sets[] = {ParseOptions{}, relay, lenient};
  const auto both = [&](std::string_view bytes) {
    for (const ParseOptions& o : option_sets) {
      std::string seen[2];
      for (std::size_t k = 0; k < 2; ++k) {
        ASSERT_TRUE(detail::use_split_isa(isas[k]));
        MessageWithHeaders<> p;
        const ParseResult r = p.parse(bytes, o);
        seen[k] = describe_parse(r, p.msg, bytes);
      }
      ASSERT_EQ(seen[0], seen[1]) << at_or_null(bytes, bytes);
    }
  };
  const char replacements[] = {'\0', '\r', '\n', ' ', '\t', ':', 'a', '\x80'};
  // Folded lines too (RFC 3261 §7.3.1), one of them long enough to cross a block.
  const std::string folded = wire(edit(kInvite, "Content-Type:", "Subject: a\n  b\n\t" + std::string(70, 'c') + "\nContent-Type:"));
  for (const std::string& whole : {wire(kInvite), redirect_wire(), wire(kOk), folded}) {
    for (std::size_t n = 0; n <= whole.size(); ++n) both(buf.place(std::string_view(whole).substr(0, n)));
    for (std::size_t i = 0; i < whole.size(); ++i) {
      for (char c : replacements) {
        std::string mutated = whole;
        mutated[i] = c;
        both(buf.place(mutated));
      }
    }
  }
}

// parse_message() clears the four large parts of a Message (Request-URI,
// top Via, From, To) only where the parse does not write them: a Message
// reused for another parse must still show nothing of the one before.
TEST(MessageReuse, NothingOfTheMessageBeforeSurvives) {
  GuardedBuffer buf;
  ASSERT_TRUE(buf.ready());
  const std::string invite = wire(kInvite);
  const std::vector<std::string> next = {
      "",
      "\r\n\r\n",
      "garbage",
      "INVITE sip:a@b SIP/2.0",
      "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n",
      "BAD LINE\r\n\r\n",
      wire(kOk),
      wire(kOptions),
      redirect_wire(),
      wire(drop_line(kInvite, "Via:")),
      wire(drop_line(kInvite, "From:")),
      wire(drop_line(kInvite, "To:")),
      wire(edit(kInvite, "INVITE sip:", "INVITE bad:<")),
      wire(edit(kInvite, "SIP/2.0\n", "SIP/3.0\n")),
      wire(edit(kInvite, "Via: SIP/2.0/UDP", "Via: SIP/2.0/")),
  };
  for (const std::string& text : next) {
    SCOPED_TRACE(text.substr(0, 40));
    const auto bytes = buf.place(text);
    MessageWithHeaders<> reused;
    ASSERT_TRUE(reused.parse(wire(kInvite)).ok());
    const ParseResult r1 = reused.parse(bytes);
    MessageWithHeaders<> fresh;
    const ParseResult r2 = fresh.parse(bytes);
    EXPECT_EQ(describe_parse(r1, reused.msg, bytes), describe_parse(r2, fresh.msg, bytes));
    // And the defaults of a new Message where nothing was parsed.
    if (bytes.empty()) {
      const Message blank{};
      EXPECT_EQ(describe_parse(r1, reused.msg, bytes), describe_parse(r2, blank, bytes));
    }
  }
}

}  // namespace
}  // namespace sigrelay::sip
