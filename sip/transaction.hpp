// The four transaction state machines of RFC 3261 §17, with the "Accepted"
// states RFC 6026 adds to both INVITE machines, as pure logic.
//
// A sip worker owns a slot array of these and one timer wheel. It feeds each
// event (a matched message, a response from the TU, a transport failure, a
// timer) into the machine together with the current time, and carries out
// the Actions that come back. The machines do no I/O, read no clock, never
// allocate and hold no pointers: they are small, trivially copyable values.
// After every event the owner re-arms its single wheel entry for the
// transaction at next_deadline().
//
// What the machines do not know: message bytes. "send_response" means "send
// the response the TU just handed over, and keep it: it is now the last
// response"; "retransmit_response" means "send that kept response again".
// The caller builds the 100 Trying and the ACK for a non-2xx final.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "sip/method.hpp"

namespace sigrelay::sip {

// Time since an arbitrary epoch chosen by the caller (the worker's clock).
using Millis = std::chrono::milliseconds;
inline constexpr Millis kNoDeadline = Millis::max();

// All the machines need to know of the transport (RFC 3261 §17.1.1.2, §17.2.1):
// TCP, TLS and SCTP are reliable, UDP is not.
enum class Reliability : std::uint8_t { unreliable, reliable };

// RFC 3261 Table 4. Each transaction copies the values when it starts, so a
// configuration reload never changes the timers of a transaction in flight.
struct TimerConfig {
  Millis t1{500};    // RTT estimate
  Millis t2{4000};   // retransmission ceiling for non-INVITE requests and INVITE responses
  Millis t4{5000};   // longest a message stays in the network
  Millis d{32000};   // Timer D on unreliable transports; the RFC asks for at least 32 s
  // Proxy Timer C (§16.6 step 11). The RFC wants it strictly greater than
  // three minutes, hence one second more. Millis{0} turns it off (a user agent).
  Millis c{181000};
};

// Stable codes: the config loader reports them by name.
enum class TimerConfigError : std::uint8_t {
  ok = 0,
  t1_not_positive,
  t2_below_t1,
  t4_not_positive,
  d_below_32s,          // §17.1.1.2: Timer D at least 32 s on unreliable transports
  c_not_above_3min,     // §16.6: Timer C greater than 3 minutes (or 0: off)
  value_too_large,      // any value above one day: keeps now + 64*T1 far from overflow
};

TimerConfigError check(const TimerConfig& cfg);
std::string_view to_string(TimerConfigError e);

// One flag per thing the owner must do, in the order it should do them when
// several come back together (send before telling the TU, free the slot last).
enum class Action : std::uint16_t {
  send_request = 1u << 0,         // client: transmit the request (the first time)
  retransmit_request = 1u << 1,   // client: Timer A or E fired
  send_trying = 1u << 2,          // INVITE server: send 100 Trying now; it becomes the last response
  send_response = 1u << 3,        // server: transmit the TU's response; it becomes the last response
  retransmit_response = 1u << 4,  // server: send the last response again
  send_ack = 1u << 5,             // INVITE client: ACK the 300-699 final just received (§17.1.1.3)
  pass_to_tu = 1u << 6,           // deliver the message just fed in up to the TU
  request_cancel = 1u << 7,       // INVITE client: the TU must send a CANCEL for this branch now
  timeout = 1u << 8,              // no answer in time (Timer B, F, H, C, or the CANCEL guard): a 408
  transport_error = 1u << 9,      // the transport failed: tell the TU (a 503 for a client)
  refused = 1u << 10,             // server: the TU's response was NOT sent (see on_send_response)
  terminated = 1u << 11,          // the transaction is over: drop its timer, free the slot
};

class Actions {
 public:
  constexpr Actions() = default;
  constexpr Actions(Action a) : bits_(static_cast<std::uint16_t>(a)) {}  // NOLINT: implicit on purpose

  constexpr bool has(Action a) const { return (bits_ & static_cast<std::uint16_t>(a)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr std::uint16_t bits() const { return bits_; }

  constexpr Actions& operator|=(Actions other) {
    bits_ = static_cast<std::uint16_t>(bits_ | other.bits_);
    return *this;
  }
  friend constexpr Actions operator|(Actions a, Actions b) { return a |= b; }
  friend constexpr bool operator==(Actions, Actions) = default;

 private:
  std::uint16_t bits_ = 0;
};

constexpr Actions operator|(Action a, Action b) { return Actions{a} | Actions{b}; }

// "send_ack": the flag's name, for traces and test output.
std::string_view to_string(Action a);

// The RFC's state names, shared by the four machines; each uses a subset.
enum class TransactionState : std::uint8_t {
  idle,  // default-constructed or never started: every event is ignored
  calling,
  trying,
  proceeding,
  completed,
  confirmed,
  accepted,
  terminated,
};

std::string_view to_string(TransactionState s);

// Whether the INVITE server asks for a 100 Trying at start (§17.2.1: unless
// the TU answers within 200 ms, e.g. a local 503 decided on the spot).
enum class Trying : std::uint8_t { send, omit };

// RFC 3261 §17.2.1 with RFC 6026 §7.1. States: proceeding, completed,
// confirmed, accepted, terminated. Transport errors are reported to the TU
// but do not end the transaction (RFC 6026 Figure 5): it must stay to absorb
// INVITE retransmissions and to carry the one final response.
class InviteServer {
 public:
  // An INVITE that matched no transaction arrived: pass_to_tu, plus
  // send_trying unless `trying` is omit.
  Actions start(const TimerConfig& cfg, Reliability reliability, Millis now,
                Trying trying = Trying::send);
  // A request matched to this transaction: an INVITE retransmission or an
  // ACK. Any other method is ignored.
  Actions on_request(Method method, Millis now);
  // The TU asks to send a response. 1xx before the final, then exactly one
  // final: any later final, or a 1xx after it, comes back `refused` and must
  // not be sent. The one exception is RFC 6026 §7.1: in Accepted, further 2xx
  // (retransmissions of the 2xx, or 2xx of other forks, which a proxy must
  // forward, §16.7 step 5) are sent. A status outside 100..699 is refused.
  Actions on_send_response(std::uint16_t status, Millis now);
  Actions on_transport_error(Millis now);
  Actions on_timer(Millis now);

  Millis next_deadline() const;
  TransactionState state() const { return state_; }

 private:
  Actions terminate();

  TimerConfig cfg_{};
  Millis retransmit_at_ = kNoDeadline;  // Timer G
  Millis interval_{0};                  // current Timer G interval
  Millis expire_at_ = kNoDeadline;      // Timer H, I or L, by state
  TransactionState state_ = TransactionState::idle;
  Reliability reliability_ = Reliability::unreliable;
  bool has_response_ = false;           // something (100 Trying included) was sent
};

// RFC 3261 §17.1.1 with RFC 6026 §7.2, plus the proxy's Timer C (§16.6 step
// 11, §16.7 step 2, §16.8) and the CANCEL guard of §9.1. States: calling,
// proceeding, completed, accepted, terminated.
class InviteClient {
 public:
  // The TU hands over an INVITE to send: send_request. Starts Timer B, Timer
  // A on unreliable transports, and Timer C when cfg.c is not zero.
  Actions start(const TimerConfig& cfg, Reliability reliability, Millis now);
  // A response matched to this transaction (status 100..699).
  Actions on_response(std::uint16_t status, Millis now);
  // The TU wants this branch cancelled (a CANCEL from upstream, or another
  // branch won). §9.1: a CANCEL may only follow a provisional response, and is
  // pointless after a final one. So: request_cancel at once in Proceeding,
  // deferred to the first provisional in Calling, nothing after a final or
  // when already asked. Once request_cancel is returned, the transaction
  // gives the final response 64*T1 to arrive before it times out.
  Actions cancel(Millis now);
  Actions on_transport_error(Millis now);
  Actions on_timer(Millis now);

  Millis next_deadline() const;
  TransactionState state() const { return state_; }
  // A CANCEL was asked for (sent, or waiting for the first provisional).
  bool cancelling() const { return cancel_wanted_ || cancel_sent_; }

 private:
  Actions terminate();
  Actions send_cancel(Millis now);

  TimerConfig cfg_{};
  Millis retransmit_at_ = kNoDeadline;  // Timer A
  Millis interval_{0};                  // current Timer A interval
  Millis expire_at_ = kNoDeadline;      // Timer B, the CANCEL guard, D or M, by state
  Millis timer_c_at_ = kNoDeadline;     // Timer C
  TransactionState state_ = TransactionState::idle;
  Reliability reliability_ = Reliability::unreliable;
  bool cancel_wanted_ = false;          // asked to cancel while still Calling
  bool cancel_sent_ = false;            // request_cancel already returned
};

// RFC 3261 §17.2.2. States: trying, proceeding, completed, terminated.
class NonInviteServer {
 public:
  // A request other than INVITE/ACK that matched no transaction: pass_to_tu.
  Actions start(const TimerConfig& cfg, Reliability reliability, Millis now);
  // A retransmission of the request.
  Actions on_request(Millis now);
  // 1xx any number of times, then one final (200..699); anything after the
  // final is refused (§17.2.2: discarded).
  Actions on_send_response(std::uint16_t status, Millis now);
  Actions on_transport_error(Millis now);
  Actions on_timer(Millis now);

  Millis next_deadline() const;
  TransactionState state() const { return state_; }

 private:
  Actions terminate();

  TimerConfig cfg_{};
  Millis expire_at_ = kNoDeadline;  // Timer J
  TransactionState state_ = TransactionState::idle;
  Reliability reliability_ = Reliability::unreliable;
};

// RFC 3261 §17.1.2. States: trying, proceeding, completed, terminated.
class NonInviteClient {
 public:
  // The TU hands over a request to send: send_request. Starts Timer F, and
  // Timer E on unreliable transports.
  Actions start(const TimerConfig& cfg, Reliability reliability, Millis now);
  Actions on_response(std::uint16_t status, Millis now);
  Actions on_transport_error(Millis now);
  Actions on_timer(Millis now);

  Millis next_deadline() const;
  TransactionState state() const { return state_; }

 private:
  Actions terminate();

  TimerConfig cfg_{};
  Millis retransmit_at_ = kNoDeadline;  // Timer E
  Millis interval_{0};                  // current Timer E interval
  Millis expire_at_ = kNoDeadline;      // Timer F or K, by state
  TransactionState state_ = TransactionState::idle;
  Reliability reliability_ = Reliability::unreliable;
};

// They live in preallocated slot arrays and are copied around freely.
static_assert(std::is_trivially_copyable_v<InviteServer>);
static_assert(std::is_trivially_copyable_v<InviteClient>);
static_assert(std::is_trivially_copyable_v<NonInviteServer>);
static_assert(std::is_trivially_copyable_v<NonInviteClient>);

}  // namespace sigrelay::sip
