// sigrelay-blast: histogram percentiles against exact sorted values, the
// pacing arithmetic, the INVITE/ACK templates read back by the project's
// parser, option parsing, and one loopback run against a responder that
// answers like a relay (RFC 3261 §17.2.1: 100 Trying, then a final).

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "bench/blast/blast.hpp"
#include "bench/blast/call_table.hpp"
#include "bench/blast/histogram.hpp"
#include "bench/blast/message_templates.hpp"
#include "bench/blast/options.hpp"
#include "bench/blast/pacing.hpp"
#include "bench/blast/report.hpp"
#include "sip/message.hpp"

namespace sigrelay::blast {
namespace {

// ---------------------------------------------------------------- histogram

// Nearest-rank percentile (the ceil(p/100 * n)-th smallest) from sorted data.
std::uint64_t exact_percentile(const std::vector<std::uint64_t>& sorted, double p) {
  std::size_t rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size()) - 1e-9));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  std::vector<std::uint64_t> v;
  for (std::uint64_t i = 0; i < 64; ++i) {
    for (std::uint64_t k = 0; k <= i % 3; ++k) {
      h.record(i);
      v.push_back(i);
    }
  }
  std::sort(v.begin(), v.end());
  for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 100.0}) {
    EXPECT_EQ(h.percentile(p), exact_percentile(v, p)) << p;
  }
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 63u);
  EXPECT_EQ(h.count(), v.size());
}

TEST(LatencyHistogram, BucketsTileTheRangeWithBoundedWidth) {
  for (std::size_t i = 0; i + 1 < LatencyHistogram::kBucketCount; ++i) {
    ASSERT_EQ(LatencyHistogram::index_of(LatencyHistogram::lowest_in(i)), i);
    ASSERT_EQ(LatencyHistogram::index_of(LatencyHistogram::highest_in(i)), i);
    ASSERT_EQ(LatencyHistogram::highest_in(i) + 1, LatencyHistogram::lowest_in(i + 1));
    // A bucket is at most 1/32 of its lowest value wide (exact below 64).
    const std::uint64_t width = LatencyHistogram::highest_in(i) - LatencyHistogram::lowest_in(i) + 1;
    if (i >= 64) {
      ASSERT_LE(width * 32, LatencyHistogram::lowest_in(i)) << i;
    }
  }
  EXPECT_EQ(LatencyHistogram::highest_in(LatencyHistogram::kBucketCount - 1), UINT64_MAX);
  EXPECT_EQ(LatencyHistogram::index_of(UINT64_MAX), LatencyHistogram::kBucketCount - 1);
}

TEST(LatencyHistogram, PercentilesWithinOneSubBucketOfExact) {
  std::mt19937_64 rng(12345);
  // Latency-like: mostly around 100 us, a tail into tens of milliseconds.
  std::lognormal_distribution<double> dist(4.6, 1.1);
  LatencyHistogram a, b;
  std::vector<std::uint64_t> v;
  for (int i = 0; i < 100000; ++i) {
    const auto x = static_cast<std::uint64_t>(dist(rng));
    v.push_back(x);
    (i % 2 ? a : b).record(x);
  }
  a.merge(b);
  std::sort(v.begin(), v.end());
  ASSERT_EQ(a.count(), v.size());
  EXPECT_EQ(a.max(), v.back());
  EXPECT_EQ(a.min(), v.front());
  for (double p : {50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    const std::uint64_t exact = exact_percentile(v, p);
    const std::uint64_t got = a.percentile(p);
    EXPECT_GE(got, exact) << p;
    EXPECT_LE(got, exact + exact / 32) << p;
  }
  EXPECT_EQ(a.percentile(100), v.back());
}

TEST(LatencyHistogram, RankRoundsUpAndEmptyIsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.percentile(50), 0u);
  LatencyHistogram g;
  for (std::uint64_t i = 1; i <= 10; ++i) g.record(i);
  EXPECT_EQ(g.percentile(50), 5u);   // rank 5 of 10
  EXPECT_EQ(g.percentile(51), 6u);   // rank ceil(5.1) = 6
  EXPECT_EQ(g.percentile(90), 9u);
  EXPECT_EQ(g.percentile(99.9), 10u);
}

// ---------------------------------------------------------------- pacing

TEST(Schedule, DueTimesAreEvenlySpacedFromT0) {
  Schedule s(1000, 10, 0, 1);
  EXPECT_EQ(s.calls(), 10u);
  EXPECT_EQ(s.window_ns(), 10'000'000u);
  for (std::uint64_t j = 0; j < 10; ++j) {
    EXPECT_EQ(s.due_ns(j), j * 1'000'000);
  }
  EXPECT_EQ(s.due_count(0), 1u);
  EXPECT_EQ(s.due_count(999'999), 1u);
  EXPECT_EQ(s.due_count(1'000'000), 2u);
  // A loop that wakes 5.5 ms in sends the 6 calls due by then at once.
  EXPECT_EQ(s.due_count(5'500'000), 6u);
  EXPECT_EQ(s.due_count(1'000'000'000), 10u);  // never more than the run holds
}

TEST(Schedule, ThreadsInterleaveIntoOneStream) {
  const std::uint64_t rate = 7, calls = 23;
  const unsigned threads = 3;
  std::vector<std::uint64_t> all;
  std::uint64_t total = 0;
  for (unsigned t = 0; t < threads; ++t) {
    Schedule s(rate, calls, t, threads);
    total += s.calls();
    for (std::uint64_t j = 0; j < s.calls(); ++j) all.push_back(s.due_ns(j));
  }
  EXPECT_EQ(total, calls);
  std::sort(all.begin(), all.end());
  // The union is exactly call k at floor(k * 1e9 / 7) ns.
  for (std::uint64_t k = 0; k < calls; ++k) {
    EXPECT_EQ(all[k], k * 1'000'000'000 / rate) << k;
  }
  EXPECT_EQ(Schedule(rate, calls, 0, threads).calls(), 8u);
  EXPECT_EQ(Schedule(rate, calls, 2, threads).calls(), 7u);
}

TEST(Schedule, DueCountAgreesWithDueTimes) {
  for (std::uint64_t rate : {1ULL, 3ULL, 7ULL, 1000ULL, 300'000ULL, 999'999'937ULL}) {
    for (unsigned threads : {1u, 2u, 5u}) {
      for (unsigned t = 0; t < threads; ++t) {
        Schedule s(rate, 50, t, threads);
        for (std::uint64_t j = 0; j < s.calls(); ++j) {
          ASSERT_EQ(s.due_count(s.due_ns(j)), j + 1) << rate << " " << threads << " " << t << " " << j;
          if (s.due_ns(j) > 0) {
            ASSERT_EQ(s.due_count(s.due_ns(j) - 1), j);
          }
        }
      }
    }
  }
}

TEST(Schedule, NoOverflowOnLongFastRuns) {
  // 10^8 calls/s for 10^5 s: 10^13 calls, due times near 10^14 ns.
  const std::uint64_t rate = 100'000'000, calls = 10'000'000'000'000ULL;
  Schedule s(rate, calls, 0, 1);
  EXPECT_EQ(s.window_ns(), 100'000ULL * 1'000'000'000ULL);
  EXPECT_EQ(s.due_ns(calls - 1), (calls - 1) * 10);
  EXPECT_EQ(s.due_count(s.window_ns()), calls);
  EXPECT_EQ(events_to_ns(3, 7), 428'571'428u);
}

// ---------------------------------------------------------------- call table

TEST(CallTable, FirstFinalCountsOnceAndRetransmissionsAreRepeats) {
  CallTable t(4);
  std::uint64_t lat = 0;
  EXPECT_EQ(t.on_final(1, 503, 5'000'000, lat), FinalKind::not_sent);  // never sent
  EXPECT_EQ(t.on_final(9, 503, 5'000'000, lat), FinalKind::not_sent);  // beyond the table
  t.mark_sent(1, 1'000'000);
  EXPECT_EQ(t.on_final(1, 503, 1'250'999, lat), FinalKind::first);
  EXPECT_EQ(lat, 250u);
  lat = 77;
  EXPECT_EQ(t.on_final(1, 503, 9'000'000, lat), FinalKind::repeat);
  EXPECT_EQ(lat, 77u);
  EXPECT_EQ(t.slot(1).final_status, 503);
  EXPECT_EQ(t.slot(1).finals_seen, 2);
  t.mark_sent(2, 1'000'000);
  EXPECT_EQ(t.on_final(2, 302, 900'000, lat), FinalKind::first);  // clock stepped back
  EXPECT_EQ(lat, 0u);
}

// ---------------------------------------------------------------- templates

TemplateParams params(bool v6 = false) {
  TemplateParams p;
  p.number = "13125550100";
  p.local_host = v6 ? "[::1]" : "127.0.0.1";
  p.local_port = 40123;
  p.target_host = v6 ? "[::1]" : "127.0.0.2";
  p.target_port = 5060;
  p.ipv6 = v6;
  p.run_id = 0x1234abcd;
  p.thread = 3;
  return p;
}

std::string stamped(const InviteTemplate& t, std::uint64_t seq) {
  std::string s(t.bytes());
  t.stamp(s.data(), seq);
  return s;
}

sip::ParseOptions full_datagram() {
  sip::ParseOptions o;
  o.datagram = true;
  o.depth = sip::ParseDepth::full;
  return o;
}

TEST(InviteTemplate, ParsesBackAsTheInviteOfItsCall) {
  for (bool v6 : {false, true}) {
    InviteTemplate t;
    ASSERT_EQ(t.build(params(v6)), "");
    const std::string a = stamped(t, 0x2a), b = stamped(t, 0xfffffffe);
    EXPECT_EQ(a.size(), b.size());
    EXPECT_GT(a.size(), 800u);
    sip::MessageWithHeaders<64> m;
    ASSERT_TRUE(m.parse(a, full_datagram())) << a;
    EXPECT_TRUE(m.msg.is_request);
    EXPECT_EQ(m.msg.method_id, sip::Method::invite);
    EXPECT_EQ(m.msg.request_uri.user, "13125550100");
    EXPECT_EQ(m.msg.request_uri.host, v6 ? "[::1]" : "127.0.0.2");
    EXPECT_EQ(m.msg.request_uri.port, 5060);
    EXPECT_EQ(sip::find_param(m.msg.request_uri.params, "user"), std::optional<std::string_view>("phone"));
    EXPECT_TRUE(m.msg.has_content_length);
    EXPECT_EQ(m.msg.content_length, m.msg.body.size());
    EXPECT_EQ(m.msg.body.size(), t.body_size());
    EXPECT_TRUE(m.msg.body.starts_with("v=0\r\n"));
    EXPECT_EQ(m.msg.cseq.number, 1u);
    EXPECT_EQ(m.msg.cseq.method_id, sip::Method::invite);
    EXPECT_EQ(m.msg.max_forwards, 70);
    EXPECT_TRUE(m.msg.top_via.branch.starts_with("z9hG4bK"));  // RFC 3261 §8.1.1.7
    EXPECT_EQ(m.msg.top_via.port, 40123);
    EXPECT_TRUE(m.msg.from.has_tag);
    EXPECT_FALSE(m.msg.to.has_tag);
    const sip::Header* ct = m.msg.find(sip::HeaderId::content_type);
    ASSERT_NE(ct, nullptr);
    EXPECT_EQ(ct->value, "application/sdp");
    ASSERT_NE(m.msg.find(sip::HeaderId::contact), nullptr);
    std::uint64_t seq = 0;
    EXPECT_EQ(decode_call_id(m.msg.call_id, 0x1234abcd, 3, seq), CallIdMatch::ours);
    EXPECT_EQ(seq, 0x2au);

    // Per-call fields differ between calls.
    sip::MessageWithHeaders<64> n;
    ASSERT_TRUE(n.parse(b, full_datagram()));
    EXPECT_NE(n.msg.call_id, m.msg.call_id);
    EXPECT_NE(n.msg.top_via.branch, m.msg.top_via.branch);
    EXPECT_NE(n.msg.from.tag, m.msg.from.tag);
    EXPECT_EQ(decode_call_id(n.msg.call_id, 0x1234abcd, 3, seq), CallIdMatch::ours);
    EXPECT_EQ(seq, 0xfffffffeu);
  }
}

TEST(InviteTemplate, BodyPaddingAddsExactlyThatManyBytes) {
  InviteTemplate base;
  ASSERT_EQ(base.build(params()), "");
  for (std::size_t pad : {10u, 11u, 80u, 89u, 90u, 91u, 171u, 1000u, 20000u}) {
    TemplateParams p = params();
    p.body_pad = pad;
    InviteTemplate t;
    ASSERT_EQ(t.build(p), "");
    EXPECT_EQ(t.body_size(), base.body_size() + pad);
    sip::MessageWithHeaders<64> m;
    const std::string s = stamped(t, 7);
    ASSERT_TRUE(m.parse(s, full_datagram())) << pad;
    EXPECT_EQ(m.msg.content_length, t.body_size());
    EXPECT_EQ(m.msg.body.size(), t.body_size());
  }
  TemplateParams p = params();
  p.body_pad = 9;
  EXPECT_NE(InviteTemplate().build(p), "");
  p = params();
  p.number = "1312 555";
  EXPECT_NE(InviteTemplate().build(p), "");
}

TEST(CallId, OtherRunsAndThreadsAreTold) {
  std::uint64_t seq = 0;
  EXPECT_EQ(decode_call_id("1234abcd-03-0000002a@h", 0x1234abcd, 3, seq), CallIdMatch::ours);
  EXPECT_EQ(decode_call_id("1234abcd-04-0000002a@h", 0x1234abcd, 3, seq), CallIdMatch::other_thread);
  EXPECT_EQ(decode_call_id("1234abce-03-0000002a@h", 0x1234abcd, 3, seq), CallIdMatch::foreign);
  EXPECT_EQ(decode_call_id("1234abcd-03-0000002a", 0x1234abcd, 3, seq), CallIdMatch::foreign);
  EXPECT_EQ(decode_call_id("1234abcd-03-0000002A@h", 0x1234abcd, 3, seq), CallIdMatch::foreign);
  EXPECT_EQ(decode_call_id("a84b4c76e66710@pc33.atlanta.com", 0x1234abcd, 3, seq), CallIdMatch::foreign);
}

const std::string kTo503 = "<sip:13125550100@127.0.0.2:5060;user=phone>;tag=svc-77";

TEST(AckTemplate, NonTwoHundredAckFollowsRfc3261_17_1_1_3) {
  InviteTemplate it;
  AckTemplate at;
  ASSERT_EQ(it.build(params()), "");
  ASSERT_EQ(at.build(params()), "");
  const std::string invite = stamped(it, 0x51);
  sip::MessageWithHeaders<64> inv;
  ASSERT_TRUE(inv.parse(invite, full_datagram()));
  char buf[4096];
  const std::size_t n = at.write(0x51, kTo503, false, {}, buf);
  ASSERT_GT(n, 0u);
  sip::MessageWithHeaders<64> ack;
  ASSERT_TRUE(ack.parse({buf, n}, full_datagram())) << std::string(buf, n);
  EXPECT_EQ(ack.msg.method_id, sip::Method::ack);
  EXPECT_EQ(ack.msg.request_uri_text, inv.msg.request_uri_text);
  EXPECT_EQ(ack.msg.via_count, 1);
  EXPECT_EQ(ack.msg.top_via.text, inv.msg.top_via.text);  // same branch, same sent-by
  EXPECT_EQ(ack.msg.call_id, inv.msg.call_id);
  EXPECT_EQ(ack.msg.find(sip::HeaderId::from)->value, inv.msg.find(sip::HeaderId::from)->value);
  EXPECT_EQ(ack.msg.find(sip::HeaderId::to)->value, kTo503);
  EXPECT_EQ(ack.msg.to.tag, "svc-77");
  EXPECT_EQ(ack.msg.cseq.number, 1u);
  EXPECT_EQ(ack.msg.cseq.method_id, sip::Method::ack);
  EXPECT_EQ(ack.msg.max_forwards, 70);
  EXPECT_TRUE(ack.msg.has_content_length);
  EXPECT_EQ(ack.msg.content_length, 0u);
  EXPECT_EQ(at.write(0x51, kTo503, false, {}, {buf, 100}), 0u);  // does not fit: nothing written
}

TEST(AckTemplate, TwoHundredAckIsANewTransactionToTheContact) {
  InviteTemplate it;
  AckTemplate at;
  ASSERT_EQ(it.build(params()), "");
  ASSERT_EQ(at.build(params()), "");
  sip::MessageWithHeaders<64> inv;
  const std::string invite = stamped(it, 9);
  ASSERT_TRUE(inv.parse(invite, full_datagram()));
  char buf[4096];
  const std::size_t n = at.write(9, kTo503, true, "sip:callee@192.0.2.9:5070", buf);
  sip::MessageWithHeaders<64> ack;
  ASSERT_TRUE(ack.parse({buf, n}, full_datagram())) << std::string(buf, n);
  EXPECT_EQ(ack.msg.request_uri_text, "sip:callee@192.0.2.9:5070");
  EXPECT_TRUE(ack.msg.top_via.branch.starts_with("z9hG4bK"));
  EXPECT_NE(ack.msg.top_via.branch, inv.msg.top_via.branch);
  EXPECT_EQ(ack.msg.call_id, inv.msg.call_id);
  EXPECT_EQ(ack.msg.from.tag, inv.msg.from.tag);
  EXPECT_EQ(ack.msg.cseq.method_id, sip::Method::ack);
  // Without a Contact the INVITE's Request-URI stays.
  const std::size_t m = at.write(9, kTo503, true, {}, buf);
  ASSERT_TRUE(ack.parse({buf, m}, full_datagram()));
  EXPECT_EQ(ack.msg.request_uri_text, inv.msg.request_uri_text);
}

// ---------------------------------------------------------------- options

ParseOutcome parse(std::vector<const char*> args, Options& o, std::string& msg) {
  args.insert(args.begin(), "sigrelay-blast");
  return parse_options(static_cast<int>(args.size()), args.data(), o, msg);
}

TEST(Options, DurationOrCallsAndValues) {
  Options o;
  std::string msg;
  ASSERT_EQ(parse({"--target", "127.0.0.1:5060", "--rate=2000", "--duration", "2.5", "--threads", "2"}, o, msg),
            ParseOutcome::run) << msg;
  EXPECT_EQ(o.total_calls(), 5000u);
  EXPECT_EQ(o.threads, 2u);
  EXPECT_EQ(o.drain_ms, 2000u);
  EXPECT_EQ(o.late_ms, 500u);
  Options c;
  EXPECT_EQ(parse({"--target", "127.0.0.1:5060", "--calls", "7"}, c, msg), ParseOutcome::run);
  EXPECT_EQ(c.total_calls(), 7u);
  // Each case from fresh defaults.
  auto outcome = [&msg](std::vector<const char*> args) {
    Options e;
    return parse(std::move(args), e, msg);
  };
  EXPECT_EQ(outcome({"--target", "127.0.0.1:5060"}), ParseOutcome::error);
  EXPECT_EQ(outcome({"--target", "127.0.0.1:5060", "--calls", "1", "--duration", "1"}), ParseOutcome::error);
  EXPECT_EQ(outcome({"--calls", "1"}), ParseOutcome::error);
  EXPECT_EQ(outcome({"--target", "x:1", "--calls", "1", "--rate", "0"}), ParseOutcome::error);
  EXPECT_EQ(outcome({"--target", "x:1", "--calls", "1", "--bogus"}), ParseOutcome::error);
  EXPECT_EQ(outcome({"--target", "x:1", "--duration", "1.2345"}), ParseOutcome::error);
  EXPECT_EQ(outcome({"--target", "x:1", "--rate", "10", "--duration", "0.05"}), ParseOutcome::error);  // no calls
  EXPECT_EQ(outcome({"--target", "x:1", "--calls"}), ParseOutcome::error);
  EXPECT_EQ(outcome({"--help"}), ParseOutcome::help);
}

// ---------------------------------------------------------------- end to end

// A UDP peer that answers every INVITE as a relay does: 100 Trying, then
// 503 (or 200 with a Contact for every seventh call), mirroring Via, From,
// Call-ID and CSeq and adding a To tag (RFC 3261 §8.2.6). Some 503s are
// sent twice, the second copy ahead of the next call's answers so the
// generator is sure to see it before its last final. Collects the ACKs.
class Responder {
 public:
  static constexpr const char* kContact = "sip:callee@127.0.0.1:5099";

  Responder() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    const int big = 8 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~Responder() { close(fd_); }
  std::uint16_t port() const { return port_; }

  struct Call {
    std::string branch, ruri, from;
    int status = 0;
    int acks = 0;
    bool ack_ok = true;
  };
  std::map<std::string, Call> calls;  // by Call-ID
  int dups_sent = 0;
  int acks = 0;
  int stray = 0;

  // Runs until `expected_acks` ACKs arrived or 20 s passed.
  void serve(int expected_acks, unsigned per_thread_calls) {
    timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    char buf[65536];
    while (acks < expected_acks) {
      timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (now.tv_sec - start.tv_sec > 20) break;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      sockaddr_storage from{};
      socklen_t flen = sizeof from;
      const ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
      if (n <= 0) continue;
      sip::MessageWithHeaders<64> m;
      if (!m.parse({buf, static_cast<std::size_t>(n)}, full_datagram()) || !m.msg.is_request) {
        ++stray;
        continue;
      }
      if (m.msg.method_id == sip::Method::invite) answer(m.msg, from, flen, per_thread_calls);
      else if (m.msg.method_id == sip::Method::ack) check_ack(m.msg);
      else ++stray;
    }
  }

 private:
  void send_to(const std::string& s, const sockaddr_storage& to, socklen_t len) {
    sendto(fd_, s.data(), s.size(), 0, reinterpret_cast<const sockaddr*>(&to), len);
  }

  std::string response(const sip::Message& req, int code, const char* reason, bool tag) {
    std::string r = "SIP/2.0 " + std::to_string(code) + " " + reason + "\r\n";
    for (const sip::Header& h : req.headers) {
      if (h.id == sip::HeaderId::via || h.id == sip::HeaderId::from || h.id == sip::HeaderId::call_id ||
          h.id == sip::HeaderId::cseq) {
        r += h.line;
      } else if (h.id == sip::HeaderId::to) {
        r += "To: " + std::string(h.value) + (tag ? ";tag=resp-1" : "") + "\r\n";
      }
    }
    if (code == 200) r += "Contact: <" + std::string(kContact) + ">\r\n";
    return r + "Content-Length: 0\r\n\r\n";
  }

  void answer(const sip::Message& req, const sockaddr_storage& from, socklen_t flen, unsigned per_thread_calls) {
    for (const std::string& d : pending_dups_) send_to(d, pending_to_, pending_len_);
    pending_dups_.clear();
    Call& c = calls[std::string(req.call_id)];
    c.branch = std::string(req.top_via.branch);
    c.ruri = std::string(req.request_uri_text);
    c.from = std::string(req.find(sip::HeaderId::from)->value);
    // The sequence number is the hex after the second '-' of the Call-ID.
    const unsigned seq = static_cast<unsigned>(std::stoul(std::string(req.call_id.substr(12, 8)), nullptr, 16));
    send_to(response(req, 100, "Trying", false), from, flen);
    c.status = seq % 7 == 5 ? 200 : 503;
    const std::string final_response =
        c.status == 200 ? response(req, 200, "OK", true) : response(req, 503, "Service Unavailable", true);
    send_to(final_response, from, flen);
    if (c.status == 503 && seq % 10 == 3 && seq + 1 < per_thread_calls) {
      pending_dups_.push_back(final_response);
      pending_to_ = from;
      pending_len_ = flen;
      ++dups_sent;
    }
  }

  void check_ack(const sip::Message& ack) {
    ++acks;
    auto it = calls.find(std::string(ack.call_id));
    if (it == calls.end()) {
      ++stray;
      return;
    }
    Call& c = it->second;
    ++c.acks;
    bool ok = ack.cseq.number == 1 && ack.cseq.method_id == sip::Method::ack && ack.via_count == 1 &&
              ack.to.tag == "resp-1" && std::string(ack.find(sip::HeaderId::from)->value) == c.from;
    if (c.status == 200) ok = ok && ack.top_via.branch != c.branch && ack.request_uri_text == kContact;
    else ok = ok && ack.top_via.branch == c.branch && ack.request_uri_text == c.ruri;
    c.ack_ok = c.ack_ok && ok;
  }

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::vector<std::string> pending_dups_;
  sockaddr_storage pending_to_{};
  socklen_t pending_len_ = 0;
};

TEST(BlastEndToEnd, CountsEveryFinalAndAcksEachOne) {
  constexpr unsigned kThreads = 2, kCalls = 400, kPerThread = kCalls / kThreads;
  // Which calls the responder treats specially, from the per-thread sequence number.
  unsigned ok_calls = 0, dup_calls = 0;
  for (unsigned seq = 0; seq < kPerThread; ++seq) {
    if (seq % 7 == 5) ++ok_calls;
    else if (seq % 10 == 3 && seq + 1 < kPerThread) ++dup_calls;
  }
  ok_calls *= kThreads;
  dup_calls *= kThreads;

  Responder responder;
  std::thread peer([&] { responder.serve(static_cast<int>(kCalls + dup_calls), kPerThread); });

  Options o;
  o.target = "127.0.0.1:" + std::to_string(responder.port());
  o.local = "127.0.0.1";
  o.rate = 4000;
  o.calls = kCalls;
  o.threads = kThreads;
  o.drain_ms = 15000;  // a bound, not an expectation: the run ends once every call is answered
  o.late_ms = 60000;
  RunResult r;
  std::string error;
  const bool ran = run_blast(o, r, error);
  peer.join();
  ASSERT_TRUE(ran) << error;

  const ThreadCounters& t = r.totals;
  EXPECT_EQ(r.calls_scheduled, kCalls);
  EXPECT_EQ(t.sent, kCalls);
  EXPECT_EQ(t.answered, kCalls);
  EXPECT_EQ(t.sent - t.answered, 0u);  // lost
  EXPECT_EQ(t.provisionals, kCalls);
  EXPECT_EQ(t.by_status[100 - 100], kCalls);
  EXPECT_EQ(t.by_status[503 - 100], kCalls - ok_calls);
  EXPECT_EQ(t.by_status[200 - 100], ok_calls);
  EXPECT_EQ(t.final_repeats, dup_calls);
  EXPECT_EQ(t.acks_sent, kCalls + dup_calls);
  EXPECT_EQ(t.ack_failures, 0u);
  EXPECT_EQ(t.latency_us.count(), kCalls);
  EXPECT_EQ(t.late, 0u);
  EXPECT_EQ(t.parse_errors + t.foreign + t.wrong_thread + t.unknown_call + t.not_invite, 0u);

  EXPECT_EQ(responder.calls.size(), kCalls);
  EXPECT_EQ(responder.dups_sent, static_cast<int>(dup_calls));
  EXPECT_EQ(responder.acks, static_cast<int>(kCalls + dup_calls));
  EXPECT_EQ(responder.stray, 0);
  for (const auto& [id, c] : responder.calls) {
    EXPECT_TRUE(c.ack_ok) << id;
    EXPECT_GE(c.acks, 1) << id;
  }

  const std::string json = to_json(r);
  EXPECT_NE(json.find("\"answered\": 400"), std::string::npos) << json;
  EXPECT_NE(json.find("\"lost\": 0"), std::string::npos);
  EXPECT_NE(json.find("\"503\": " + std::to_string(kCalls - ok_calls)), std::string::npos);
}

}  // namespace
}  // namespace sigrelay::blast
