// RelayEngine's private state, shared by its two translation units:
// relay_engine.cpp (relay mode and everything common) and inline_proxy.cpp
// (in-line mode). Not for use outside the engine.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "dataplane/call_log.hpp"
#include "dataplane/relay_engine.hpp"
#include "sip/branch_codec.hpp"
#include "sip/transaction.hpp"

namespace sigrelay::dataplane {
namespace engine_detail {

inline constexpr std::uint32_t kNone = 0xffffffffU;
// A switch's INVITE and the last response we sent for it are kept this big at
// most; a larger INVITE is answered 513 (RFC 3261 §21.5.11).
inline constexpr std::size_t kStoreBytes = 8192;
// The low bits of a slot's generation number the leg a branch belongs to:
// 0 is the service, 1..15 the destinations tried in in-line mode. A slot's
// generation therefore advances in steps of 16.
inline constexpr std::uint16_t kAttemptMask = 0x000f;
inline constexpr std::uint8_t kMaxAttempts = 15;
inline constexpr std::size_t kMaxTargets = 16;

inline sip::Reliability reliability_of(Transport t) {
  return t == Transport::udp ? sip::Reliability::unreliable : sip::Reliability::reliable;
}

inline bool is_done(sip::TransactionState s) {
  return s == sip::TransactionState::terminated || s == sip::TransactionState::idle;
}

// A small bounded appender for the few messages built from scratch.
class Writer {
 public:
  Writer(char* buf, std::size_t cap) : buf_(buf), cap_(cap) {}
  Writer& operator<<(std::string_view s) {
    if (len_ + s.size() > cap_) {
      overflow_ = true;
      return *this;
    }
    std::memcpy(buf_ + len_, s.data(), s.size());
    len_ += s.size();
    return *this;
  }
  Writer& operator<<(std::uint32_t n) {
    char tmp[16];
    const int k = std::snprintf(tmp, sizeof tmp, "%u", n);
    return *this << std::string_view(tmp, static_cast<std::size_t>(k));
  }
  bool ok() const { return !overflow_; }
  std::size_t size() const { return len_; }

 private:
  char* buf_;
  std::size_t cap_;
  std::size_t len_ = 0;
  bool overflow_ = false;
};

// The start of every hop-by-hop ACK or CANCEL the engine builds (RFC 3261
// §9.1, §17.1.1.3): request line through CSeq. The Via and To values may
// come in two pieces (our prefix and a branch; a To with its tag cut out).
struct HopRequest {
  std::string_view method = {};
  std::string_view request_uri = {};
  std::string_view via = {};
  std::string_view via_tail = {};
  std::string_view from = {};
  std::string_view to = {};
  std::string_view to_tail = {};
  std::string_view call_id = {};
  std::uint32_t cseq = 0;
};

inline void write_hop_request(Writer& w, const HopRequest& r) {
  w << r.method << " " << r.request_uri << " SIP/2.0\r\n";
  w << "Via: " << r.via << r.via_tail << "\r\n";
  w << "Max-Forwards: 70\r\n";
  w << "From: " << r.from << "\r\n";
  w << "To: " << r.to << r.to_tail << "\r\n";
  w << "Call-ID: " << r.call_id << "\r\n";
  w << "CSeq: " << r.cseq << " " << r.method << "\r\n";
}

}  // namespace engine_detail

struct RelayEngine::Slot {
  sip::InviteServer server;
  sip::InviteClient client;  // toward the service
  sip::InviteClient dest;    // in-line mode: toward the destination being tried
  SwitchPeer peer;
  std::uint64_t key = 0;
  std::uint64_t call_hash = 0;
  sip::Millis failopen_at = sip::kNoDeadline;
  sip::Millis scheduled = sip::kNoDeadline;
  sip::Millis branch_deadline = sip::kNoDeadline;  // in-line: destination silent too long
  sip::Millis ring_deadline = sip::kNoDeadline;    // in-line: destination rings too long
  std::uint32_t store = engine_detail::kNone;
  std::uint32_t inl = engine_detail::kNone;  // in-line state, while a search runs
  std::uint16_t generation = 0;
  std::uint8_t attempt = 0;   // in-line: 1.. the destination being tried; 0 before
  bool in_use = false;
  bool failed_open = false;   // a local final went out instead of the service's
  bool cancelled = false;     // in-line: the switch CANCELled while destinations were tried
  bool answered = false;      // in-line: a destination's 2xx went to the switch
  bool searching = false;     // in-line: destinations are being tried
  bool recorded = false;      // the call record is written (first final)
  bool decision_set = false;
  Decision decision = Decision::relayed;  // set by the path that answers, when it knows better than the code
  std::uint16_t service_code = 0;         // the service's final
  std::uint32_t service_us = 0;           // its round trip
  std::uint64_t started_us = 0;           // INVITE in (monotonic µs)
  std::uint64_t upstream_us = 0;          // INVITE sent to the service (monotonic µs)
  char branch[sip::kBranchLength];
};

struct RelayEngine::Store {
  std::uint32_t req_len = 0;
  std::uint32_t resp_len = 0;
  // For the call record (call_log.hpp), captured when the INVITE came.
  char call_id[96];
  char calling[32];
  char called[32];
  char req[engine_detail::kStoreBytes];
  char resp[engine_detail::kStoreBytes];
};

// What a search through the service's Contacts needs (docs/inline.md).
struct RelayEngine::InlineState {
  struct Target {
    std::uint16_t offset = 0;  // the Contact's URI inside `redirect`
    std::uint16_t length = 0;
  };
  SwitchPeer destination{};  // where the live branch's INVITE went
  std::uint32_t redirect_len = 0;
  std::uint32_t invite_len = 0;
  std::uint32_t best_len = 0;
  std::uint16_t best_code = 0;  // best final so far (RFC 3261 §16.7 step 6); 0: none
  std::uint8_t target_count = 0;
  std::uint8_t next_target = 0;
  Target targets[engine_detail::kMaxTargets];
  std::uint8_t target_of_attempt[engine_detail::kMaxAttempts + 1] = {};
  std::uint8_t transport_of_attempt[engine_detail::kMaxAttempts + 1] = {};  // Transport as uint8
  bool upgraded = false;  // the live attempt went over TCP for its size (RFC 3261 §18.1.1)
  char redirect[engine_detail::kStoreBytes];  // the service's 302, as it came
  char invite[engine_detail::kStoreBytes];    // the live branch's INVITE (retransmissions, CANCEL)
  char best[engine_detail::kStoreBytes];      // the best final so far, our Via still on top

  // Clears the bookkeeping; the buffers are overwritten as they are used.
  void reset() {
    destination = SwitchPeer{};
    redirect_len = invite_len = best_len = 0;
    best_code = 0;
    target_count = next_target = 0;
    upgraded = false;
  }

  std::string_view target_uri(std::uint8_t attempt) const {
    const Target& t = targets[target_of_attempt[attempt]];
    return {redirect + t.offset, t.length};
  }
};

}  // namespace sigrelay::dataplane
