// Rewriter and build_response: expectations are written out from RFC 3261
// (§8.2.6, §16.6, §16.7, §18.3, §20.14) and every output is parsed again.
#include "sip/rewriter.hpp"

#include <gtest/gtest.h>
#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "sip/message.hpp"
#include "sip/response_builder.hpp"

namespace sigrelay::sip {
namespace {

static_assert(sizeof(Segment) == sizeof(iovec));
static_assert(offsetof(Segment, data) == offsetof(iovec, iov_base));
static_assert(offsetof(Segment, len) == offsetof(iovec, iov_len));

// Owns the text so that the parsed views stay valid.
class Parsed {
 public:
  explicit Parsed(std::string text) : text_(std::move(text)) { result_ = m_.parse(text_); }
  Parsed(const Parsed&) = delete;
  Parsed& operator=(const Parsed&) = delete;
  const Message& msg() const { return m_.msg; }
  const ParseResult& result() const { return result_; }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  MessageWithHeaders<64> m_;
  ParseResult result_;
};

// The output as one string; checks that segments() and flatten() agree.
std::string render(Rewriter& rw) {
  std::string joined;
  for (const Segment& s : rw.segments()) joined.append(s.data, s.len);
  std::string flat(rw.size(), '\0');
  EXPECT_EQ(rw.flatten(flat.data(), flat.size()), flat.size());
  EXPECT_EQ(joined, flat);
  EXPECT_EQ(joined.size(), rw.size());
  return joined;
}

// Replaces the single occurrence of `from`; the test fails if there is not exactly one.
std::string replace_once(std::string s, std::string_view from, std::string_view to) {
  const auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  EXPECT_EQ(s.find(from, at + 1), std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

std::string_view header_value(const Message& m, std::string_view name) {
  const Header* h = m.find(name);
  return h == nullptr ? std::string_view{} : h->value;
}

const std::string kSdp =
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 203.0.113.5\r\n"
    "s=-\r\n"
    "c=IN IP4 203.0.113.5\r\n"
    "t=0 0\r\n"
    "m=audio 49170 RTP/AVP 0 8 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=sendrecv\r\n";

constexpr std::string_view kInviteHead =
    "INVITE sip:+12125551234@198.51.100.10:5060;user=phone SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK74bf9;rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"Alice\" <sip:+13125550100@203.0.113.5;user=phone>;tag=9fxced76sl\r\n"
    "To: <sip:+12125551234@198.51.100.10;user=phone>\r\n"
    "Call-ID: 3848276298220188511@203.0.113.5\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:+13125550100@203.0.113.5:5060>\r\n"
    "Content-Type: application/sdp\r\n";

std::string content_length_line(std::size_t n) { return "Content-Length: " + std::to_string(n) + "\r\n"; }

std::string invite() { return std::string(kInviteHead) + content_length_line(kSdp.size()) + "\r\n" + kSdp; }

constexpr std::string_view kRelayVia = "SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKsr1a2b3c;rport";

// The fields every rewritten INVITE keeps from the original.
void expect_dialog_fields(const Message& m) {
  EXPECT_EQ(m.call_id, "3848276298220188511@203.0.113.5");
  EXPECT_EQ(m.cseq.number, 1u);
  EXPECT_EQ(m.cseq.method_id, Method::invite);
  EXPECT_EQ(m.from.tag, "9fxced76sl");
  EXPECT_FALSE(m.to.has_tag);
  EXPECT_EQ(m.to.uri.user, "+12125551234");
}

TEST(Rewriter, UntouchedMessageComesOutUnchangedAndUncopied) {
  Parsed in(invite());
  ASSERT_TRUE(in.result().ok());
  Rewriter rw(in.msg());
  EXPECT_EQ(render(rw), in.text());
  ASSERT_EQ(rw.segments().size(), 1u);
  EXPECT_EQ(rw.segments()[0].data, in.text().data());
  EXPECT_EQ(rw.edit_count(), 0u);
}

TEST(Rewriter, ForwardedInviteGetsViaOnTopAndMaxForwardsDecremented) {
  Parsed in(invite());
  ASSERT_TRUE(in.result().ok());
  Rewriter rw(in.msg());
  ASSERT_EQ(rw.prepend_via(kRelayVia), RewriteError::ok);
  ASSERT_EQ(rw.decrement_max_forwards(), RewriteError::ok);

  const std::string expected =
      "INVITE sip:+12125551234@198.51.100.10:5060;user=phone SIP/2.0\r\n"
      "Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKsr1a2b3c;rport\r\n"
      "Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK74bf9;rport\r\n"
      "Max-Forwards: 69\r\n"
      "From: \"Alice\" <sip:+13125550100@203.0.113.5;user=phone>;tag=9fxced76sl\r\n"
      "To: <sip:+12125551234@198.51.100.10;user=phone>\r\n"
      "Call-ID: 3848276298220188511@203.0.113.5\r\n"
      "CSeq: 1 INVITE\r\n"
      "Contact: <sip:+13125550100@203.0.113.5:5060>\r\n"
      "Content-Type: application/sdp\r\n" +
      content_length_line(kSdp.size()) + "\r\n" + kSdp;
  EXPECT_EQ(render(rw), expected);

  // Unchanged spans are referenced, not copied: the SDP body is the tail of
  // the last segment, which points into the original buffer.
  const auto segs = rw.segments();
  EXPECT_LE(segs.size(), 5u);
  EXPECT_EQ(segs.back().data + segs.back().len, in.text().data() + in.text().size());
  EXPECT_GE(segs.back().len, kSdp.size());

  Parsed out(render(rw));
  ASSERT_TRUE(out.result().ok()) << to_string(out.result().error);
  const Message& m = out.msg();
  EXPECT_TRUE(m.is_request);
  EXPECT_EQ(m.method_id, Method::invite);
  EXPECT_EQ(m.request_uri_text, "sip:+12125551234@198.51.100.10:5060;user=phone");
  EXPECT_EQ(m.via_count, 2);
  EXPECT_EQ(m.top_via.host, "198.51.100.1");
  EXPECT_EQ(m.top_via.port, 5060);
  EXPECT_EQ(m.top_via.branch, "z9hG4bKsr1a2b3c");
  EXPECT_TRUE(m.top_via.has_rport);
  EXPECT_EQ(m.max_forwards, 69);
  EXPECT_EQ(m.content_length, kSdp.size());
  EXPECT_EQ(m.body, kSdp);
  EXPECT_EQ(header_value(m, "Content-Type"), "application/sdp");
  expect_dialog_fields(m);
}

TEST(Rewriter, PrependViaRefusesInjectionAndEmptyValues) {
  Parsed in(invite());
  ASSERT_TRUE(in.result().ok());
  Rewriter rw(in.msg());
  EXPECT_EQ(rw.prepend_via("SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKx\r\nTo: evil"), RewriteError::invalid_value);
  EXPECT_EQ(rw.prepend_via("SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKx\n"), RewriteError::invalid_value);
  EXPECT_EQ(rw.prepend_via(""), RewriteError::invalid_value);
  EXPECT_EQ(rw.prepend_via("  "), RewriteError::invalid_value);
  EXPECT_EQ(render(rw), in.text());
  EXPECT_EQ(rw.scratch_used(), 0u);
}

constexpr std::string_view kResponseTail =
    "From: \"Alice\" <sip:+13125550100@203.0.113.5;user=phone>;tag=9fxced76sl\r\n"
    "To: <sip:+12125551234@198.51.100.10;user=phone>;tag=314159\r\n"
    "Call-ID: 3848276298220188511@203.0.113.5\r\n"
    "CSeq: 1 INVITE\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

TEST(Rewriter, RemoveTopViaAloneInItsHeaderDropsTheWholeLine) {
  const std::string vias =
      "SIP/2.0 503 Service Unavailable\r\n"
      "Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKsr1a2b3c;rport=5060\r\n"
      "Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK74bf9;rport=5060;received=203.0.113.5\r\n";
  Parsed in(vias + std::string(kResponseTail));
  ASSERT_TRUE(in.result().ok());
  Rewriter rw(in.msg());
  ASSERT_EQ(rw.remove_top_via(), RewriteError::ok);
  const std::string expected =
      "SIP/2.0 503 Service Unavailable\r\n"
      "Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK74bf9;rport=5060;received=203.0.113.5\r\n" +
      std::string(kResponseTail);
  EXPECT_EQ(render(rw), expected);

  Parsed out(render(rw));
  ASSERT_TRUE(out.result().ok());
  EXPECT_FALSE(out.msg().is_request);
  EXPECT_EQ(out.msg().status, 503);
  EXPECT_EQ(out.msg().reason, "Service Unavailable");
  EXPECT_EQ(out.msg().via_count, 1);
  EXPECT_EQ(out.msg().top_via.branch, "z9hG4bK74bf9");
  EXPECT_EQ(out.msg().top_via.received, "203.0.113.5");
  EXPECT_EQ(out.msg().to.tag, "314159");
  EXPECT_EQ(out.msg().content_length, 0u);

  // Only once: a second call would hit bytes already removed.
  EXPECT_EQ(rw.remove_top_via(), RewriteError::conflict);
  EXPECT_EQ(render(rw), expected);
}

TEST(Rewriter, RemoveTopViaSharingAHeaderKeepsTheOtherValues) {
  const std::string head =
      "SIP/2.0 302 Moved Temporarily\r\n"
      "v: SIP/2.0/TLS 198.51.100.1:5061;branch=z9hG4bKsr9;x=\"a,b\" ,  SIP/2.0/UDP 203.0.113.5;branch=z9hG4bK2,"
      "SIP/2.0/TCP 192.0.2.7;branch=z9hG4bK3\r\n"
      "Via: SIP/2.0/UDP 192.0.2.99;branch=z9hG4bK4\r\n";
  Parsed in(head + std::string(kResponseTail));
  ASSERT_TRUE(in.result().ok()) << to_string(in.result().error);
  ASSERT_EQ(in.msg().via_count, 4);
  Rewriter rw(in.msg());
  ASSERT_EQ(rw.remove_top_via(), RewriteError::ok);
  // The comma inside the quoted value is not a separator.
  const std::string expected =
      "SIP/2.0 302 Moved Temporarily\r\n"
      "v: SIP/2.0/UDP 203.0.113.5;branch=z9hG4bK2,SIP/2.0/TCP 192.0.2.7;branch=z9hG4bK3\r\n"
      "Via: SIP/2.0/UDP 192.0.2.99;branch=z9hG4bK4\r\n" +
      std::string(kResponseTail);
  EXPECT_EQ(render(rw), expected);

  Parsed out(render(rw));
  ASSERT_TRUE(out.result().ok());
  EXPECT_EQ(out.msg().via_count, 3);
  EXPECT_EQ(out.msg().top_via.host, "203.0.113.5");
  EXPECT_EQ(out.msg().top_via.branch, "z9hG4bK2");
}

TEST(Rewriter, RemoveTopViaAcrossAFoldedLine) {
  const std::string head =
      "SIP/2.0 180 Ringing\r\n"
      "Via: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKsr9,\r\n"
      "   SIP/2.0/UDP 203.0.113.5;branch=z9hG4bK2\r\n";
  Parsed in(head + std::string(kResponseTail));
  ASSERT_TRUE(in.result().ok());
  Rewriter rw(in.msg());
  ASSERT_EQ(rw.remove_top_via(), RewriteError::ok);
  EXPECT_EQ(render(rw), "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 203.0.113.5;branch=z9hG4bK2\r\n" +
                            std::string(kResponseTail));
}

TEST(Rewriter, MaxForwardsDecrements) {
  struct Case {
    std::string_view written;
    std::string_view expected;
    int parsed;
  };
  for (const Case& c : {Case{"70", "69", 69}, Case{"1", "0", 0}, Case{"0068", "67", 67}, Case{"10", "9", 9}}) {
    const std::string text =
        replace_once(invite(), "Max-Forwards: 70\r\n", "Max-Forwards: " + std::string(c.written) + "\r\n");
    Parsed in(text);
    ASSERT_TRUE(in.result().ok());
    Rewriter rw(in.msg());
    ASSERT_EQ(rw.decrement_max_forwards(), RewriteError::ok) << c.written;
    EXPECT_EQ(render(rw), replace_once(invite(), "Max-Forwards: 70\r\n",
                                       "Max-Forwards: " + std::string(c.expected) + "\r\n"));
    Parsed out(render(rw));
    ASSERT_TRUE(out.result().ok());
    EXPECT_EQ(out.msg().max_forwards, c.parsed);
    // Twice would count one hop as two.
    EXPECT_EQ(rw.decrement_max_forwards(), RewriteError::conflict);
  }
}

TEST(Rewriter, MaxForwardsAbsentIsInsertedAs70AfterTheVias) {
  const std::string text = replace_once(invite(), "Max-Forwards: 70\r\n", "");
  Parsed in(text);
  ASSERT_TRUE(in.result().ok());
  ASSERT_EQ(in.msg().max_forwards, -1);
  Rewriter rw(in.msg());
  ASSERT_EQ(rw.decrement_max_forwards(), RewriteError::ok);
  EXPECT_EQ(render(rw), invite());
  Parsed out(render(rw));
  ASSERT_TRUE(out.result().ok());
  EXPECT_EQ(out.msg().max_forwards, 70);
  EXPECT_EQ(rw.decrement_max_forwards(), RewriteError::conflict);
}

TEST(Rewriter, MaxForwardsZeroIsTheCallersToAnswer) {
  Parsed in(replace_once(invite(), "Max-Forwards: 70", "Max-Forwards: 0"));
  ASSERT_TRUE(in.result().ok());
  Rewriter rw(in.msg());
  EXPECT_EQ(rw.decrement_max_forwards(), RewriteError::invalid_value);
  EXPECT_EQ(render(rw), in.text());
}

TEST(Rewriter, RequestOnlyEditsRefuseResponses) {
  Parsed in("SIP/2.0 100 Trying\r\nVia: SIP/2.0/UDP 203.0.113.5;branch=z9hG4bK2\r\n" + std::string(kResponseTail));
  ASSERT_TRUE(in.result().ok());
  Rewriter rw(in.msg());
  EXPECT_EQ(rw.decrement_max_forwards(), RewriteError::not_a_request);
  EXPECT_EQ(rw.set_request_uri("sip:a@b"), RewriteError::not_a_request);
  EXPECT_EQ(render(rw), in.text());
}

TEST(Rewriter, SetRequestUriToTheFirstContactOfA302) {
  Parsed in(invite());
  ASSERT_TRUE(in.result().ok());
  Rewriter rw(in.msg());
  ASSERT_EQ(rw.set_request_uri("sip:+12125551234@192.0.2.44:5080;transport=udp"), RewriteError::ok);
  EXPECT_EQ(render(rw), replace_once(invite(), "INVITE sip:+12125551234@198.51.100.10:5060;user=phone SIP/2.0",
                                     "INVITE sip:+12125551234@192.0.2.44:5080;transport=udp SIP/2.0"));
  Parsed out(render(rw));
  ASSERT_TRUE(out.result().ok());
  EXPECT_EQ(out.msg().request_uri.user, "+12125551234");
  EXPECT_EQ(out.msg().request_uri.host, "192.0.2.44");
  EXPECT_EQ(out.msg().request_uri.port, 5080);
  EXPECT_EQ(out.msg().version, "SIP/2.0");
  expect_dialog_fields(out.msg());

  // A URI is one word of the request line.
  EXPECT_EQ(rw.set_request_uri("sip:a@b SIP/2.0\r\nVia: x"), RewriteError::invalid_value);
  EXPECT_EQ(rw.set_request_uri("sip:a b@c"), RewriteError::invalid_value);
  EXPECT_EQ(rw.set_request_uri(""), RewriteError::invalid_value);
  EXPECT_EQ(rw.set_request_uri("sip:other@192.0.2.45"), RewriteError::conflict);
}

// A STIR/SHAKEN Identity header value of realistic size (RFC 8224/8588): a
// compact PASSporT, then info and alg/ppt parameters.
std::string identity_value(char fill) {
  return "eyJhbGciOiJFUzI1NiIsInBwdCI6InNoYWtlbiIsInR5cCI6InBhc3Nwb3J0In0." + std::string(600, fill) + "." +
         std::string(86, 'S') + ";info=<https://cert.example.org/passport.pem>;alg=ES256;ppt=shaken";
}

TEST(Rewriter, AddIdentityGoesAfterTheViaBlock) {
  Parsed in(invite());
  ASSERT_TRUE(in.result().ok());
  const std::string identity = identity_value('P');
  ASSERT_GT(identity.size(), 750u);
  Rewriter rw(in.msg());
  ASSERT_EQ(rw.add_header("Identity", identity), RewriteError::ok);
  EXPECT_GE(rw.scratch_used(), identity.size());
  const std::string expected = replace_once(
      invite(), "rport\r\nMax-Forwards: 70\r\n", "rport\r\nIdentity: " + identity + "\r\nMax-Forwards: 70\r\n");
  EXPECT_EQ(render(rw), expected);

  Parsed out(render(rw));
  ASSERT_TRUE(out.result().ok());
  const Header* h = out.msg().find(HeaderId::identity);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->name, "Identity");
  EXPECT_EQ(h->value, identity);
  EXPECT_EQ(out.msg().body, kSdp);
  expect_dialog_fields(out.msg());
}

TEST(Rewriter, AddHeaderRefReferencesTheValueInsteadOfCopyingIt) {
  Parsed in(invite());
  ASSERT_TRUE(in.result().ok());
  const std::string a = identity_value('A');
  const std::string b = identity_value('B');
  const std::string c = identity_value('C');
  Rewriter rw(in.msg());
  ASSERT_EQ(rw.add_header_ref("Identity", a), RewriteError::ok);
  ASSERT_EQ(rw.add_header_ref("Identity", b), RewriteError::ok);
  ASSERT_EQ(rw.add_header_ref("Identity", c), RewriteError::ok);
  EXPECT_LT(rw.scratch_used(), 64u);
  bool references_a = false;
  for (const Segment& s : rw.segments()) references_a |= s.data == a.data();
  EXPECT_TRUE(references_a);
  // Same spot, call order.
  const std::string expected = replace_once(invite(), "rport\r\nMax-Forwards",
                                            "rport\r\nIdentity: " + a + "\r\nIdentity: " + b +
                                                "\r\nIdentity: " + c + "\r\nMax-Forwards");
  EXPECT_EQ(render(rw), expected);
  EXPECT_EQ(rw.add_header_ref("Identity", "x\r\nVia: evil"), RewriteError::invalid_value);
  EXPECT_EQ(render(rw), expected);
}

TEST(Rewriter, NewValuesGoAboveExistingOnesOfTheSameName) {
  // Record-Route values are pushed on top (RFC 3261 §16.6 step 4); the
  // compact "y" is Identity.
  const std::string text = replace_once(invite(), "Contact:",
                                        "Record-Route: <sip:192.0.2.1;lr>\r\n"
                                        "y: old\r\n"
                                        "Contact:");
  Parsed in(text);
  ASSERT_TRUE(in.result().ok());
  Rewriter rw(in.msg());
  ASSERT_EQ(rw.add_header("Record-Route", "<sip:198.51.100.1;lr>"), RewriteError::ok);
  ASSERT_EQ(rw.add_header("Identity", "new"), RewriteError::ok);
  ASSERT_EQ(rw.add_header("P-Charge-Info", "<sip:+13125550100@203.0.113.5>"), RewriteError::ok);
  EXPECT_EQ(render(rw), replace_once(replace_once(text, "Record-Route: <sip:192.0.2.1;lr>\r\n",
                                                  "Record-Route: <sip:198.51.100.1;lr>\r\n"
                                                  "Record-Route: <sip:192.0.2.1;lr>\r\n"
                                                  "Identity: new\r\n"),
                                     "rport\r\nMax", "rport\r\nP-Charge-Info: <sip:+13125550100@203.0.113.5>\r\nMax"));
}

TEST(Rewriter, RemoveThenAddIdentityReplacesInPlaceInAnyCallOrder) {
  const std::string text = replace_once(replace_once(invite(), "To:", "Identity: first-old\r\nTo:"),
                                        "Content-Type:", "identity: second-old\r\nContent-Type:");
  Parsed in(text);
  ASSERT_TRUE(in.result().ok());
  const std::string expected = replace_once(
      replace_once(text, "Identity: first-old\r\n", "Identity: fresh\r\n"), "identity: second-old\r\n", "");

  Rewriter remove_first(in.msg());
  ASSERT_EQ(remove_first.remove_headers(HeaderId::identity), RewriteError::ok);
  ASSERT_EQ(remove_first.add_header("Identity", "fresh"), RewriteError::ok);
  EXPECT_EQ(render(remove_first), expected);

  Rewriter add_first(in.msg());
  ASSERT_EQ(add_first.add_header("Identity", "fresh"), RewriteError::ok);
  ASSERT_EQ(add_first.remove_headers(HeaderId::identity), RewriteError::ok);
  EXPECT_EQ(render(add_first), expected);

  Parsed out(render(add_first));
  ASSERT_TRUE(out.result().ok());
  std::size_t identities = 0;
  for (const Header& h : out.msg().headers) identities += h.id == HeaderId::identity ? 1 : 0;
  EXPECT_EQ(identities, 1u);
  EXPECT_EQ(header_value(out.msg(), "Identity"), "fresh");
}

TEST(Rewriter, RemoveHeadersByIdAndByName) {
  const std::string text = replace_once(invite(), "Contact:",
                                        "Record-Route: <sip:192.0.2.1;lr>\r\n"
                                        "P-Attestation-Indicator: A\r\n"
                                        "k: timer, 100rel\r\n"
                                        "Record-Route: <sip:192.0.2.2;lr>,\r\n"
                                        " <sip:192.0.2.3;lr>\r\n"
                                        "Contact:");
  Parsed in(text);
  ASSERT_TRUE(in.result().ok());
  Rewriter rw(in.msg());
  ASSERT_EQ(rw.remove_headers(HeaderId::record_route), RewriteError::ok);
  ASSERT_EQ(rw.remove_headers("p-attestation-indicator"), RewriteError::ok);
  ASSERT_EQ(rw.remove_headers("Supported"), RewriteError::ok);  // written compact
  EXPECT_EQ(render(rw), invite());
  // Removing again changes nothing and is not an error.
  EXPECT_EQ(rw.remove_headers(HeaderId::record_route), RewriteError::ok);
  EXPECT_EQ(render(rw), invite());

  EXPECT_EQ(rw.remove_headers(HeaderId::diversion), RewriteError::no_such_header);
  EXPECT_EQ(rw.remove_headers("X-Not-There"), RewriteError::no_such_header);
  EXPECT_EQ(rw.remove_headers("Bad Name"), RewriteError::invalid_value);
  EXPECT_EQ(rw.remove_headers(HeaderId::other), RewriteError::invalid_value);
  EXPECT_EQ(rw.remove_headers(HeaderId::content_length), RewriteError::conflict);
  EXPECT_EQ(rw.add_header("Content-Length", "5"), RewriteError::conflict);
  EXPECT_EQ(render(rw), invite());

  Parsed out(render(rw));
  ASSERT_TRUE(out.result().ok());
  EXPECT_EQ(out.msg().find(HeaderId::record_route), nullptr);
  EXPECT_EQ(out.msg().find(HeaderId::supported), nullptr);
  EXPECT_EQ(out.msg().find("P-Attestation-Indicator"), nullptr);
}

TEST(Rewriter, EditsOfOneLineConflict) {
  Parsed in(invite());
  ASSERT_TRUE(in.result().ok());
  Rewriter rw(in.msg());
  ASSERT_EQ(rw.decrement_max_forwards(), RewriteError::ok);
  EXPECT_EQ(rw.remove_headers(HeaderId::max_forwards), RewriteError::conflict);
  const std::string after_decrement = render(rw);

  Rewriter other(in.msg());
  ASSERT_EQ(other.remove_headers(HeaderId::max_forwards), RewriteError::ok);
  EXPECT_EQ(other.decrement_max_forwards(), RewriteError::conflict);
  EXPECT_EQ(render(rw), after_decrement);
}

TEST(Rewriter, SetBodyRewritesContentLengthInPlace) {
  Parsed in(invite());
  ASSERT_TRUE(in.result().ok());
  const std::string sdp = replace_once(kSdp, "c=IN IP4 203.0.113.5", "c=IN IP4 198.51.100.200") +
                          "a=ptime:20\r\n";
  Rewriter rw(in.msg());
  ASSERT_EQ(rw.set_body(sdp), RewriteError::ok);
  const std::string expected = std::string(kInviteHead) + content_length_line(sdp.size()) + "\r\n" + sdp;
  EXPECT_EQ(render(rw), expected);
  Parsed out(render(rw));
  ASSERT_TRUE(out.result().ok());
  EXPECT_EQ(out.msg().content_length, sdp.size());
  EXPECT_EQ(out.msg().body, sdp);

  // Again, and then with no body at all.
  ASSERT_EQ(rw.set_body("v=0\r\n"), RewriteError::ok);
  EXPECT_EQ(render(rw), std::string(kInviteHead) + "Content-Length: 5\r\n\r\nv=0\r\n");
  ASSERT_EQ(rw.set_body(""), RewriteError::ok);
  EXPECT_EQ(render(rw), std::string(kInviteHead) + "Content-Length: 0\r\n\r\n");
  Parsed empty(render(rw));
  ASSERT_TRUE(empty.result().ok());
  EXPECT_TRUE(empty.msg().body.empty());
}

TEST(Rewriter, SetBodyKeepsTheCompactNameAndItsPlace) {
  const std::string text =
      "OPTIONS sip:relay.example.net SIP/2.0\r\n"
      "v: SIP/2.0/UDP 203.0.113.5;branch=z9hG4bKop1\r\n"
      "l: 0\r\n"
      "f: <sip:ping@203.0.113.5>;tag=1\r\n"
      "t: <sip:relay.example.net>\r\n"
      "i: ping-1@203.0.113.5\r\n"
      "CSeq: 7 OPTIONS\r\n"
      "\r\n";
  Parsed in(text);
  ASSERT_TRUE(in.result().ok());
  Rewriter rw(in.msg());
  ASSERT_EQ(rw.set_body("hello"), RewriteError::ok);
  EXPECT_EQ(render(rw), replace_once(text, "l: 0\r\n", "l: 5\r\n") + "hello");
}

TEST(Rewriter, ContentLengthIsWrittenWhenTheDatagramHadNone) {
  // UDP allows a message without Content-Length (RFC 3261 §18.3); a stream
  // transport does not, so the output always carries one.
  const std::string text = std::string(kInviteHead) + "\r\n" + kSdp;
  Parsed in(text);
  ASSERT_TRUE(in.result().ok());
  ASSERT_FALSE(in.msg().has_content_length);
  Rewriter rw(in.msg());
  EXPECT_EQ(render(rw), invite());
  ASSERT_EQ(rw.set_body("v=0\r\n"), RewriteError::ok);
  EXPECT_EQ(render(rw), std::string(kInviteHead) + "Content-Length: 5\r\n\r\nv=0\r\n");
}

TEST(Rewriter, BytesAfterTheBodyOfADatagramAreNotForwarded) {
  Parsed in(invite() + "garbage");
  ASSERT_TRUE(in.result().ok());
  Rewriter rw(in.msg());
  ASSERT_EQ(rw.decrement_max_forwards(), RewriteError::ok);
  EXPECT_EQ(render(rw), replace_once(invite(), "Max-Forwards: 70", "Max-Forwards: 69"));
}

TEST(Rewriter, InjectionIsRefusedAndLeavesTheOutputUnchanged) {
  Parsed in(invite());
  ASSERT_TRUE(in.result().ok());
  Rewriter rw(in.msg());
  ASSERT_EQ(rw.prepend_via(kRelayVia), RewriteError::ok);
  const std::string before = render(rw);
  const std::size_t edits = rw.edit_count();
  const std::size_t scratch = rw.scratch_used();

  EXPECT_EQ(rw.add_header("Identity", "eyJhbGc.x.y\r\nVia: evil"), RewriteError::invalid_value);
  EXPECT_EQ(rw.add_header("Identity", "eyJhbGc.x.y\nVia: evil"), RewriteError::invalid_value);
  EXPECT_EQ(rw.add_header("Identity", "eyJhbGc.x.y\rVia: evil"), RewriteError::invalid_value);
  EXPECT_EQ(rw.add_header("Identity", std::string_view("a\0b", 3)), RewriteError::invalid_value);
  EXPECT_EQ(rw.add_header("Identity: x\r\nVia", "evil"), RewriteError::invalid_value);
  EXPECT_EQ(rw.add_header("Bad Name", "v"), RewriteError::invalid_value);
  EXPECT_EQ(rw.add_header("", "v"), RewriteError::invalid_value);
  EXPECT_EQ(rw.set_request_uri("sip:x@y\r\nVia: evil"), RewriteError::invalid_value);

  EXPECT_EQ(render(rw), before);
  EXPECT_EQ(rw.edit_count(), edits);
  EXPECT_EQ(rw.scratch_used(), scratch);
  // A tab and UTF-8 are fine in a value.
  EXPECT_EQ(rw.add_header("Subject", "caf\xc3\xa9\tbar"), RewriteError::ok);
}

TEST(Rewriter, ScratchOverflowIsReportedAndChangesNothing) {
  Parsed in(invite());
  ASSERT_TRUE(in.result().ok());
  Rewriter rw(in.msg());
  const std::string big(1000, 'a');
  ASSERT_EQ(rw.add_header("X-Pad", big), RewriteError::ok);
  ASSERT_EQ(rw.add_header("X-Pad", big), RewriteError::ok);
  const std::string before = render(rw);
  const std::size_t used = rw.scratch_used();
  EXPECT_EQ(rw.add_header("X-Pad", big), RewriteError::scratch_full);
  EXPECT_EQ(rw.prepend_via(big), RewriteError::scratch_full);
  EXPECT_EQ(rw.set_request_uri("sip:" + std::string(100, 'u') + "@h"), RewriteError::scratch_full);
  EXPECT_EQ(render(rw), before);
  EXPECT_EQ(rw.scratch_used(), used);
  // A referenced value still fits; edits that need no scratch still work.
  EXPECT_EQ(rw.add_header_ref("X-Big", big), RewriteError::ok);
  EXPECT_EQ(rw.decrement_max_forwards(), RewriteError::ok);
  Parsed out(render(rw));
  ASSERT_TRUE(out.result().ok());
  EXPECT_EQ(header_value(out.msg(), "X-Big"), big);
  EXPECT_EQ(out.msg().max_forwards, 69);
}

TEST(Rewriter, EditTableOverflowIsReportedAndChangesNothing) {
  Parsed in(invite());
  ASSERT_TRUE(in.result().ok());
  Rewriter rw(in.msg());
  for (std::size_t i = 0; i + 1 < Rewriter::kMaxEdits; ++i) {
    ASSERT_EQ(rw.add_header("X-N", "1"), RewriteError::ok) << i;
  }
  const std::string before = render(rw);
  // Changing the body takes two edits (body and Content-Length): no room.
  EXPECT_EQ(rw.set_body("v=0\r\n"), RewriteError::too_many_edits);
  EXPECT_EQ(rw.remove_headers(HeaderId::record_route), RewriteError::no_such_header);
  EXPECT_EQ(render(rw), before);
  ASSERT_EQ(rw.add_header("X-N", "1"), RewriteError::ok);
  EXPECT_EQ(rw.add_header("X-N", "1"), RewriteError::too_many_edits);
  EXPECT_EQ(rw.decrement_max_forwards(), RewriteError::too_many_edits);
  Parsed out(render(rw));
  ASSERT_TRUE(out.result().ok());
  EXPECT_EQ(out.msg().headers.size(), 9 + Rewriter::kMaxEdits);
}

TEST(Rewriter, CallOrderDoesNotMatter) {
  Parsed in(replace_once(invite(), "Contact:", "Identity: stale\r\nContact:"));
  ASSERT_TRUE(in.result().ok());
  const std::string sdp = "v=0\r\n";
  using Step = RewriteError (*)(Rewriter&, const std::string&);
  const std::array<Step, 6> steps = {
      +[](Rewriter& r, const std::string&) { return r.prepend_via(kRelayVia); },
      +[](Rewriter& r, const std::string&) { return r.decrement_max_forwards(); },
      +[](Rewriter& r, const std::string&) { return r.set_request_uri("sip:+12125551234@192.0.2.44"); },
      +[](Rewriter& r, const std::string&) { return r.add_header("Record-Route", "<sip:198.51.100.1;lr>"); },
      +[](Rewriter& r, const std::string&) { return r.remove_headers(HeaderId::identity); },
      +[](Rewriter& r, const std::string& body) { return r.set_body(body); },
  };
  Rewriter forward(in.msg());
  for (std::size_t i = 0; i < steps.size(); ++i) ASSERT_EQ(steps[i](forward, sdp), RewriteError::ok) << i;
  Rewriter backward(in.msg());
  for (std::size_t i = steps.size(); i-- > 0;) ASSERT_EQ(steps[i](backward, sdp), RewriteError::ok) << i;

  const std::string expected =
      "INVITE sip:+12125551234@192.0.2.44 SIP/2.0\r\n"
      "Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKsr1a2b3c;rport\r\n"
      "Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK74bf9;rport\r\n"
      "Record-Route: <sip:198.51.100.1;lr>\r\n"
      "Max-Forwards: 69\r\n"
      "From: \"Alice\" <sip:+13125550100@203.0.113.5;user=phone>;tag=9fxced76sl\r\n"
      "To: <sip:+12125551234@198.51.100.10;user=phone>\r\n"
      "Call-ID: 3848276298220188511@203.0.113.5\r\n"
      "CSeq: 1 INVITE\r\n"
      "Contact: <sip:+13125550100@203.0.113.5:5060>\r\n"
      "Content-Type: application/sdp\r\n"
      "Content-Length: 5\r\n"
      "\r\n"
      "v=0\r\n";
  EXPECT_EQ(render(forward), expected);
  EXPECT_EQ(render(backward), expected);
}

TEST(Rewriter, FlattenRefusesASmallBuffer) {
  Parsed in(invite());
  ASSERT_TRUE(in.result().ok());
  Rewriter rw(in.msg());
  ASSERT_EQ(rw.prepend_via(kRelayVia), RewriteError::ok);
  std::string buf(rw.size() - 1, '#');
  EXPECT_EQ(rw.flatten(buf.data(), buf.size()), 0u);
  EXPECT_EQ(buf, std::string(rw.size() - 1, '#'));
}

TEST(RewriteError, NamesAreStable) {
  EXPECT_EQ(to_string(RewriteError::ok), "ok");
  EXPECT_EQ(to_string(RewriteError::scratch_full), "scratch_full");
  EXPECT_EQ(to_string(RewriteError::invalid_value), "invalid_value");
  EXPECT_EQ(to_string(RewriteError::not_a_request), "not_a_request");
}

// ---- build_response -------------------------------------------------------

constexpr std::string_view kEmergencyInvite =
    "INVITE sip:911@198.51.100.10 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKa1;rport\r\n"
    "v: SIP/2.0/TCP 203.0.113.9;branch=z9hG4bKb2, SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKc3\r\n"
    "Max-Forwards: 70\r\n"
    "f: \"Alice\" <sip:alice@203.0.113.5>;tag=1928301774\r\n"
    "To: <sip:911@198.51.100.10>\r\n"
    "Call-ID: a84b4c76e66710@203.0.113.5\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Timestamp: 54\r\n"
    "Contact: <sip:alice@203.0.113.5>\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

constexpr std::string_view kCopiedVias =
    "Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKa1;rport\r\n"
    "v: SIP/2.0/TCP 203.0.113.9;branch=z9hG4bKb2, SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKc3\r\n"
    "f: \"Alice\" <sip:alice@203.0.113.5>;tag=1928301774\r\n";

std::string respond(const Message& req, std::uint16_t code, std::string_view reason, std::string_view tag,
                    std::span<const ExtraHeader> extra = {}) {
  char buf[2048];
  const std::size_t n = build_response(req, code, reason, tag, extra, buf, sizeof buf);
  return std::string(buf, n);
}

void expect_copied_fields(const Message& res, const Message& req) {
  EXPECT_FALSE(res.is_request);
  EXPECT_EQ(res.via_count, req.via_count);
  EXPECT_EQ(res.top_via.branch, req.top_via.branch);
  EXPECT_EQ(res.top_via.host, req.top_via.host);
  EXPECT_EQ(res.from.text, req.from.text);
  EXPECT_EQ(res.from.tag, req.from.tag);
  EXPECT_EQ(res.to.uri_text, req.to.uri_text);
  EXPECT_EQ(res.call_id, req.call_id);
  EXPECT_EQ(res.cseq.number, req.cseq.number);
  EXPECT_EQ(res.cseq.method, req.cseq.method);
  EXPECT_TRUE(res.has_content_length);
  EXPECT_EQ(res.content_length, 0u);
  EXPECT_TRUE(res.body.empty());
}

TEST(BuildResponse, ServiceUnavailableAddsToTagAndExtraHeaders) {
  Parsed req(std::string{kEmergencyInvite});
  ASSERT_TRUE(req.result().ok());
  const ExtraHeader extra[] = {{"Retry-After", "30"}, {"Server", "sigrelay"}};
  const std::string out = respond(req.msg(), 503, "", "sr-7f3a", extra);
  EXPECT_EQ(out, "SIP/2.0 503 Service Unavailable\r\n" + std::string(kCopiedVias) +
                     "To: <sip:911@198.51.100.10>;tag=sr-7f3a\r\n"
                     "Call-ID: a84b4c76e66710@203.0.113.5\r\n"
                     "CSeq: 314159 INVITE\r\n"
                     "Retry-After: 30\r\n"
                     "Server: sigrelay\r\n"
                     "Content-Length: 0\r\n"
                     "\r\n");
  Parsed res(out);
  ASSERT_TRUE(res.result().ok()) << to_string(res.result().error);
  EXPECT_EQ(res.msg().status, 503);
  EXPECT_EQ(res.msg().reason, "Service Unavailable");
  EXPECT_EQ(res.msg().to.tag, "sr-7f3a");
  EXPECT_EQ(header_value(res.msg(), "Retry-After"), "30");
  EXPECT_EQ(res.msg().find("Timestamp"), nullptr);
  expect_copied_fields(res.msg(), req.msg());
}

TEST(BuildResponse, TryingHasNoToTagAndCopiesTimestamp) {
  Parsed req(std::string{kEmergencyInvite});
  ASSERT_TRUE(req.result().ok());
  const std::string out = respond(req.msg(), 100, "", "sr-7f3a");
  EXPECT_EQ(out, "SIP/2.0 100 Trying\r\n" + std::string(kCopiedVias) +
                     "To: <sip:911@198.51.100.10>\r\n"
                     "Call-ID: a84b4c76e66710@203.0.113.5\r\n"
                     "CSeq: 314159 INVITE\r\n"
                     "Timestamp: 54\r\n"
                     "Content-Length: 0\r\n"
                     "\r\n");
  Parsed res(out);
  ASSERT_TRUE(res.result().ok());
  EXPECT_EQ(res.msg().status, 100);
  EXPECT_FALSE(res.msg().to.has_tag);
  expect_copied_fields(res.msg(), req.msg());
  // No tag is needed for a 100, so none has to be supplied.
  EXPECT_EQ(respond(req.msg(), 100, "", ""), out);
}

TEST(BuildResponse, ExistingToTagIsKept) {
  // A re-INVITE inside a dialog that ran out of hops.
  const std::string text = replace_once(replace_once(std::string{kEmergencyInvite}, "To: <sip:911@198.51.100.10>",
                                                     "To: <sip:911@198.51.100.10>;TAG=a6c85cf"),
                                        "Max-Forwards: 70", "Max-Forwards: 0");
  Parsed req(text);
  ASSERT_TRUE(req.result().ok());
  ASSERT_EQ(req.msg().max_forwards, 0);
  const std::string out = respond(req.msg(), 483, "", "sr-ignored");
  EXPECT_EQ(out, "SIP/2.0 483 Too Many Hops\r\n" + std::string(kCopiedVias) +
                     "To: <sip:911@198.51.100.10>;TAG=a6c85cf\r\n"
                     "Call-ID: a84b4c76e66710@203.0.113.5\r\n"
                     "CSeq: 314159 INVITE\r\n"
                     "Content-Length: 0\r\n"
                     "\r\n");
  Parsed res(out);
  ASSERT_TRUE(res.result().ok());
  EXPECT_EQ(res.msg().to.tag, "a6c85cf");
  expect_copied_fields(res.msg(), req.msg());
}

TEST(BuildResponse, BareAddrSpecToGetsTheTagAsAHeaderParameter) {
  // Without angle brackets every ';' after the URI starts a header
  // parameter (RFC 3261 §20.10), so ";user=phone" is not a tag and the tag
  // appended after it is a header parameter too.
  const std::string text = replace_once(std::string{kEmergencyInvite}, "To: <sip:911@198.51.100.10>",
                                        "To: sip:911@198.51.100.10;user=phone");
  Parsed req(text);
  ASSERT_TRUE(req.result().ok());
  Parsed res(respond(req.msg(), 400, "", "t1"));
  ASSERT_TRUE(res.result().ok());
  EXPECT_EQ(header_value(res.msg(), "To"), "sip:911@198.51.100.10;user=phone;tag=t1");
  EXPECT_EQ(res.msg().to.tag, "t1");
}

TEST(BuildResponse, AnswersARespondableRequestThatFailedToParse) {
  // A broken Max-Forwards: the parser still locates what a 400 copies.
  const std::string text = replace_once(std::string{kEmergencyInvite}, "Max-Forwards: 70", "Max-Forwards: many");
  Parsed req(text);
  ASSERT_FALSE(req.result().ok());
  ASSERT_TRUE(req.result().respondable);
  const std::string out = respond(req.msg(), 400, "Bad Request - invalid Max-Forwards", "sr-1");
  EXPECT_EQ(out, "SIP/2.0 400 Bad Request - invalid Max-Forwards\r\n" + std::string(kCopiedVias) +
                     "To: <sip:911@198.51.100.10>;tag=sr-1\r\n"
                     "Call-ID: a84b4c76e66710@203.0.113.5\r\n"
                     "CSeq: 314159 INVITE\r\n"
                     "Content-Length: 0\r\n"
                     "\r\n");
  Parsed res(out);
  ASSERT_TRUE(res.result().ok());
  EXPECT_EQ(res.msg().status, 400);
  EXPECT_EQ(res.msg().via_count, 3);
  EXPECT_EQ(res.msg().top_via.branch, "z9hG4bKa1");
  EXPECT_EQ(res.msg().from.tag, "1928301774");
  EXPECT_EQ(res.msg().to.tag, "sr-1");
  EXPECT_EQ(res.msg().call_id, "a84b4c76e66710@203.0.113.5");
  EXPECT_EQ(res.msg().cseq.number, 314159u);
}

TEST(BuildResponse, VersionNotSupportedForAnotherSipVersion) {
  const std::string text = replace_once(std::string{kEmergencyInvite}, "SIP/2.0\r\nVia", "SIP/3.0\r\nVia");
  Parsed req(text);
  ASSERT_EQ(req.result().error, ParseError::unsupported_sip_version);
  ASSERT_TRUE(req.result().respondable);
  Parsed res(respond(req.msg(), 505, "", "sr-2"));
  ASSERT_TRUE(res.result().ok());
  EXPECT_EQ(res.msg().status, 505);
  EXPECT_EQ(res.msg().reason, "Version Not Supported");
  EXPECT_EQ(res.msg().version, "SIP/2.0");
  EXPECT_EQ(res.msg().via_count, 3);
  EXPECT_EQ(res.msg().to.tag, "sr-2");
}

TEST(BuildResponse, FoldedValuesAreUnfolded) {
  const std::string text =
      replace_once(std::string{kEmergencyInvite}, "f: \"Alice\" <sip:alice@203.0.113.5>;tag=1928301774\r\n",
                   "f: \"Alice\"\r\n <sip:alice@203.0.113.5>;tag=1928301774\r\n");
  Parsed req(text);
  ASSERT_TRUE(req.result().ok());
  const std::string out = respond(req.msg(), 503, "", "x");
  // CRLF + SP is linear whitespace (RFC 3261 §7.3.1): three spaces are equivalent.
  EXPECT_NE(out.find("f: \"Alice\"   <sip:alice@203.0.113.5>;tag=1928301774\r\n"), std::string::npos) << out;
  Parsed res(out);
  ASSERT_TRUE(res.result().ok());
  EXPECT_EQ(res.msg().from.tag, "1928301774");
}

TEST(BuildResponse, DefaultReasonPhrasesFromRfc3261) {
  EXPECT_EQ(default_reason_phrase(180), "Ringing");
  EXPECT_EQ(default_reason_phrase(183), "Session Progress");
  EXPECT_EQ(default_reason_phrase(408), "Request Timeout");
  EXPECT_EQ(default_reason_phrase(416), "Unsupported URI Scheme");
  EXPECT_EQ(default_reason_phrase(420), "Bad Extension");
  EXPECT_EQ(default_reason_phrase(480), "Temporarily Unavailable");
  EXPECT_EQ(default_reason_phrase(481), "Call/Transaction Does Not Exist");
  EXPECT_EQ(default_reason_phrase(486), "Busy Here");
  EXPECT_EQ(default_reason_phrase(487), "Request Terminated");
  EXPECT_EQ(default_reason_phrase(500), "Server Internal Error");
  EXPECT_EQ(default_reason_phrase(603), "Decline");
  EXPECT_EQ(default_reason_phrase(499), "");
}

TEST(BuildResponse, RefusesWhatItCannotBuild) {
  Parsed req(std::string{kEmergencyInvite});
  ASSERT_TRUE(req.result().ok());
  char buf[1024];
  const ExtraHeader evil[] = {{"Reason", "Q.850;cause=16\r\nVia: evil"}};
  const ExtraHeader bad_name[] = {{"Re ason", "x"}};
  EXPECT_EQ(build_response(req.msg(), 503, "", "t", evil, buf, sizeof buf), 0u);
  EXPECT_EQ(build_response(req.msg(), 503, "", "t", bad_name, buf, sizeof buf), 0u);
  EXPECT_EQ(build_response(req.msg(), 503, "Oops\r\nVia: evil", "t", {}, buf, sizeof buf), 0u);
  EXPECT_EQ(build_response(req.msg(), 99, "", "t", {}, buf, sizeof buf), 0u);
  EXPECT_EQ(build_response(req.msg(), 700, "", "t", {}, buf, sizeof buf), 0u);
  // The To has no tag: a final response needs one (RFC 3261 §8.2.6.2).
  EXPECT_EQ(build_response(req.msg(), 503, "", "", {}, buf, sizeof buf), 0u);
  EXPECT_EQ(build_response(req.msg(), 503, "", "a;b", {}, buf, sizeof buf), 0u);

  const std::size_t full = build_response(req.msg(), 503, "", "t", {}, buf, sizeof buf);
  ASSERT_GT(full, 0u);
  EXPECT_EQ(build_response(req.msg(), 503, "", "t", {}, buf, full - 1), 0u);
  EXPECT_EQ(build_response(req.msg(), 503, "", "t", {}, buf, full), full);

  // A request without a Call-ID cannot be answered.
  Parsed broken(replace_once(std::string{kEmergencyInvite}, "Call-ID: a84b4c76e66710@203.0.113.5\r\n", ""));
  ASSERT_FALSE(broken.result().respondable);
  EXPECT_EQ(build_response(broken.msg(), 400, "", "t", {}, buf, sizeof buf), 0u);
}

TEST(ReasonPhrase, TheCodesTheServiceAnswers) {
  // RFC 3261 §21.3.3, §21.4.4, §21.4.5, §21.4.24, §21.5.4, §21.6.2.
  EXPECT_EQ(default_reason_phrase(302), "Moved Temporarily");
  EXPECT_EQ(default_reason_phrase(403), "Forbidden");
  EXPECT_EQ(default_reason_phrase(404), "Not Found");
  EXPECT_EQ(default_reason_phrase(405), "Method Not Allowed");
  EXPECT_EQ(default_reason_phrase(487), "Request Terminated");
  EXPECT_EQ(default_reason_phrase(503), "Service Unavailable");
  EXPECT_EQ(default_reason_phrase(513), "Message Too Large");
  EXPECT_EQ(default_reason_phrase(603), "Decline");
  EXPECT_EQ(default_reason_phrase(607), "Unwanted");  // RFC 8197 §4
  EXPECT_EQ(default_reason_phrase(608), "Rejected");  // RFC 8688 §3.1
  EXPECT_EQ(default_reason_phrase(499), "");
}

}  // namespace
}  // namespace sigrelay::sip
