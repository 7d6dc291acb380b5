// The relay engine behind a fake worker: every switch-visible outcome of
// DESIGN.md §1, with time driven by hand.
#include "dataplane/relay_engine.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <random>
#include <string>
#include <vector>

#include "tls/keyed_hash.hpp"

namespace sigrelay::dataplane {
namespace {

using sip::Millis;

struct FakeIo final : RelayIo {
  std::vector<std::string> to_switch_msgs;
  std::vector<std::string> upstream_msgs;
  bool up = true;
  bool accept_upstream = true;

  void to_switch(const SwitchPeer&, std::span<const sip::Segment> msg) override {
    std::string s;
    for (const auto& seg : msg) s.append(seg.data, seg.len);
    to_switch_msgs.push_back(std::move(s));
  }
  bool to_upstream(std::uint64_t, std::span<const sip::Segment> msg) override {
    if (!accept_upstream) return false;
    std::string s;
    for (const auto& seg : msg) s.append(seg.data, seg.len);
    upstream_msgs.push_back(std::move(s));
    return true;
  }
  bool upstream_up() const override { return up; }
  bool to_destination(const SwitchPeer& to, std::uint64_t, std::span<const sip::Segment> msg) override {
    to_switch(to, msg);
    return true;
  }
};

std::string status_line(const std::string& msg) { return msg.substr(0, msg.find("\r\n")); }

std::string invite(const std::string& call_id, const std::string& user = "+12125551234",
                   const std::string& branch = "z9hG4bK-sw-1", int max_forwards = 70) {
  const std::string sdp = "v=0\r\no=- 1 1 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 198.51.100.20\r\nt=0 0\r\n";
  std::string m = "INVITE sip:" + user + "@198.51.100.1;user=phone SIP/2.0\r\n"
                  "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=" + branch + ";rport\r\n"
                  "Max-Forwards: " + std::to_string(max_forwards) + "\r\n"
                  "From: <sip:+13035550147@198.51.100.20>;tag=caller1\r\n"
                  "To: <sip:" + user + "@198.51.100.1>\r\n"
                  "Call-ID: " + call_id + "\r\n"
                  "CSeq: 101 INVITE\r\n"
                  "Contact: <sip:+13035550147@198.51.100.20:5060>\r\n"
                  "Content-Type: application/sdp\r\n"
                  "Content-Length: " + std::to_string(sdp.size()) + "\r\n\r\n" + sdp;
  return m;
}

// An in-dialog-free request from the same INVITE transaction: ACK or CANCEL
// with the INVITE's branch (RFC 3261 §9.1, §17.1.1.3).
std::string same_txn(const std::string& method, const std::string& call_id, const std::string& to_tag = "",
                     const std::string& branch = "z9hG4bK-sw-1") {
  return method + " sip:+12125551234@198.51.100.1;user=phone SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=" + branch + ";rport\r\n"
         "Max-Forwards: 70\r\n"
         "From: <sip:+13035550147@198.51.100.20>;tag=caller1\r\n"
         "To: <sip:+12125551234@198.51.100.1>" + (to_tag.empty() ? "" : ";tag=" + to_tag) + "\r\n"
         "Call-ID: " + call_id + "\r\n"
         "CSeq: 101 " + method + "\r\n"
         "Content-Length: 0\r\n\r\n";
}

// The service's answer to the INVITE it received (a copy of its Vias etc.).
std::string service_answer(const std::string& upstream_invite, int code, const std::string& reason,
                           const std::string& extra = "") {
  sip::MessageWithHeaders<64> p;
  EXPECT_TRUE(p.parse(upstream_invite).ok());
  std::string r = "SIP/2.0 " + std::to_string(code) + " " + reason + "\r\n";
  for (const auto& h : p.msg.headers) {
    if (h.id == sip::HeaderId::via || h.id == sip::HeaderId::from || h.id == sip::HeaderId::call_id ||
        h.id == sip::HeaderId::cseq) {
      r += std::string(h.line);
    }
    if (h.id == sip::HeaderId::to) r += "To: " + std::string(h.value) + ";tag=svc\r\n";
  }
  return r + extra + "Content-Length: 0\r\n\r\n";
}

class RelayEngineTest : public ::testing::Test {
 protected:
  RelayEngineTest() : key_(tls::KeyedHash::random()) {}

  void make(EngineOptions opts = {}) {
    opts.timers.c = Millis{0};
    engine_ = std::make_unique<RelayEngine>(opts, sip::BranchMac{&tls::KeyedHash::call, &key_}, io_, counters_);
  }

  void from_switch(const std::string& bytes, Transport t = Transport::udp) {
    held_.push_back(bytes);
    const std::string& b = held_.back();
    sip::MessageWithHeaders<64> p;
    const auto r = p.parse(b);
    SwitchPeer peer;
    peer.transport = t;
    auto* sin = reinterpret_cast<sockaddr_in*>(&peer.addr);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(5060);
    inet_pton(AF_INET, "198.51.100.20", &sin->sin_addr);
    peer.addr_len = sizeof(sockaddr_in);
    engine_->on_switch_message(p.msg, r, peer, now_);
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
  std::vector<std::string> switch_statuses() const {
    std::vector<std::string> out;
    for (const auto& m : io_.to_switch_msgs) out.push_back(status_line(m));
    return out;
  }
  int finals_to_switch() const {
    int n = 0;
    for (const auto& m : io_.to_switch_msgs) {
      const auto st = status_line(m);
      if (st.rfind("SIP/2.0 ", 0) == 0 && st.substr(8, 1) != "1") ++n;
    }
    return n;
  }

  tls::KeyedHash key_;
  FakeIo io_;
  RelayCounters counters_;
  std::unique_ptr<RelayEngine> engine_;
  Millis now_{1000};
  std::vector<std::string> held_;
};

TEST_F(RelayEngineTest, InviteGoesUpstreamWithOurViaAndServiceAnswerComesBack) {
  make();
  from_switch(invite("call-1"));
  ASSERT_EQ(switch_statuses(), std::vector<std::string>{"SIP/2.0 100 Trying"});
  ASSERT_EQ(io_.upstream_msgs.size(), 1u);
  sip::MessageWithHeaders<64> up;
  ASSERT_TRUE(up.parse(io_.upstream_msgs[0]).ok());
  EXPECT_EQ(up.msg.via_count, 2);
  EXPECT_TRUE(sip::is_our_branch(up.msg.top_via.branch));
  EXPECT_EQ(up.msg.top_via.transport, "TLS");
  EXPECT_EQ(up.msg.max_forwards, 69);
  EXPECT_EQ(up.msg.call_id, "call-1");

  from_service(service_answer(io_.upstream_msgs[0], 503, "Service Unavailable"));
  ASSERT_EQ(io_.to_switch_msgs.size(), 2u);
  sip::MessageWithHeaders<64> back;
  ASSERT_TRUE(back.parse(io_.to_switch_msgs[1]).ok());
  EXPECT_EQ(back.msg.status, 503);
  EXPECT_EQ(back.msg.via_count, 1);  // our Via removed
  EXPECT_EQ(back.msg.top_via.branch, "z9hG4bK-sw-1");
  EXPECT_EQ(back.msg.to.tag, "svc");
  // The relay ACKs the service's non-2xx final (RFC 3261 §17.1.1.3).
  ASSERT_EQ(io_.upstream_msgs.size(), 2u);
  EXPECT_EQ(io_.upstream_msgs[1].rfind("ACK ", 0), 0u);
  sip::MessageWithHeaders<64> ack;
  ASSERT_TRUE(ack.parse(io_.upstream_msgs[1]).ok());
  EXPECT_EQ(ack.msg.top_via.branch, up.msg.top_via.branch);
  EXPECT_EQ(ack.msg.to.tag, "svc");
  EXPECT_EQ(ack.msg.cseq.method, "ACK");
  EXPECT_EQ(counters_.finals_relayed.load(), 1u);
}

TEST_F(RelayEngineTest, RedirectWithIdentityIsRelayedAsIs) {
  make();
  from_switch(invite("call-302"));
  const std::string identity = "Identity: eyJhbGciOiJFUzI1NiJ9.eyJhdHRlc3QiOiJBIn0.c2ln;info=<https://cert.example.com/c.pem>;alg=ES256;ppt=shaken\r\n";
  const std::string contacts = "Contact: <sip:+12125551234@192.0.2.10:5060>;q=1.0\r\nContact: <sip:+12125551234@192.0.2.11:5060>;q=0.5\r\n";
  from_service(service_answer(io_.upstream_msgs[0], 302, "Moved Temporarily", contacts + identity));
  ASSERT_EQ(finals_to_switch(), 1);
  const auto& relayed = io_.to_switch_msgs.back();
  EXPECT_NE(relayed.find(identity), std::string::npos);
  EXPECT_NE(relayed.find(contacts), std::string::npos);
  EXPECT_EQ(counters_.service_finals[3].load(), 1u);
}

TEST_F(RelayEngineTest, RetransmissionsAreAbsorbedAndAnsweredWithTheLastResponse) {
  make();
  from_switch(invite("call-rtx"));
  from_switch(invite("call-rtx"));
  EXPECT_EQ(io_.upstream_msgs.size(), 1u) << "a retransmission never goes upstream twice";
  EXPECT_EQ(switch_statuses(), (std::vector<std::string>{"SIP/2.0 100 Trying", "SIP/2.0 100 Trying"}));
  from_service(service_answer(io_.upstream_msgs[0], 603, "Decline"));
  from_switch(invite("call-rtx"));
  EXPECT_EQ(status_line(io_.to_switch_msgs.back()), "SIP/2.0 603 Decline");
  EXPECT_EQ(io_.to_switch_msgs[2], io_.to_switch_msgs[3]) << "the same final, byte for byte";
  EXPECT_EQ(counters_.invite_retransmissions.load(), 2u);
}

TEST_F(RelayEngineTest, FinalIsRetransmittedOverUdpUntilAckThenTimerHGivesUp) {
  make();
  from_switch(invite("call-g"));
  from_service(service_answer(io_.upstream_msgs[0], 503, "Service Unavailable"));
  const auto finals_before = io_.to_switch_msgs.size();
  advance(Millis{500});  // Timer G = T1
  EXPECT_EQ(io_.to_switch_msgs.size(), finals_before + 1);
  advance(Millis{1000});  // 2*T1
  EXPECT_EQ(io_.to_switch_msgs.size(), finals_before + 2);
  advance(Millis{40000});  // Timer H = 64*T1
  EXPECT_EQ(counters_.timer_h_expired.load(), 1u);
  EXPECT_EQ(engine_->active_transactions(), 0u);
}

TEST_F(RelayEngineTest, AckStopsRetransmissionsAndTheSlotIsFreed) {
  make();
  from_switch(invite("call-ack"));
  from_service(service_answer(io_.upstream_msgs[0], 503, "Service Unavailable"));
  from_switch(same_txn("ACK", "call-ack", "svc"));
  EXPECT_EQ(counters_.acks_absorbed.load(), 1u);
  const auto sent = io_.to_switch_msgs.size();
  advance(Millis{10000});
  EXPECT_EQ(io_.to_switch_msgs.size(), sent) << "no retransmission after the ACK";
  EXPECT_EQ(engine_->active_transactions(), 0u);  // Timer I (T4) ended it
}

// RFC 3261 §17.2.1: Confirmed lasts Timer I (T4) from the ACK; an ACK
// retransmitted inside it is absorbed, one after it matches nothing.
TEST_F(RelayEngineTest, TimerIRunsFromTheAck) {
  make();
  from_switch(invite("call-i"));
  from_service(service_answer(io_.upstream_msgs[0], 503, "Service Unavailable"));
  advance(Millis{3000});  // two final retransmissions (T1, 2*T1) before the ACK comes
  from_switch(same_txn("ACK", "call-i", "svc"));
  advance(Millis{4900});  // T4 = 5 s after the ACK: not yet
  EXPECT_EQ(engine_->active_transactions(), 1u);
  from_switch(same_txn("ACK", "call-i", "svc"));
  EXPECT_EQ(counters_.acks_absorbed.load(), 2u);
  advance(Millis{200});
  EXPECT_EQ(engine_->active_transactions(), 0u);
  from_switch(same_txn("ACK", "call-i", "svc"));
  EXPECT_EQ(counters_.acks_unmatched.load(), 1u);
}

// Once ACKed, a transaction keeps only its slot: the stored request and
// final go back, so stores (the large part) never limit the call rate.
TEST_F(RelayEngineTest, AckReturnsTheStoreWhileTheSlotWaitsForTimerI) {
  EngineOptions opts;
  opts.max_transactions = 8;
  opts.max_stored = 1;
  make(opts);
  for (int i = 0; i < 4; ++i) {
    const std::string id = "call-s" + std::to_string(i);
    const std::string branch = "z9hG4bK-s" + std::to_string(i);
    from_switch(invite(id, "+12125551234", branch));
    ASSERT_EQ(counters_.invites_upstream.load(), static_cast<std::uint64_t>(i + 1)) << "INVITE " << i << " shed";
    from_service(service_answer(io_.upstream_msgs.back(), 503, "Service Unavailable"));
    from_switch(same_txn("ACK", id, "svc", branch));
  }
  EXPECT_EQ(counters_.local_503_overload.load(), 0u);
  EXPECT_EQ(engine_->active_transactions(), 4u);  // all in Confirmed, one store between them
}

TEST_F(RelayEngineTest, FailOpenWhenTheServiceIsSilent) {
  EngineOptions opts;
  opts.upstream_timeout = Millis{800};
  make(opts);
  from_switch(invite("call-silent"));
  advance(Millis{799});
  EXPECT_EQ(finals_to_switch(), 0);
  advance(Millis{1});
  ASSERT_EQ(finals_to_switch(), 1);
  EXPECT_EQ(status_line(io_.to_switch_msgs.back()), "SIP/2.0 503 Service Unavailable");
  EXPECT_EQ(counters_.local_503_timeout.load(), 1u);
  // The service wakes up late: its answer is absorbed, the switch sees one final.
  from_service(service_answer(io_.upstream_msgs[0], 302, "Moved Temporarily"));
  EXPECT_EQ(finals_to_switch(), 1);
}

TEST_F(RelayEngineTest, FailOpenAtOnceWhenNoUpstreamConnection) {
  make();
  io_.accept_upstream = false;
  from_switch(invite("call-down"));
  EXPECT_EQ(switch_statuses(), (std::vector<std::string>{"SIP/2.0 100 Trying", "SIP/2.0 503 Service Unavailable"}));
  EXPECT_EQ(counters_.local_503_no_upstream.load(), 1u);
}

TEST_F(RelayEngineTest, EmergencyNumbersNeverLeaveTheBox) {
  make();
  int n = 0;
  for (const std::string user : {"911", "+1911", "1-911", "933", "112", "%39%311"}) {
    SCOPED_TRACE(user);
    from_switch(invite("call-e" + std::to_string(n), user, "z9hG4bK-e" + std::to_string(n)));
    ++n;
    EXPECT_EQ(status_line(io_.to_switch_msgs.back()), "SIP/2.0 503 Service Unavailable");
  }
  // tel: form in the Request-URI.
  std::string tel = invite("call-tel", "911", "z9hG4bK-tel");
  tel.replace(0, tel.find(" SIP/2.0"), "INVITE tel:911;phone-context=+1");
  from_switch(tel);
  EXPECT_EQ(status_line(io_.to_switch_msgs.back()), "SIP/2.0 503 Service Unavailable");
  EXPECT_TRUE(io_.upstream_msgs.empty());
  EXPECT_EQ(counters_.local_503_emergency.load(), 7u);
  // Near misses do go upstream.
  from_switch(invite("call-9110", "9110", "z9hG4bK-n1"));
  from_switch(invite("call-411", "411", "z9hG4bK-n2"));
  EXPECT_EQ(io_.upstream_msgs.size(), 2u);
}

TEST_F(RelayEngineTest, OptionsReflectsUpstreamHealth) {
  make();
  const std::string options = "OPTIONS sip:relay@198.51.100.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.20;branch=z9hG4bK-o\r\n"
                              "From: <sip:switch@198.51.100.20>;tag=o1\r\nTo: <sip:relay@198.51.100.1>\r\n"
                              "Call-ID: opt-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
  from_switch(options);
  EXPECT_EQ(status_line(io_.to_switch_msgs.back()), "SIP/2.0 200 OK");
  io_.up = false;
  from_switch(options);
  EXPECT_EQ(status_line(io_.to_switch_msgs.back()), "SIP/2.0 503 Service Unavailable");
  io_.up = true;
  from_switch(options);
  EXPECT_EQ(status_line(io_.to_switch_msgs.back()), "SIP/2.0 200 OK");
  EXPECT_TRUE(io_.upstream_msgs.empty());
}

TEST_F(RelayEngineTest, MaxForwardsZeroGets483) {
  make();
  from_switch(invite("call-mf", "+12125551234", "z9hG4bK-mf", 0));
  EXPECT_EQ(switch_statuses(), std::vector<std::string>{"SIP/2.0 483 Too Many Hops"});
  EXPECT_TRUE(io_.upstream_msgs.empty());
}

TEST_F(RelayEngineTest, CancelGets200AndTheInvite487) {
  make();
  from_switch(invite("call-c"));
  from_switch(same_txn("CANCEL", "call-c"));
  const auto st = switch_statuses();
  ASSERT_EQ(st.size(), 3u);
  EXPECT_EQ(st[1], "SIP/2.0 200 OK");
  EXPECT_EQ(st[2], "SIP/2.0 487 Request Terminated");
  // The service's answer arriving afterwards is not relayed.
  from_service(service_answer(io_.upstream_msgs[0], 503, "Service Unavailable"));
  EXPECT_EQ(finals_to_switch(), 2);  // the CANCEL's 200 and the INVITE's 487
  from_switch(same_txn("ACK", "call-c", "x"));
  EXPECT_EQ(counters_.acks_absorbed.load(), 1u);
}

// The switch CANCELs and ACKs the 487 before the service sent anything:
// §9.1 holds the CANCEL until the service's first provisional, so the
// transaction must outlive the switch's ACK (over UDP, and over TCP where the
// server side ends at the ACK), send the CANCEL then, and ACK the 487.
TEST_F(RelayEngineTest, CancelWaitingForAProvisionalSurvivesTheSwitchAck) {
  for (const Transport t : {Transport::udp, Transport::tcp}) {
    make();
    io_.upstream_msgs.clear();
    const std::string id = t == Transport::udp ? "call-cu" : "call-ct";
    from_switch(invite(id), t);
    from_switch(same_txn("CANCEL", id), t);
    from_switch(same_txn("ACK", id, "x"), t);
    ASSERT_EQ(io_.upstream_msgs.size(), 1u) << "no CANCEL before a provisional";
    const std::string upstream_invite = io_.upstream_msgs[0];
    from_service(service_answer(upstream_invite, 100, "Trying"));
    ASSERT_EQ(io_.upstream_msgs.size(), 2u);
    EXPECT_EQ(io_.upstream_msgs[1].rfind("CANCEL ", 0), 0u) << io_.upstream_msgs[1];
    from_service(service_answer(upstream_invite, 487, "Request Terminated"));
    ASSERT_EQ(io_.upstream_msgs.size(), 3u);
    EXPECT_EQ(io_.upstream_msgs[2].rfind("ACK ", 0), 0u) << io_.upstream_msgs[2];
    advance(Millis{60000});
    EXPECT_EQ(engine_->active_transactions(), 0u);
  }
}

TEST_F(RelayEngineTest, CancelForUnknownTransactionGets481) {
  make();
  from_switch(same_txn("CANCEL", "nope"));
  EXPECT_EQ(switch_statuses(), std::vector<std::string>{"SIP/2.0 481 Call/Transaction Does Not Exist"});
}

TEST_F(RelayEngineTest, MalformedRequestsAreAnsweredOrDropped) {
  make();
  std::string bad = invite("call-bad");
  bad.replace(bad.find("CSeq: 101 INVITE"), 16, "CSeq: x INVITE");
  from_switch(bad);
  EXPECT_EQ(switch_statuses(), std::vector<std::string>{"SIP/2.0 400 Bad Request"});
  from_switch("garbage\r\n\r\n");
  EXPECT_EQ(io_.to_switch_msgs.size(), 1u);
  EXPECT_EQ(counters_.malformed_dropped.load(), 1u);
  EXPECT_TRUE(io_.upstream_msgs.empty());
}

TEST_F(RelayEngineTest, ForgedAndStaleBranchesMatchNothing) {
  make();
  from_switch(invite("call-f"));
  std::string answer = service_answer(io_.upstream_msgs[0], 302, "Moved Temporarily");
  std::string forged = answer;
  const auto pos = forged.find("z9hG4bK-sr1-");
  forged[pos + 20] = forged[pos + 20] == 'a' ? 'b' : 'a';  // one character of the slot field
  from_service(forged);
  EXPECT_EQ(counters_.responses_unmatched.load(), 1u);
  EXPECT_EQ(finals_to_switch(), 0);
  from_service(answer);
  from_switch(same_txn("ACK", "call-f", "svc"));
  advance(Millis{10000});
  ASSERT_EQ(engine_->active_transactions(), 0u);
  // The slot is reused by a new call; the old answer is stale now.
  from_switch(invite("call-f2", "+12125551234", "z9hG4bK-f2"));
  from_service(answer);
  EXPECT_EQ(counters_.responses_unmatched.load(), 2u);
}

TEST_F(RelayEngineTest, FullTableShedsWithQuick503) {
  EngineOptions opts;
  opts.max_transactions = 2;
  opts.max_stored = 2;
  make(opts);
  from_switch(invite("a", "+12125551234", "z9hG4bK-a"));
  from_switch(invite("b", "+12125551234", "z9hG4bK-b"));
  from_switch(invite("c", "+12125551234", "z9hG4bK-c"));
  EXPECT_EQ(status_line(io_.to_switch_msgs.back()), "SIP/2.0 503 Service Unavailable");
  EXPECT_EQ(counters_.local_503_overload.load(), 1u);
  EXPECT_EQ(io_.upstream_msgs.size(), 2u);
}

TEST_F(RelayEngineTest, ShutdownAnswersEveryPendingInvite) {
  make();
  from_switch(invite("s1", "+12125551234", "z9hG4bK-s1"));
  from_switch(invite("s2", "+12125551234", "z9hG4bK-s2"));
  engine_->shutdown(now_);
  EXPECT_EQ(finals_to_switch(), 2);
  EXPECT_EQ(counters_.local_503_shutdown.load(), 2u);
}

TEST_F(RelayEngineTest, StreamPeersGetNoRetransmissions) {
  make();
  from_switch(invite("call-tcp"), Transport::tcp);
  from_service(service_answer(io_.upstream_msgs[0], 503, "Service Unavailable"));
  const auto sent = io_.to_switch_msgs.size();
  advance(Millis{40000});
  EXPECT_EQ(io_.to_switch_msgs.size(), sent);
}

// The invariant carriers buy: whatever happens, each INVITE gets exactly one
// final response (retransmissions of that same final aside).
TEST_F(RelayEngineTest, ExactlyOneFinalPerInviteUnderRandomFaults) {
  EngineOptions opts;
  opts.upstream_timeout = Millis{300};
  make(opts);
  std::mt19937 rng(12345);
  const int calls = 400;
  std::vector<std::size_t> upstream_index(calls, SIZE_MAX);
  for (int i = 0; i < calls; ++i) {
    const std::string id = "rnd-" + std::to_string(i);
    const std::string branch = "z9hG4bK-r" + std::to_string(i);
    io_.accept_upstream = rng() % 10 != 0;
    const auto before = io_.upstream_msgs.size();
    from_switch(invite(id, rng() % 20 == 0 ? "911" : "+12125551234", branch));
    if (io_.upstream_msgs.size() > before) upstream_index[i] = before;
    if (rng() % 4 == 0) from_switch(invite(id, "+12125551234", branch));        // retransmission
    if (rng() % 8 == 0) from_switch(same_txn("CANCEL", id, "", branch));         // CANCEL
    if (upstream_index[i] != SIZE_MAX && rng() % 3 != 0) {
      advance(Millis{rng() % 400});
      const int codes[] = {503, 302, 603, 403, 404};
      from_service(service_answer(io_.upstream_msgs[upstream_index[i]], codes[rng() % 5], "X"));
    }
    if (rng() % 2 == 0) from_switch(same_txn("ACK", id, "svc", branch));
    advance(Millis{rng() % 50});
  }
  advance(Millis{60000});
  // Count distinct finals per Call-ID (identical bytes = retransmission).
  std::map<std::string, std::set<std::string>> finals;
  for (const auto& m : io_.to_switch_msgs) {
    sip::MessageWithHeaders<64> p;
    ASSERT_TRUE(p.parse(m).ok());
    if (p.msg.status >= 200 && p.msg.cseq.method == "INVITE") finals[std::string(p.msg.call_id)].insert(m);
  }
  for (int i = 0; i < calls; ++i) {
    const std::string id = "rnd-" + std::to_string(i);
    EXPECT_EQ(finals[id].size(), 1u) << id;
  }
  EXPECT_EQ(engine_->active_transactions(), 0u);
}

}  // namespace
}  // namespace sigrelay::dataplane

namespace sigrelay::dataplane {
namespace {

// Every INVITE leaves one call record saying what happened (sigrelayctl why).
TEST_F(RelayEngineTest, EachCallLeavesOneRecordWithItsDecision) {
  CallLog log(64);
  EngineOptions opts;
  opts.call_log = &log;
  opts.upstream_timeout = Millis{500};
  make(opts);
  from_switch(invite("rec-911", "911", "z9hG4bK-r1"));
  from_switch(invite("rec-603", "+12125550603", "z9hG4bK-r2"));
  from_service(service_answer(io_.upstream_msgs.back(), 603, "Decline"));
  from_switch(invite("rec-slow", "+12125550700", "z9hG4bK-r3"));
  advance(Millis{600});
  from_switch(invite("rec-603", "+12125550603", "z9hG4bK-r2"));  // a retransmission: no new record

  const auto e = log.find("rec-911");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].decision, Decision::local_emergency);
  EXPECT_EQ(e[0].final_code, 503);
  EXPECT_EQ(e[0].service_code, 0);
  const auto b = log.find("rec-603");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].decision, Decision::blocked);
  EXPECT_EQ(b[0].service_code, 603);
  EXPECT_STREQ(b[0].calling, "+13035550147");
  EXPECT_STREQ(b[0].called, "+12125550603");
  const auto t = log.find("2125550700");  // by number
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].decision, Decision::local_timeout);
  EXPECT_EQ(t[0].final_code, 503);
  EXPECT_EQ(log.written(), 3u);
}

}  // namespace
}  // namespace sigrelay::dataplane
