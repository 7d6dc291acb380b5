// In-line mode of the relay engine behind a fake worker: the service's 302
// followed to its Contacts (RFC 3261 §16.6-16.7), CANCEL, and loose routing
// inside the resulting dialogs (§16.12), with time driven by hand.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dataplane/relay_engine.hpp"
#include "sip/message.hpp"
#include "tls/keyed_hash.hpp"

namespace sigrelay::dataplane {
namespace {

using sip::Millis;

struct Sent {
  std::string to;  // "ip:port"
  std::string bytes;
};

std::string peer_text(const sockaddr_storage& a) {
  char host[INET6_ADDRSTRLEN] = "";
  std::uint16_t port = 0;
  if (a.ss_family == AF_INET) {
    const auto& s = reinterpret_cast<const sockaddr_in&>(a);
    inet_ntop(AF_INET, &s.sin_addr, host, sizeof host);
    port = ntohs(s.sin_port);
  } else {
    const auto& s = reinterpret_cast<const sockaddr_in6&>(a);
    inet_ntop(AF_INET6, &s.sin6_addr, host, sizeof host);
    port = ntohs(s.sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

sockaddr_storage address(const std::string& ip, std::uint16_t port) {
  sockaddr_storage a{};
  auto& s = reinterpret_cast<sockaddr_in&>(a);
  s.sin_family = AF_INET;
  s.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &s.sin_addr);
  return a;
}

struct FakeIo final : RelayIo {
  std::vector<Sent> sent;  // everything toward switches and destinations, in order
  std::vector<std::string> upstream_msgs;
  void to_switch(const SwitchPeer& peer, std::span<const sip::Segment> msg) override {
    std::string s;
    for (const auto& seg : msg) s.append(seg.data, seg.len);
    sent.push_back({peer_text(peer.addr), std::move(s)});
  }
  bool to_upstream(std::uint64_t, std::span<const sip::Segment> msg) override {
    std::string s;
    for (const auto& seg : msg) s.append(seg.data, seg.len);
    upstream_msgs.push_back(std::move(s));
    return true;
  }
  bool upstream_up() const override { return true; }
  std::vector<Transport> transports;  // of everything to_destination sent, in order
  bool to_destination(const SwitchPeer& to, std::uint64_t, std::span<const sip::Segment> msg) override {
    transports.push_back(to.transport);
    to_switch(to, msg);
    return true;
  }
};

struct OnlyNet final : AddressFilter {
  bool allows(const sockaddr_storage& a) const override {
    return a.ss_family == AF_INET &&
           (ntohl(reinterpret_cast<const sockaddr_in&>(a).sin_addr.s_addr) >> 8) == ((192U << 16) | (2U << 8) | 0U);
  }
};

const std::string kSwitch = "198.51.100.20:5060";
const std::string kDestA = "192.0.2.10:5060";
const std::string kDestB = "192.0.2.11:5070";
const std::string kIdentity =
    "eyJhbGciOiJFUzI1NiIsInBwdCI6InNoYWtlbiIsInR5cCI6InBhc3Nwb3J0In0.eyJhdHRlc3QiOiJBIn0.c2lnbmF0dXJl;"
    "info=<https://cert.example.org/sp.pem>;alg=ES256;ppt=shaken";

std::string first_line(const std::string& m) { return m.substr(0, m.find("\r\n")); }

std::string invite(const std::string& call_id) {
  const std::string sdp = "v=0\r\no=- 1 1 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 198.51.100.20\r\nt=0 0\r\n";
  return "INVITE sip:+12125551234@198.51.100.1:5060;user=phone SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK-sw-1;rport\r\n"
         "Max-Forwards: 70\r\n"
         "From: <sip:+13035550147@198.51.100.20>;tag=caller1\r\n"
         "To: <sip:+12125551234@198.51.100.1>\r\n"
         "Call-ID: " + call_id + "\r\n"
         "CSeq: 101 INVITE\r\n"
         "Contact: <sip:+13035550147@198.51.100.20:5060>\r\n"
         "P-Asserted-Identity: <sip:+13035550147@198.51.100.20>\r\n"
         "Content-Type: application/sdp\r\n"
         "Content-Length: " + std::to_string(sdp.size()) + "\r\n\r\n" + sdp;
}

// A response to `req` as a UA would write it: its Vias, From, To (+tag),
// Call-ID, CSeq, then `extra`.
std::string answer(const std::string& req, int code, const std::string& reason, const std::string& to_tag,
                   const std::string& extra = "") {
  sip::MessageWithHeaders<64> p;
  EXPECT_TRUE(p.parse(req).ok()) << req;
  std::string r = "SIP/2.0 " + std::to_string(code) + " " + reason + "\r\n";
  for (const auto& h : p.msg.headers) {
    if (h.id == sip::HeaderId::via || h.id == sip::HeaderId::from || h.id == sip::HeaderId::call_id ||
        h.id == sip::HeaderId::cseq || h.id == sip::HeaderId::record_route) {
      r += std::string(h.line);
    }
    if (h.id == sip::HeaderId::to) r += "To: " + std::string(h.value) + (to_tag.empty() ? "" : ";tag=" + to_tag) + "\r\n";
  }
  return r + extra + "Content-Length: 0\r\n\r\n";
}

class InlineProxyTest : public ::testing::Test {
 protected:
  InlineProxyTest() : key_(tls::KeyedHash::random()) {}

  void make(EngineOptions opts = {}) {
    opts.timers.c = Millis{0};
    opts.in_line.enabled = true;
    opts.in_line.advertise = "198.51.100.1:5060";
    opts.in_line.advertise_addr = address("198.51.100.1", 5060);
    engine_ = std::make_unique<RelayEngine>(opts, sip::BranchMac{&tls::KeyedHash::call, &key_}, io_, counters_);
  }

  // A datagram from `from` ("ip:port"), as the sip worker would hand it over.
  // Returns whether a source outside acl.allow would have been let in.
  bool receive(const std::string& bytes, const std::string& from = kSwitch, Transport transport = Transport::udp) {
    const bool listed = from == kSwitch;
    held_.push_back(bytes);
    const std::string& b = held_.back();
    sip::MessageWithHeaders<64> p;
    const auto r = p.parse(b, sip::ParseOptions{.depth = sip::ParseDepth::relay});
    SwitchPeer peer;
    const auto colon = from.rfind(':');
    peer.addr = address(from.substr(0, colon), static_cast<std::uint16_t>(std::stoi(from.substr(colon + 1))));
    peer.addr_len = sizeof(sockaddr_in);
    peer.transport = transport;
    peer.unlisted = !listed;
    // As the sip worker does: only the switch is in acl.allow; anyone else
    // reaches the engine only when admits_unlisted() lets it in.
    const bool admitted = r.ok() && engine_->admits_unlisted(p.msg);
    if (listed || admitted) engine_->on_switch_message(p.msg, r, peer, now_);
    return admitted;
  }
  void from_service(const std::string& bytes) {
    sip::MessageWithHeaders<64> p;
    const auto r = p.parse(bytes, sip::ParseOptions{.datagram = false});
    engine_->on_upstream_message(p.msg, r, now_);
  }
  void advance(Millis d) {
    const Millis until = now_ + d;
    while (engine_->next_deadline() <= until) {
      now_ = std::max(now_, engine_->next_deadline());
      engine_->on_timer(now_);
    }
    now_ = until;
    engine_->on_timer(now_);
  }
  // Messages sent to `to` since the start, as their first lines.
  std::vector<std::string> lines_to(const std::string& to) const {
    std::vector<std::string> out;
    for (const auto& s : io_.sent) {
      if (s.to == to) out.push_back(first_line(s.bytes));
    }
    return out;
  }
  const std::string& last_to(const std::string& to) const {
    for (auto it = io_.sent.rbegin(); it != io_.sent.rend(); ++it) {
      if (it->to == to) return it->bytes;
    }
    static const std::string none;
    ADD_FAILURE() << "nothing sent to " << to;
    return none;
  }
  const std::string& first_to(const std::string& to) const {
    for (const auto& s : io_.sent) {
      if (s.to == to) return s.bytes;
    }
    static const std::string none;
    ADD_FAILURE() << "nothing sent to " << to;
    return none;
  }
  int finals_to_switch() const {
    int n = 0;
    for (const auto& l : lines_to(kSwitch)) {
      if (l.rfind("SIP/2.0 ", 0) == 0 && l[8] != '1') ++n;
    }
    return n;
  }
  // Switch INVITE, then the service's 302 with the given Contact lines.
  void redirect(const std::string& call_id, const std::string& contacts, const std::string& extra = "",
                Transport switch_transport = Transport::udp, const std::string& body_pad = "") {
    std::string inv = invite(call_id);
    if (!body_pad.empty()) {
      // A bigger SDP: the INVITE grows past what UDP should carry.
      const auto cl = inv.find("Content-Length: ");
      const auto end = inv.find("\r\n", cl);
      const std::string body = inv.substr(inv.find("\r\n\r\n") + 4) + body_pad;
      inv = inv.substr(0, cl) + "Content-Length: " + std::to_string(body.size()) + inv.substr(end, inv.find("\r\n\r\n") + 4 - end) + body;
    }
    receive(inv, kSwitch, switch_transport);
    ASSERT_EQ(io_.upstream_msgs.size(), 1u);
    from_service(answer(io_.upstream_msgs[0], 302, "Moved Temporarily", "svc",
                        contacts + "Identity: " + kIdentity + "\r\n" + extra));
  }

  tls::KeyedHash key_;
  FakeIo io_;
  RelayCounters counters_;
  std::unique_ptr<RelayEngine> engine_;
  Millis now_{1000};
  std::vector<std::string> held_;
};

const std::string kTwoContacts =  // B listed first but with the lower q
    "Contact: <sip:+12125551234@192.0.2.11:5070;user=phone>;q=0.5, <sip:+12125551234@192.0.2.10;user=phone>;q=0.9\r\n";

TEST_F(InlineProxyTest, InviteToTheBestContactCarriesIdentityRecordRouteAndOurVia) {
  make();
  redirect("c1", kTwoContacts, "P-Asserted-Identity: <sip:+13035550147@198.51.100.20;verstat=TN-Validation-Passed>\r\n");
  EXPECT_EQ(lines_to(kSwitch), std::vector<std::string>{"SIP/2.0 100 Trying"}) << "the 302 is not relayed";
  ASSERT_EQ(lines_to(kDestA), std::vector<std::string>{"INVITE sip:+12125551234@192.0.2.10;user=phone SIP/2.0"});
  EXPECT_TRUE(lines_to(kDestB).empty());
  // The service's 302 was ACKed upstream (§17.1.1.3).
  ASSERT_EQ(io_.upstream_msgs.size(), 2u);
  EXPECT_EQ(io_.upstream_msgs[1].rfind("ACK ", 0), 0u);

  const std::string& sent = last_to(kDestA);
  sip::MessageWithHeaders<64> p;
  ASSERT_TRUE(p.parse(sent).ok()) << sent;
  EXPECT_EQ(p.msg.top_via.transport, "UDP");
  EXPECT_EQ(p.msg.top_via.host, "198.51.100.1");
  EXPECT_TRUE(sip::is_our_branch(p.msg.top_via.branch));
  EXPECT_EQ(p.msg.via_count, 2);
  EXPECT_EQ(p.msg.max_forwards, 69);
  EXPECT_NE(sent.find("\r\nIdentity: " + kIdentity + "\r\n"), std::string::npos) << "byte for byte";
  const sip::Header* rr = p.msg.find(sip::HeaderId::record_route);
  ASSERT_NE(rr, nullptr);
  EXPECT_EQ(rr->value.substr(0, 30), "<sip:198.51.100.1:5060;lr;srr=");
  // The service's verification header replaced the switch's own.
  int pai = 0;
  for (const auto& h : p.msg.headers) {
    if (h.id == sip::HeaderId::p_asserted_identity) {
      ++pai;
      EXPECT_NE(h.value.find("verstat=TN-Validation-Passed"), std::string_view::npos);
    }
  }
  EXPECT_EQ(pai, 1);
  EXPECT_NE(sent.find("\r\n\r\nv=0\r\n"), std::string::npos) << "the SDP travels unchanged";
  EXPECT_EQ(counters_.inline_searches.load(), 1u);
  EXPECT_EQ(counters_.inline_attempts.load(), 1u);
}

TEST_F(InlineProxyTest, FirstDestination503SecondAnswersAndTheSwitchGetsOnlyTheAnswer) {
  make();
  redirect("c2", kTwoContacts);
  receive(answer(last_to(kDestA), 503, "Service Unavailable", "a1"), kDestA);
  EXPECT_EQ(lines_to(kDestA).back().rfind("ACK sip:+12125551234@192.0.2.10;user=phone ", 0), 0u);
  ASSERT_EQ(lines_to(kDestB).size(), 1u);
  EXPECT_EQ(lines_to(kDestB)[0].rfind("INVITE sip:+12125551234@192.0.2.11:5070", 0), 0u);
  receive(answer(last_to(kDestB), 180, "Ringing", "b1"), kDestB);
  receive(answer(last_to(kDestB), 200, "OK", "b1", "Contact: <sip:callee@192.0.2.11:5070>\r\n"), kDestB);
  EXPECT_EQ(lines_to(kSwitch),
            (std::vector<std::string>{"SIP/2.0 100 Trying", "SIP/2.0 180 Ringing", "SIP/2.0 200 OK"}));
  const std::string& ok = last_to(kSwitch);
  sip::MessageWithHeaders<64> p;
  ASSERT_TRUE(p.parse(ok).ok());
  EXPECT_EQ(p.msg.via_count, 1) << "our Via came off";
  EXPECT_EQ(p.msg.top_via.branch, "z9hG4bK-sw-1");
  EXPECT_NE(p.msg.find(sip::HeaderId::record_route), nullptr) << "the switch learns the route set";
  EXPECT_EQ(counters_.inline_failovers.load(), 1u);
  EXPECT_EQ(counters_.inline_answered.load(), 1u);
  // A retransmitted 200 still reaches the switch (RFC 6026).
  receive(answer(last_to(kDestB), 200, "OK", "b1"), kDestB);
  EXPECT_EQ(finals_to_switch(), 2);
}

TEST_F(InlineProxyTest, SilentDestinationIsAbandonedAfterBranchTimeout) {
  EngineOptions o;
  o.in_line.branch_timeout = Millis{2000};
  make(o);
  redirect("c3", kTwoContacts);
  advance(Millis{1900});
  EXPECT_TRUE(lines_to(kDestB).empty());
  EXPECT_GE(lines_to(kDestA).size(), 3u) << "INVITE retransmitted over UDP (Timer A)";
  advance(Millis{200});
  ASSERT_EQ(lines_to(kDestB).size(), 1u);
  EXPECT_EQ(counters_.inline_branch_timeouts.load(), 1u);
  receive(answer(last_to(kDestB), 486, "Busy Here", "b1"), kDestB);
  EXPECT_EQ(lines_to(kSwitch).back(), "SIP/2.0 486 Busy Here") << "486 is not a failover code: it ends the search";
  EXPECT_EQ(finals_to_switch(), 1);
  // A late 486 from A: ACKed, not relayed.
  receive(answer(first_to(kDestA), 486, "Busy Here", "a1"), kDestA);
  EXPECT_EQ(finals_to_switch(), 1);
  EXPECT_EQ(counters_.inline_stale_responses.load(), 1u);
}

TEST_F(InlineProxyTest, EveryDestinationFailsAndTheBestResponseGoesBack) {
  make();
  redirect("c4", kTwoContacts);
  receive(answer(last_to(kDestA), 503, "Service Unavailable", "a1"), kDestA);
  receive(answer(last_to(kDestB), 502, "Bad Gateway", "b1"), kDestB);
  ASSERT_EQ(finals_to_switch(), 1);
  // Both 5xx; §16.7 step 6 picks within the class, and a 503 would become 500.
  EXPECT_EQ(lines_to(kSwitch).back().substr(0, 11), "SIP/2.0 500");
  EXPECT_EQ(counters_.inline_exhausted.load(), 1u);
}

TEST_F(InlineProxyTest, TimeoutsAndA503GiveA408) {
  EngineOptions o;
  o.in_line.branch_timeout = Millis{500};
  make(o);
  redirect("c5", kTwoContacts);
  receive(answer(last_to(kDestA), 503, "Service Unavailable", "a1"), kDestA);
  advance(Millis{600});
  ASSERT_EQ(finals_to_switch(), 1);
  EXPECT_EQ(lines_to(kSwitch).back().substr(0, 11), "SIP/2.0 408") << "4xx is a lower class than 5xx";
}

TEST_F(InlineProxyTest, SixHundredEndsTheSearch) {
  make();
  redirect("c6", kTwoContacts);
  receive(answer(last_to(kDestA), 603, "Decline", "a1"), kDestA);
  EXPECT_TRUE(lines_to(kDestB).empty());
  EXPECT_EQ(lines_to(kSwitch).back(), "SIP/2.0 603 Decline");
}

TEST_F(InlineProxyTest, CancelWhileRingingCancelsTheLiveBranchAndItsAnswerGoesBack) {
  make();
  redirect("c7", kTwoContacts);
  receive(answer(last_to(kDestA), 500, "Server Internal Error", "a1"), kDestA);
  const std::string b_invite = last_to(kDestB);
  receive(answer(b_invite, 180, "Ringing", "b1"), kDestB);
  receive("CANCEL sip:+12125551234@198.51.100.1:5060;user=phone SIP/2.0\r\n"
          "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK-sw-1;rport\r\n"
          "Max-Forwards: 70\r\n"
          "From: <sip:+13035550147@198.51.100.20>;tag=caller1\r\n"
          "To: <sip:+12125551234@198.51.100.1>\r\n"
          "Call-ID: c7\r\nCSeq: 101 CANCEL\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(lines_to(kSwitch).back(), "SIP/2.0 200 OK") << "200 to the CANCEL";
  ASSERT_EQ(lines_to(kDestB).back().rfind("CANCEL sip:+12125551234@192.0.2.11:5070", 0), 0u);
  sip::MessageWithHeaders<64> inv, can;
  ASSERT_TRUE(inv.parse(b_invite).ok());
  ASSERT_TRUE(can.parse(last_to(kDestB)).ok());
  EXPECT_EQ(can.msg.top_via.branch, inv.msg.top_via.branch) << "§9.1: the INVITE's branch";
  receive(answer(b_invite, 487, "Request Terminated", "b1"), kDestB);
  EXPECT_EQ(lines_to(kSwitch).back(), "SIP/2.0 487 Request Terminated");
  EXPECT_EQ(lines_to(kDestB).back().rfind("ACK ", 0), 0u);
  EXPECT_EQ(finals_to_switch(), 2);  // the CANCEL's 200 and the INVITE's 487
}

TEST_F(InlineProxyTest, ServiceDeclineContactsNobody) {
  make();
  receive(invite("c8"));
  from_service(answer(io_.upstream_msgs[0], 603, "Decline", "svc"));
  EXPECT_EQ(lines_to(kSwitch).back(), "SIP/2.0 603 Decline");
  EXPECT_EQ(io_.sent.size(), 2u) << "100 and 603 to the switch, nothing else";
}

TEST_F(InlineProxyTest, ContactsAtUsOrOutsideTheAllowListAreSkipped) {
  OnlyNet net;
  EngineOptions o;
  o.in_line.allow_destinations = &net;
  make(o);
  redirect("c9",
           "Contact: <sip:x@198.51.100.1:5060>;q=1, <sip:x@203.0.113.5>;q=0.9, <sip:x@dest.example.com>;q=0.8\r\n");
  EXPECT_EQ(lines_to(kSwitch).back().substr(0, 11), "SIP/2.0 503");
  EXPECT_EQ(counters_.inline_refused_self.load(), 1u);
  EXPECT_EQ(counters_.inline_refused_acl.load(), 1u);
  EXPECT_EQ(counters_.inline_contacts_skipped.load(), 3u);
  EXPECT_EQ(counters_.inline_no_destination.load(), 1u);
}

TEST_F(InlineProxyTest, InDialogRequestsAreLooseRoutedBothWays) {
  make();
  redirect("c10", kTwoContacts);
  receive(answer(last_to(kDestA), 200, "OK", "a1", "Contact: <sip:callee@192.0.2.10:5080>\r\n"), kDestA);
  sip::MessageWithHeaders<64> ok;
  ASSERT_TRUE(ok.parse(last_to(kSwitch)).ok());
  const std::string rr(ok.msg.find(sip::HeaderId::record_route)->value);

  // ACK for the 2xx from the switch: to the callee's Contact.
  const std::string ack = "ACK sip:callee@192.0.2.10:5080 SIP/2.0\r\n"
                          "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK-sw-ack\r\n"
                          "Route: " + rr + "\r\n"
                          "Max-Forwards: 70\r\n"
                          "From: <sip:+13035550147@198.51.100.20>;tag=caller1\r\n"
                          "To: <sip:+12125551234@198.51.100.1>;tag=a1\r\n"
                          "Call-ID: c10\r\nCSeq: 101 ACK\r\nContent-Length: 0\r\n\r\n";
  receive(ack);
  const std::string callee = "192.0.2.10:5080";
  ASSERT_EQ(lines_to(callee), std::vector<std::string>{"ACK sip:callee@192.0.2.10:5080 SIP/2.0"});
  sip::MessageWithHeaders<64> fwd;
  ASSERT_TRUE(fwd.parse(last_to(callee)).ok());
  EXPECT_EQ(fwd.msg.find(sip::HeaderId::route), nullptr) << "our Route came off";
  EXPECT_EQ(fwd.msg.via_count, 2);
  EXPECT_EQ(fwd.msg.max_forwards, 69);

  // BYE from the callee (not in acl.allow): admitted on the Route token,
  // sent to the switch's Contact; its 200 goes back along the Via.
  const std::string bye = "BYE sip:+13035550147@198.51.100.20:5060 SIP/2.0\r\n"
                          "Via: SIP/2.0/UDP 192.0.2.10:5080;branch=z9hG4bK-callee-bye\r\n"
                          "Route: " + rr + "\r\n"
                          "Max-Forwards: 70\r\n"
                          "From: <sip:+12125551234@198.51.100.1>;tag=a1\r\n"
                          "To: <sip:+13035550147@198.51.100.20>;tag=caller1\r\n"
                          "Call-ID: c10\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n";
  EXPECT_TRUE(receive(bye, callee));
  ASSERT_EQ(lines_to(kSwitch).back(), "BYE sip:+13035550147@198.51.100.20:5060 SIP/2.0");
  const std::string bye_out = last_to(kSwitch);
  const std::string bye_ok = answer(bye_out, 200, "OK", "");
  EXPECT_TRUE(receive(bye_ok)) << "a response on our stateless branch proves itself";
  ASSERT_EQ(lines_to(callee).back(), "SIP/2.0 200 OK");
  sip::MessageWithHeaders<64> back;
  ASSERT_TRUE(back.parse(last_to(callee)).ok());
  EXPECT_EQ(back.msg.via_count, 1);
  EXPECT_EQ(back.msg.top_via.branch, "z9hG4bK-callee-bye");
  EXPECT_EQ(counters_.inline_routed_requests.load(), 2u);
  EXPECT_EQ(counters_.inline_routed_responses.load(), 1u);
}

TEST_F(InlineProxyTest, ForgedRouteTokensAndBranchesAreNotAdmitted) {
  make();
  const std::string bye = "BYE sip:+13035550147@198.51.100.20:5060 SIP/2.0\r\n"
                          "Via: SIP/2.0/UDP 203.0.113.9:5060;branch=z9hG4bK-x\r\n"
                          "Route: <sip:198.51.100.1:5060;lr;srr=0123456789abcdef>\r\n"
                          "Max-Forwards: 70\r\n"
                          "From: <sip:a@203.0.113.9>;tag=x\r\nTo: <sip:b@198.51.100.20>;tag=y\r\n"
                          "Call-ID: forged\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n";
  EXPECT_FALSE(receive(bye, "203.0.113.9:5060"));
  const std::string resp = "SIP/2.0 200 OK\r\n"
                           "Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bK-srs-u0000000000004c000020113c4-0123456789abcdef\r\n"
                           "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-y\r\n"
                           "From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: f2\r\nCSeq: 1 BYE\r\n"
                           "Content-Length: 0\r\n\r\n";
  EXPECT_FALSE(receive(resp, "203.0.113.9:5060"));
  EXPECT_TRUE(io_.sent.empty()) << "nothing forwarded for forgeries";
}

TEST_F(InlineProxyTest, SwitchInviteWithoutARedirectIsUnaffected) {
  make();
  receive(invite("c11"));
  from_service(answer(io_.upstream_msgs[0], 503, "Service Unavailable", "svc"));
  EXPECT_EQ(lines_to(kSwitch).back(), "SIP/2.0 503 Service Unavailable");
  EXPECT_EQ(counters_.inline_searches.load(), 0u);
}

TEST_F(InlineProxyTest, TcpContactGetsTcpViaAndADoubleRecordRoute) {
  EngineOptions o;
  o.in_line.advertise_tcp = "198.51.100.1:5062";
  make(o);
  redirect("t1", "Contact: <sip:+12125551234@192.0.2.10:5060;transport=tcp>\r\n");
  ASSERT_EQ(io_.transports.size(), 1u);
  EXPECT_EQ(io_.transports[0], Transport::tcp);
  sip::MessageWithHeaders<64> p;
  ASSERT_TRUE(p.parse(last_to(kDestA)).ok());
  EXPECT_EQ(p.msg.top_via.transport, "TCP");
  EXPECT_EQ(p.msg.top_via.port, 5062);
  // RFC 5658: the top value faces the destination (TCP), the next the switch (UDP).
  std::vector<std::string> rr;
  for (const auto& h : p.msg.headers) {
    if (h.id == sip::HeaderId::record_route) rr.emplace_back(h.value);
  }
  ASSERT_EQ(rr.size(), 2u);
  EXPECT_EQ(rr[0].substr(0, 44), "<sip:198.51.100.1:5062;transport=tcp;lr;srr=");
  EXPECT_EQ(rr[1].substr(0, 30), "<sip:198.51.100.1:5060;lr;srr=");
  // No Timer A on a reliable transport.
  advance(Millis{1500});
  EXPECT_EQ(lines_to(kDestA).size(), 1u);

  // In-dialog: a request naming both of our values pops both.
  receive(answer(last_to(kDestA), 200, "OK", "a1", "Contact: <sip:callee@192.0.2.10:5080;transport=tcp>\r\n"),
          kDestA, Transport::tcp);
  const std::string bye = "BYE sip:callee@192.0.2.10:5080;transport=tcp SIP/2.0\r\n"
                          "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK-sw-bye\r\n"
                          "Route: <" + rr[1].substr(1, rr[1].size() - 2) + ">, <" + rr[0].substr(1, rr[0].size() - 2) + ">\r\n"
                          "Max-Forwards: 70\r\n"
                          "From: <sip:+13035550147@198.51.100.20>;tag=caller1\r\n"
                          "To: <sip:+12125551234@198.51.100.1>;tag=a1\r\n"
                          "Call-ID: t1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
  receive(bye);
  ASSERT_EQ(lines_to("192.0.2.10:5080"), std::vector<std::string>{"BYE sip:callee@192.0.2.10:5080;transport=tcp SIP/2.0"});
  EXPECT_EQ(io_.transports.back(), Transport::tcp);
  sip::MessageWithHeaders<64> b;
  ASSERT_TRUE(b.parse(last_to("192.0.2.10:5080")).ok());
  EXPECT_EQ(b.msg.find(sip::HeaderId::route), nullptr) << "both of our Route values came off";
  EXPECT_EQ(b.msg.top_via.transport, "TCP");
}

TEST_F(InlineProxyTest, LargeInviteToAUdpContactGoesOverTcpThenFallsBackToUdp) {
  make();
  const std::string pad(1200, 'x');
  redirect("t2", "Contact: <sip:+12125551234@192.0.2.10>\r\n", "", Transport::udp, "a=x-pad:" + pad + "\r\n");
  ASSERT_EQ(io_.transports.size(), 1u);
  EXPECT_EQ(io_.transports[0], Transport::tcp) << "RFC 3261 §18.1.1: over 1300 bytes";
  EXPECT_EQ(counters_.inline_tcp_upgrades.load(), 1u);
  // The TCP connection fails: the same INVITE goes over UDP, same branch.
  const std::string tcp_invite = last_to(kDestA);
  sip::MessageWithHeaders<64> first;
  ASSERT_TRUE(first.parse(tcp_invite).ok());
  engine_->on_destination_unreachable(tcp_invite, now_);
  ASSERT_EQ(io_.transports.size(), 2u);
  EXPECT_EQ(io_.transports[1], Transport::udp);
  sip::MessageWithHeaders<64> second;
  ASSERT_TRUE(second.parse(last_to(kDestA)).ok());
  EXPECT_EQ(second.msg.top_via.transport, "UDP");
  EXPECT_EQ(counters_.inline_udp_fallbacks.load(), 1u);
  EXPECT_GT(counters_.inline_invite_size[3].load() + counters_.inline_invite_size[4].load(), 0u);
}

TEST_F(InlineProxyTest, LargeInviteStaysOnUdpWhenTheContactSaysUdp) {
  make();
  redirect("t3", "Contact: <sip:+12125551234@192.0.2.10;transport=udp>\r\n", "", Transport::udp,
           "a=x-pad:" + std::string(1200, 'x') + "\r\n");
  ASSERT_EQ(io_.transports.size(), 1u);
  EXPECT_EQ(io_.transports[0], Transport::udp);
}

TEST_F(InlineProxyTest, UnreachableDestinationIsGivenUpAtOnce) {
  make();
  redirect("t4", kTwoContacts);
  engine_->on_destination_unreachable(last_to(kDestA), now_);
  ASSERT_EQ(lines_to(kDestB).size(), 1u) << "no waiting for the branch timeout";
  EXPECT_EQ(counters_.inline_transport_errors.load(), 1u);
  // ICMP quotes only the start of what we sent: enough for our branch.
  const std::string b_invite = last_to(kDestB);
  const sockaddr_storage b = address("192.0.2.11", 5070);
  const sockaddr_storage elsewhere = address("192.0.2.99", 5070);
  engine_->on_destination_unreachable(std::string_view(b_invite).substr(0, 300), now_, &elsewhere);
  EXPECT_EQ(finals_to_switch(), 0) << "an error for another address is not this branch's";
  engine_->on_destination_unreachable(std::string_view(b_invite).substr(0, 300), now_, &b);
  EXPECT_EQ(finals_to_switch(), 1) << "B unreachable too: the search ends";
  EXPECT_EQ(lines_to(kSwitch).back().substr(0, 11), "SIP/2.0 500") << "transport errors count as 503";
  // Something that is not ours changes nothing.
  engine_->on_destination_unreachable("INVITE sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK-zz\r\n\r\n", now_);
  EXPECT_EQ(finals_to_switch(), 1);
}

TEST_F(InlineProxyTest, SwitchOnTcpGetsItsOwnRecordRouteValue) {
  EngineOptions o;
  o.in_line.advertise_tcp = "198.51.100.1:5062";
  make(o);
  redirect("t5", "Contact: <sip:+12125551234@192.0.2.10>\r\n", "", Transport::tcp);
  sip::MessageWithHeaders<64> p;
  ASSERT_TRUE(p.parse(last_to(kDestA)).ok());
  std::vector<std::string> rr;
  for (const auto& h : p.msg.headers) {
    if (h.id == sip::HeaderId::record_route) rr.emplace_back(h.value);
  }
  ASSERT_EQ(rr.size(), 2u);
  EXPECT_EQ(rr[0].substr(0, 30), "<sip:198.51.100.1:5060;lr;srr=");
  EXPECT_EQ(rr[1].substr(0, 44), "<sip:198.51.100.1:5062;transport=tcp;lr;srr=");
}

const std::string kCancelC = "CANCEL sip:+12125551234@198.51.100.1:5060;user=phone SIP/2.0\r\n"
                             "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK-sw-1;rport\r\n"
                             "Max-Forwards: 70\r\n"
                             "From: <sip:+13035550147@198.51.100.20>;tag=caller1\r\n"
                             "To: <sip:+12125551234@198.51.100.1>\r\n";

TEST_F(InlineProxyTest, LateAnswerFromAnAbandonedBranchWinsAndTheLiveOneIsCancelled) {
  make();
  redirect("s1", kTwoContacts);
  const std::string a_invite = first_to(kDestA);
  advance(Millis{2100});  // A silent: B tried
  ASSERT_EQ(lines_to(kDestB).size(), 1u);
  receive(answer(last_to(kDestB), 180, "Ringing", "b1"), kDestB);
  receive(answer(a_invite, 200, "OK", "a1", "Contact: <sip:callee@192.0.2.10>\r\n"), kDestA);
  EXPECT_EQ(lines_to(kSwitch).back(), "SIP/2.0 200 OK") << "every 2xx reaches the switch";
  EXPECT_EQ(lines_to(kDestB).back().rfind("CANCEL ", 0), 0u) << "the live branch is cancelled";
  receive(answer(first_to(kDestB), 487, "Request Terminated", "b1"), kDestB);
  EXPECT_EQ(finals_to_switch(), 1) << "B's 487 does not reach the switch after A's 200";
  // Time runs out for everything: no timer loops, every slot comes back.
  advance(Millis{70000});
  EXPECT_EQ(engine_->active_transactions(), 0u);
}

TEST_F(InlineProxyTest, AbandonedBranchThatRingsLaterIsCancelled) {
  make();
  redirect("s2", kTwoContacts);
  const std::string a_invite = first_to(kDestA);
  advance(Millis{2100});
  receive(answer(a_invite, 180, "Ringing", "a1"), kDestA);
  ASSERT_EQ(lines_to(kDestA).back().rfind("CANCEL sip:+12125551234@192.0.2.10;user=phone SIP/2.0", 0), 0u);
  sip::MessageWithHeaders<64> c, inv;
  ASSERT_TRUE(c.parse(last_to(kDestA)).ok());
  ASSERT_TRUE(inv.parse(a_invite).ok());
  EXPECT_EQ(c.msg.top_via.branch, inv.msg.top_via.branch);
  EXPECT_FALSE(c.msg.to.has_tag) << "§9.1: the INVITE's To";
  EXPECT_EQ(lines_to(kSwitch).size(), 1u) << "the stale 180 is not relayed";
}

TEST_F(InlineProxyTest, ShutdownDuringASearchAnswersAndCancels) {
  make();
  redirect("s3", kTwoContacts);
  receive(answer(last_to(kDestA), 180, "Ringing", "a1"), kDestA);
  engine_->shutdown(now_);
  EXPECT_EQ(lines_to(kSwitch).back().substr(0, 11), "SIP/2.0 503");
  EXPECT_EQ(lines_to(kDestA).back().rfind("CANCEL ", 0), 0u);
  receive(answer(first_to(kDestA), 487, "Request Terminated", "a1"), kDestA);
  EXPECT_EQ(finals_to_switch(), 1);
  advance(Millis{70000});
  EXPECT_EQ(engine_->active_transactions(), 0u);
}

TEST_F(InlineProxyTest, RingTimeoutCancelsAndTriesTheNext) {
  EngineOptions o;
  o.in_line.ring_timeout = Millis{5000};
  make(o);
  redirect("s4", kTwoContacts);
  receive(answer(last_to(kDestA), 180, "Ringing", "a1"), kDestA);
  advance(Millis{4900});
  EXPECT_TRUE(lines_to(kDestB).empty());
  advance(Millis{200});
  EXPECT_EQ(lines_to(kDestA).back().rfind("CANCEL ", 0), 0u);
  ASSERT_EQ(lines_to(kDestB).size(), 1u);
  EXPECT_EQ(counters_.inline_ring_timeouts.load(), 1u);
  // A's 487 for our CANCEL: ACKed, not relayed.
  receive(answer(first_to(kDestA), 487, "Request Terminated", "a1"), kDestA);
  EXPECT_EQ(lines_to(kDestA).back().rfind("ACK ", 0), 0u);
  EXPECT_EQ(finals_to_switch(), 0);
}

TEST_F(InlineProxyTest, CancelBeforeAnyProvisionalWaitsForOne) {
  make();
  redirect("s5", kTwoContacts);
  receive(kCancelC + "Call-ID: s5\r\nCSeq: 101 CANCEL\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(lines_to(kDestA).size(), 1u) << "§9.1: no CANCEL before a provisional";
  receive(answer(first_to(kDestA), 180, "Ringing", "a1"), kDestA);
  EXPECT_EQ(lines_to(kDestA).back().rfind("CANCEL ", 0), 0u);
  receive(answer(first_to(kDestA), 487, "Request Terminated", "a1"), kDestA);
  EXPECT_EQ(lines_to(kSwitch).back(), "SIP/2.0 487 Request Terminated");
  EXPECT_TRUE(lines_to(kDestB).empty()) << "no further destination after a CANCEL";
}

TEST_F(InlineProxyTest, SilentDestinationAfterCancelGivesA487) {
  make();
  redirect("s6", kTwoContacts);
  receive(kCancelC + "Call-ID: s6\r\nCSeq: 101 CANCEL\r\nContent-Length: 0\r\n\r\n");
  advance(Millis{2100});
  EXPECT_EQ(lines_to(kSwitch).back(), "SIP/2.0 487 Request Terminated");
  EXPECT_TRUE(lines_to(kDestB).empty());
  advance(Millis{70000});
  EXPECT_EQ(engine_->active_transactions(), 0u);
}


struct OnlySwitch final : AddressFilter {
  bool allows(const sockaddr_storage& a) const override { return peer_text(a) == kSwitch; }
};

TEST_F(InlineProxyTest, ARouteTokenDoesNotMakeUsAnOpenRelay) {
  OnlySwitch sw;
  EngineOptions o;
  o.in_line.switches = &sw;
  make(o);
  redirect("o1", kTwoContacts);
  receive(answer(last_to(kDestA), 200, "OK", "a1", "Contact: <sip:callee@192.0.2.10>\r\n"), kDestA);
  sip::MessageWithHeaders<64> ok;
  ASSERT_TRUE(ok.parse(last_to(kSwitch)).ok());
  const std::string rr(ok.msg.find(sip::HeaderId::record_route)->value);
  const std::size_t before = io_.sent.size();
  // A new call (no To tag) from the destination, riding on the token.
  const std::string new_call = "INVITE sip:+442071234567@203.0.113.50 SIP/2.0\r\n"
                               "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-evil-1\r\n"
                               "Route: " + rr + "\r\nMax-Forwards: 70\r\n"
                               "From: <sip:+12125551234@192.0.2.10>;tag=caller1\r\n"
                               "To: <sip:+442071234567@203.0.113.50>\r\n"
                               "Call-ID: o1\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n";
  receive(new_call, kDestA);
  EXPECT_TRUE(lines_to("203.0.113.50:5060").empty());
  // An in-dialog request to somewhere that is not a switch.
  const std::string elsewhere = "BYE sip:x@203.0.113.50 SIP/2.0\r\n"
                                "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-evil-2\r\n"
                                "Route: " + rr + "\r\nMax-Forwards: 70\r\n"
                                "From: <sip:+12125551234@198.51.100.1>;tag=a1\r\n"
                                "To: <sip:+13035550147@198.51.100.20>;tag=caller1\r\n"
                                "Call-ID: o1\r\nCSeq: 8 BYE\r\nContent-Length: 0\r\n\r\n";
  receive(elsewhere, kDestA);
  EXPECT_TRUE(lines_to("203.0.113.50:5060").empty());
  EXPECT_EQ(counters_.inline_route_rejected.load(), 2u);
  for (std::size_t i = before; i < io_.sent.size(); ++i) {
    EXPECT_EQ(io_.sent[i].to, kDestA) << "only refusals, back to the sender";
  }
  // The same token with another Call-ID is worthless.
  std::string other = elsewhere;
  other.replace(other.find("Call-ID: o1"), 11, "Call-ID: o2");
  EXPECT_FALSE(receive(other, kDestA));
}

TEST_F(InlineProxyTest, MaxRedirectionsBoundsTheSearch) {
  EngineOptions o;
  o.in_line.max_redirections = 1;
  make(o);
  redirect("m1", kTwoContacts);
  receive(answer(last_to(kDestA), 503, "Service Unavailable", "a1"), kDestA);
  EXPECT_TRUE(lines_to(kDestB).empty());
  EXPECT_EQ(lines_to(kSwitch).back().substr(0, 11), "SIP/2.0 500");
}

TEST_F(InlineProxyTest, ReInviteUpdateAndInfoInsideTheDialogPassBothWays) {
  make();
  redirect("m2", kTwoContacts);
  receive(answer(last_to(kDestA), 200, "OK", "a1", "Contact: <sip:callee@192.0.2.10:5080>\r\n"), kDestA);
  sip::MessageWithHeaders<64> ok;
  ASSERT_TRUE(ok.parse(last_to(kSwitch)).ok());
  const std::string rr(ok.msg.find(sip::HeaderId::record_route)->value);
  const std::string callee = "192.0.2.10:5080";
  int cseq = 2;
  for (const std::string method : {"INVITE", "UPDATE", "INFO"}) {
    const std::string req = method + " sip:callee@192.0.2.10:5080 SIP/2.0\r\n"
                            "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK-sw-" + method + "\r\n"
                            "Route: " + rr + "\r\nMax-Forwards: 70\r\n"
                            "From: <sip:+13035550147@198.51.100.20>;tag=caller1\r\n"
                            "To: <sip:+12125551234@198.51.100.1>;tag=a1\r\n"
                            "Call-ID: m2\r\nCSeq: " + std::to_string(cseq++) + " " + method + "\r\n"
                            "Content-Length: 0\r\n\r\n";
    receive(req);
    ASSERT_EQ(lines_to(callee).back(), method + " sip:callee@192.0.2.10:5080 SIP/2.0");
    EXPECT_TRUE(receive(answer(last_to(callee), 200, "OK", ""), callee));
    EXPECT_EQ(lines_to(kSwitch).back(), "SIP/2.0 200 OK");
    sip::MessageWithHeaders<64> back;
    ASSERT_TRUE(back.parse(last_to(kSwitch)).ok());
    EXPECT_EQ(back.msg.cseq.method, method);
    EXPECT_EQ(back.msg.top_via.branch, "z9hG4bK-sw-" + method);
  }
  // A CANCEL of the re-INVITE gets the re-INVITE's branch (§16.11).
  std::vector<std::string> branches;
  for (const auto& sent : io_.sent) {
    if (sent.to != callee) continue;
    sip::MessageWithHeaders<64> m;
    ASSERT_TRUE(m.parse(sent.bytes).ok());
    if (m.msg.method == "INVITE") branches.emplace_back(m.msg.top_via.branch);
  }
  receive("CANCEL sip:callee@192.0.2.10:5080 SIP/2.0\r\n"
          "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK-sw-INVITE\r\n"
          "Route: " + rr + "\r\nMax-Forwards: 70\r\n"
          "From: <sip:+13035550147@198.51.100.20>;tag=caller1\r\n"
          "To: <sip:+12125551234@198.51.100.1>;tag=a1\r\n"
          "Call-ID: m2\r\nCSeq: 2 CANCEL\r\nContent-Length: 0\r\n\r\n");
  sip::MessageWithHeaders<64> cancel;
  ASSERT_TRUE(cancel.parse(last_to(callee)).ok());
  ASSERT_EQ(branches.size(), 1u);
  EXPECT_EQ(cancel.msg.top_via.branch, branches[0]);
}

TEST_F(InlineProxyTest, SipsContactGetsASipsRecordRouteOverTls) {
  EngineOptions o;
  o.in_line.advertise_tls = "198.51.100.1:5061";
  make(o);
  redirect("t6", "Contact: <sips:+12125551234@192.0.2.10>\r\n");
  ASSERT_EQ(io_.transports.size(), 1u);
  EXPECT_EQ(io_.transports[0], Transport::tls);
  sip::MessageWithHeaders<64> p;
  ASSERT_TRUE(p.parse(last_to(kDestA.substr(0, kDestA.size() - 4) + "5061")).ok());
  std::vector<std::string> rr;
  for (const auto& h : p.msg.headers) {
    if (h.id == sip::HeaderId::record_route) rr.emplace_back(h.value);
  }
  ASSERT_EQ(rr.size(), 2u) << "the switch is on UDP";
  EXPECT_EQ(rr[0].substr(0, 31), "<sips:198.51.100.1:5061;lr;srr=") << "§16.6 step 4";
  EXPECT_EQ(p.msg.top_via.transport, "TLS");
}

}  // namespace
}  // namespace sigrelay::dataplane
