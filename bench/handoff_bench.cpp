// Issue 7: what a message costs to cross between threads (the SpscRing on
// rte_ring that Mailboxes uses), and what one call costs in the relay
// engine's transaction table (slot allocation, index insert, branch decode,
// index lookup). docs/benchmarks.md records the figures and the command.
//
// The engine is driven through its public API with a RelayIo that only
// counts, so the figures are the engine's own work plus the message
// building it does (100 Trying, the Via prepend, the relayed final, the ACK
// toward the service); parsing is done before timing, as the sip worker does
// it before calling the engine.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <rte_pause.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "dataplane/relay_engine.hpp"
#include "dataplane/spsc_ring.hpp"
#include "sip/branch_codec.hpp"
#include "sip/message.hpp"
#include "tls/keyed_hash.hpp"

namespace {

using namespace sigrelay;
using dataplane::SpscRing;

struct Item {
  std::uint64_t seq;
};

constexpr std::uint32_t kRingCapacity = 1024;
constexpr unsigned kBurst = 32;

SpscRing<Item> make_ring(benchmark::State& state) {
  SpscRing<Item> ring;
  if (const auto e = SpscRing<Item>::create(kRingCapacity, ring, "bench_ring"); e != dataplane::RingError::ok) {
    state.SkipWithError("ring creation failed");
  }
  return ring;
}

// (a) One thread, one pointer in and out: the instructions of a hand-off
// with the ring's cache lines already local.
void BM_RingPushPopOne(benchmark::State& state) {
  auto ring = make_ring(state);
  if (!ring.valid()) return;
  Item item{1};
  Item* in = &item;
  Item* out = nullptr;
  for (auto _ : state) {
    const unsigned pushed = ring.enqueue_burst(std::span(&in, 1));
    const unsigned popped = ring.dequeue_burst(std::span(&out, 1));
    benchmark::DoNotOptimize(pushed);
    benchmark::DoNotOptimize(popped);
    benchmark::DoNotOptimize(out);
  }
  if (out != in) state.SkipWithError("ring returned the wrong pointer");
  state.SetItemsProcessed(state.iterations());
}

// The same in bursts of 32, as the workers use the ring; items/s counts pointers.
void BM_RingPushPopBurst32(benchmark::State& state) {
  auto ring = make_ring(state);
  if (!ring.valid()) return;
  Item items[kBurst];
  Item* in[kBurst];
  Item* out[kBurst] = {};
  for (unsigned i = 0; i < kBurst; ++i) {
    items[i].seq = i;
    in[i] = &items[i];
  }
  for (auto _ : state) {
    const unsigned pushed = ring.enqueue_burst(in);
    const unsigned popped = ring.dequeue_burst(out);
    benchmark::DoNotOptimize(pushed);
    benchmark::DoNotOptimize(popped);
    benchmark::DoNotOptimize(out);
  }
  if (out[kBurst - 1] != in[kBurst - 1]) state.SkipWithError("ring returned the wrong pointer");
  state.SetItemsProcessed(state.iterations() * kBurst);
}

// (b) Two threads: a producer pushes kMessages pointers in bursts of 32, the
// benchmark thread pops them in bursts and checks their order. The producer
// is started before the clock and released by a flag, so thread creation and
// join are outside the measured time (manual timing). Every wait is bounded:
// a thread that stops making progress ends the run with an error instead of
// hanging it.
constexpr std::uint64_t kMessages = 1U << 16;
constexpr std::uint64_t kMaxIdlePolls = 1ULL << 32;

void BM_RingTwoThreads(benchmark::State& state) {
  auto ring = make_ring(state);
  if (!ring.valid()) return;
  std::vector<Item> items(kMessages);
  for (std::uint64_t i = 0; i < kMessages; ++i) items[i].seq = i;

  for (auto _ : state) {
    std::atomic<bool> go{false};
    std::atomic<bool> producer_stuck{false};
    std::thread producer([&] {
      std::uint64_t idle = 0;
      while (!go.load(std::memory_order_acquire) && idle < kMaxIdlePolls) {
        rte_pause();
        ++idle;
      }
      std::uint64_t sent = 0;
      Item* burst[kBurst];
      while (sent < kMessages && idle < kMaxIdlePolls) {
        const unsigned n = static_cast<unsigned>(std::min<std::uint64_t>(kBurst, kMessages - sent));
        for (unsigned i = 0; i < n; ++i) burst[i] = &items[sent + i];
        unsigned done = 0;
        while (done < n && idle < kMaxIdlePolls) {
          const unsigned k = ring.enqueue_burst(std::span<Item* const>(burst + done, n - done));
          if (k == 0) {
            rte_pause();
            ++idle;
          }
          done += k;
        }
        sent += done;
      }
      if (sent != kMessages) producer_stuck.store(true, std::memory_order_relaxed);
    });

    const auto start = std::chrono::steady_clock::now();
    go.store(true, std::memory_order_release);
    std::uint64_t received = 0;
    std::uint64_t idle = 0;
    bool in_order = true;
    Item* out[kBurst];
    while (received < kMessages && idle < kMaxIdlePolls) {
      const unsigned k = ring.dequeue_burst(out);
      if (k == 0) {
        rte_pause();
        ++idle;
        continue;
      }
      for (unsigned i = 0; i < k; ++i) in_order &= out[i]->seq == received + i;
      received += k;
    }
    const auto stop = std::chrono::steady_clock::now();
    producer.join();
    state.SetIterationTime(std::chrono::duration<double>(stop - start).count());
    if (received != kMessages || producer_stuck.load(std::memory_order_relaxed)) {
      state.SkipWithError("a ring thread stopped making progress");
      break;
    }
    if (!in_order) {
      state.SkipWithError("messages arrived out of order");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kMessages));
}

// --- The engine's transaction path -----------------------------------------

// Counts what the engine sends and keeps the branch of the last INVITE it
// forwarded, which the service's answer must carry back (the branch names
// the slot and its generation, so it cannot be known in advance).
struct CountingIo final : dataplane::RelayIo {
  std::uint64_t to_switch_count = 0;
  std::uint64_t upstream_count = 0;
  char last_branch[sip::kBranchLength] = {};
  bool branch_seen = false;

  void to_switch(const dataplane::SwitchPeer&, std::span<const sip::Segment>) override { ++to_switch_count; }
  bool to_upstream(std::uint64_t, std::span<const sip::Segment> msg) override {
    ++upstream_count;
    // Our Via is the second segment (start line, then the prepended Via):
    // a short search, not a scan of the message.
    branch_seen = false;
    for (std::size_t i = 0; i < msg.size() && i < 3; ++i) {
      const std::string_view seg(msg[i].data, msg[i].len);
      const std::size_t at = seg.find(sip::kBranchPrefix);
      if (at != std::string_view::npos && seg.size() - at >= sip::kBranchLength) {
        std::memcpy(last_branch, seg.data() + at, sip::kBranchLength);
        branch_seen = true;
        break;
      }
    }
    return true;
  }
  bool upstream_up() const override { return true; }
  bool to_destination(const dataplane::SwitchPeer&, std::uint64_t, std::span<const sip::Segment>) override {
    return true;
  }
};

constexpr std::size_t kCalls = 4096;  // distinct Call-IDs and switch branches in flight per lap
using Parsed = sip::MessageWithHeaders<32>;

// Fixed-width ids, so every message of a kind has the same length and the
// service's answer can be made from one template by overwriting in place.
std::string call_id(std::size_t i) {
  char b[32];
  std::snprintf(b, sizeof b, "bench-%06zu@198.51.100.20", i);
  return b;
}
std::string switch_branch(std::size_t i) {
  char b[32];
  std::snprintf(b, sizeof b, "z9hG4bK-sw-%06zu", i);
  return b;
}

std::string invite(std::size_t i) {
  const std::string sdp = "v=0\r\no=- 1 1 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 198.51.100.20\r\nt=0 0\r\n";
  return "INVITE sip:+12125551234@198.51.100.1;user=phone SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=" + switch_branch(i) + ";rport\r\n"
         "Max-Forwards: 70\r\n"
         "From: <sip:+13035550147@198.51.100.20>;tag=caller1\r\n"
         "To: <sip:+12125551234@198.51.100.1>\r\n"
         "Call-ID: " + call_id(i) + "\r\n"
         "CSeq: 101 INVITE\r\n"
         "Contact: <sip:+13035550147@198.51.100.20:5060>\r\n"
         "Content-Type: application/sdp\r\n"
         "Content-Length: " + std::to_string(sdp.size()) + "\r\n\r\n" + sdp;
}

// The switch's ACK for the relayed 503: same branch as its INVITE, the
// service's To tag (RFC 3261 §17.1.1.3).
std::string switch_ack(std::size_t i) {
  return "ACK sip:+12125551234@198.51.100.1;user=phone SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=" + switch_branch(i) + ";rport\r\n"
         "Max-Forwards: 70\r\n"
         "From: <sip:+13035550147@198.51.100.20>;tag=caller1\r\n"
         "To: <sip:+12125551234@198.51.100.1>;tag=svc\r\n"
         "Call-ID: " + call_id(i) + "\r\n"
         "CSeq: 101 ACK\r\n"
         "Content-Length: 0\r\n\r\n";
}

// The service's 503 for call i, with our Via first. Its branch is a
// placeholder of the right length, overwritten before each use.
std::string service_503(std::size_t i) {
  return "SIP/2.0 503 Service Unavailable\r\n"
         "Via: SIP/2.0/TLS 127.0.0.1:5061;branch=" + std::string(sip::kBranchPrefix) +
         std::string(sip::kBranchLength - sip::kBranchPrefix.size(), '0') + "\r\n"
         "Via: SIP/2.0/UDP 198.51.100.20:5060;branch=" + switch_branch(i) + ";rport\r\n"
         "From: <sip:+13035550147@198.51.100.20>;tag=caller1\r\n"
         "To: <sip:+12125551234@198.51.100.1>;tag=svc\r\n"
         "Call-ID: " + call_id(i) + "\r\n"
         "CSeq: 101 INVITE\r\n"
         "Content-Length: 0\r\n\r\n";
}

dataplane::SwitchPeer switch_peer() {
  dataplane::SwitchPeer peer;
  auto* sin = reinterpret_cast<sockaddr_in*>(&peer.addr);
  sin->sin_family = AF_INET;
  sin->sin_port = htons(5060);
  inet_pton(AF_INET, "198.51.100.20", &sin->sin_addr);
  peer.addr_len = sizeof(sockaddr_in);
  return peer;
}

// Every message of the lap, parsed once. The parsed views point into the
// strings, so overwriting a 503's branch bytes changes what the engine reads
// without parsing again.
struct CallSet {
  std::vector<std::string> invites, answers, acks;
  std::unique_ptr<Parsed[]> p_invite, p_answer, p_ack;
  std::vector<sip::ParseResult> r_invite, r_answer, r_ack;
  std::vector<std::size_t> branch_at;  // offset of the 503's top branch
  bool ok = true;

  CallSet() : p_invite(new Parsed[kCalls]), p_answer(new Parsed[kCalls]), p_ack(new Parsed[kCalls]) {
    sip::ParseOptions udp;
    udp.depth = sip::ParseDepth::relay;
    sip::ParseOptions stream = udp;
    stream.datagram = false;
    for (std::size_t i = 0; i < kCalls; ++i) {
      invites.push_back(invite(i));
      answers.push_back(service_503(i));
      acks.push_back(switch_ack(i));
    }
    for (std::size_t i = 0; i < kCalls; ++i) {
      r_invite.push_back(p_invite[i].parse(invites[i], udp));
      r_answer.push_back(p_answer[i].parse(answers[i], stream));
      r_ack.push_back(p_ack[i].parse(acks[i], udp));
      ok &= r_invite[i].ok() && r_answer[i].ok() && r_ack[i].ok();
      branch_at.push_back(answers[i].find(sip::kBranchPrefix));
    }
  }
};

// Per iteration one call: the switch's INVITE (slot + index insert, 100
// Trying, forward upstream), the service's 503 (branch decode, slot check,
// relay to the switch, ACK upstream), the switch's ACK (index lookup,
// absorbed). Every kCalls calls the clock jumps a minute, outside timing,
// so Timer I frees the slots and the Call-IDs can be used again.
void BM_EngineInvite503Ack(benchmark::State& state) {
  CallSet calls;
  if (!calls.ok) {
    state.SkipWithError("a sample message did not parse");
    return;
  }
  tls::KeyedHash key = tls::KeyedHash::random();
  CountingIo io;
  dataplane::RelayCounters counters;
  dataplane::EngineOptions opts;
  opts.call_log = nullptr;
  opts.service_rtt = nullptr;
  dataplane::RelayEngine engine(opts, sip::BranchMac{&tls::KeyedHash::call, &key}, io, counters);
  const dataplane::SwitchPeer peer = switch_peer();
  sip::Millis now{1000};
  std::size_t i = 0;
  std::uint64_t missing_branch = 0;

  for (auto _ : state) {
    engine.on_switch_message(calls.p_invite[i].msg, calls.r_invite[i], peer, now);
    missing_branch += io.branch_seen ? 0 : 1;
    std::memcpy(calls.answers[i].data() + calls.branch_at[i], io.last_branch, sip::kBranchLength);
    engine.on_upstream_message(calls.p_answer[i].msg, calls.r_answer[i], now);
    engine.on_switch_message(calls.p_ack[i].msg, calls.r_ack[i], peer, now);
    if (++i == kCalls) {
      state.PauseTiming();
      i = 0;
      now += sip::Millis{60000};
      engine.on_timer(now);
      state.ResumeTiming();
    }
  }

  // Every call must have taken the whole path, or the figure means nothing.
  const auto n = static_cast<std::uint64_t>(state.iterations());
  if (missing_branch != 0 || counters.invites_upstream.load() != n || counters.finals_relayed.load() != n ||
      counters.acks_absorbed.load() != n || io.to_switch_count != 2 * n || io.upstream_count != 2 * n) {
    state.SkipWithError("a call did not take the INVITE/503/ACK path");
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["active_at_end"] = static_cast<double>(engine.active_transactions());
}

BENCHMARK(BM_RingPushPopOne);
BENCHMARK(BM_RingPushPopBurst32);
BENCHMARK(BM_RingTwoThreads)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_EngineInvite503Ack);

}  // namespace
