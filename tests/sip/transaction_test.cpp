// Transaction state machines, event by event and timer by timer, against a
// fake clock moved by hand. Every expected instant is worked out from the RFC
// (defaults T1 = 500 ms, T2 = 4 s, T4 = 5 s, so 64*T1 = 32 s), not read back
// from the code.
#include "sip/transaction.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <vector>

namespace sigrelay::sip {

// Readable failures: "{send_ack|pass_to_tu}" instead of a bit pattern.
void PrintTo(const Actions& actions, std::ostream* os) {
  *os << '{';
  bool first = true;
  for (std::uint16_t bit = 1; bit != 0; bit = static_cast<std::uint16_t>(bit << 1)) {
    if ((actions.bits() & bit) == 0) continue;
    *os << (first ? "" : "|") << to_string(static_cast<Action>(bit));
    first = false;
  }
  *os << '}';
}

void PrintTo(TransactionState s, std::ostream* os) { *os << to_string(s); }

namespace {


constexpr Millis ms(std::int64_t v) { return Millis{v}; }
constexpr Millis kT1 = ms(500);
constexpr Millis kT2 = ms(4000);
constexpr Millis kT4 = ms(5000);
constexpr Millis k64T1 = ms(32000);
constexpr Actions kNone{};

constexpr Reliability kUdp = Reliability::unreliable;
constexpr Reliability kTcp = Reliability::reliable;

// Timer C off unless a test is about it, so deadlines are the §17 ones.
TimerConfig no_timer_c() {
  TimerConfig cfg;
  cfg.c = Millis{0};
  return cfg;
}

// The owner's timer wheel in miniature: an explicit clock and one deadline per
// transaction, fired exactly when due.
struct FakeClock {
  Millis now{0};
  void set(Millis t) { now = t; }
};

struct Fired {
  Millis at;
  Actions actions;
};

// Fires every deadline up to and including `until`, as a worker would, and
// leaves the clock at `until`.
template <class Machine>
std::vector<Fired> run_until(Machine& m, FakeClock& clock, Millis until) {
  std::vector<Fired> fired;
  for (int guard = 0; guard < 10000; ++guard) {
    const Millis deadline = m.next_deadline();
    if (deadline == kNoDeadline || deadline > until) break;
    clock.set(deadline);
    fired.push_back({deadline, m.on_timer(deadline)});
  }
  clock.set(until);
  return fired;
}

// Instants (in ms) at which `action` came back.
std::vector<std::int64_t> times_of(const std::vector<Fired>& fired, Action action) {
  std::vector<std::int64_t> out;
  for (const Fired& f : fired) {
    if (f.actions.has(action)) out.push_back(f.at.count());
  }
  return out;
}

// ======================================================= TimerConfig

TEST(TimerConfigTest, DefaultsAreTheRfcValues) {
  const TimerConfig cfg;
  EXPECT_EQ(cfg.t1, kT1);
  EXPECT_EQ(cfg.t2, kT2);
  EXPECT_EQ(cfg.t4, kT4);
  EXPECT_EQ(cfg.d, ms(32000));
  EXPECT_GT(cfg.c, ms(180000));  // §16.6 step 11: more than 3 minutes
  EXPECT_EQ(check(cfg), TimerConfigError::ok);
}

TEST(TimerConfigTest, RejectsValuesTheRfcForbids) {
  TimerConfig cfg;
  cfg.t1 = ms(0);
  EXPECT_EQ(check(cfg), TimerConfigError::t1_not_positive);

  cfg = {};
  cfg.t2 = ms(400);
  EXPECT_EQ(check(cfg), TimerConfigError::t2_below_t1);

  cfg = {};
  cfg.t4 = ms(0);
  EXPECT_EQ(check(cfg), TimerConfigError::t4_not_positive);

  cfg = {};
  cfg.d = ms(31999);
  EXPECT_EQ(check(cfg), TimerConfigError::d_below_32s);

  cfg = {};
  cfg.c = ms(180000);  // exactly 3 minutes is not "greater than"
  EXPECT_EQ(check(cfg), TimerConfigError::c_not_above_3min);
  cfg.c = ms(0);  // off
  EXPECT_EQ(check(cfg), TimerConfigError::ok);

  cfg = {};
  cfg.t2 = ms(25LL * 3600 * 1000);
  EXPECT_EQ(check(cfg), TimerConfigError::value_too_large);
  EXPECT_EQ(to_string(TimerConfigError::d_below_32s), "d_below_32s");
}

// ======================================================= Actions

TEST(ActionsTest, CombinesAndTestsFlags) {
  const Actions a = Action::send_ack | Action::pass_to_tu;
  EXPECT_TRUE(a.has(Action::send_ack));
  EXPECT_TRUE(a.has(Action::pass_to_tu));
  EXPECT_FALSE(a.has(Action::terminated));
  EXPECT_FALSE(a.empty());
  EXPECT_TRUE(kNone.empty());
  EXPECT_EQ(a | Action::terminated, Action::send_ack | Action::pass_to_tu | Action::terminated);
  EXPECT_NE(a, Actions{Action::send_ack});
  EXPECT_EQ(to_string(Action::retransmit_response), "retransmit_response");
}

TEST(IdleMachinesTest, IgnoreEverythingUntilStarted) {
  InviteServer ist;
  InviteClient ict;
  NonInviteServer nist;
  NonInviteClient nict;
  EXPECT_EQ(ist.state(), TransactionState::idle);
  EXPECT_EQ(ist.next_deadline(), kNoDeadline);
  EXPECT_EQ(ict.next_deadline(), kNoDeadline);
  EXPECT_EQ(nist.next_deadline(), kNoDeadline);
  EXPECT_EQ(nict.next_deadline(), kNoDeadline);
  EXPECT_EQ(ist.on_request(Method::invite, ms(1)), kNone);
  EXPECT_EQ(ist.on_send_response(200, ms(1)), Actions{Action::refused});
  EXPECT_EQ(ict.on_response(200, ms(1)), kNone);
  EXPECT_EQ(ict.cancel(ms(1)), kNone);
  EXPECT_EQ(nist.on_request(ms(1)), kNone);
  EXPECT_EQ(nict.on_response(200, ms(1)), kNone);
  EXPECT_EQ(ist.on_transport_error(ms(1)), kNone);
  EXPECT_EQ(ict.on_transport_error(ms(1)), kNone);
  EXPECT_EQ(nist.on_transport_error(ms(1)), kNone);
  EXPECT_EQ(nict.on_transport_error(ms(1)), kNone);
  EXPECT_EQ(ict.on_timer(ms(1000000)), kNone);
}

// ======================================================= INVITE server (§17.2.1, RFC 6026 §7.1)

TEST(InviteServerTest, StartPassesInviteUpAndAsksFor100Trying) {
  InviteServer t;
  EXPECT_EQ(t.start({}, kUdp, ms(0)), Action::pass_to_tu | Action::send_trying);
  EXPECT_EQ(t.state(), TransactionState::proceeding);
  EXPECT_EQ(t.next_deadline(), kNoDeadline);  // Proceeding runs no timer
  // The 100 is now the response to repeat for a retransmitted INVITE.
  EXPECT_EQ(t.on_request(Method::invite, ms(500)), Actions{Action::retransmit_response});
}

TEST(InviteServerTest, TryingCanBeOmittedWhenTheTuAnswersAtOnce) {
  InviteServer t;
  EXPECT_EQ(t.start({}, kUdp, ms(0), Trying::omit), Actions{Action::pass_to_tu});
  // Nothing sent yet, so a retransmission has nothing to repeat.
  EXPECT_EQ(t.on_request(Method::invite, ms(100)), kNone);
  EXPECT_EQ(t.on_send_response(503, ms(150)), Actions{Action::send_response});
  EXPECT_EQ(t.state(), TransactionState::completed);
}

TEST(InviteServerTest, ProvisionalsAreSentAndRetransmittedInviteRepeatsTheLastOne) {
  for (Reliability r : {kUdp, kTcp}) {
    InviteServer t;
    t.start({}, r, ms(0));
    EXPECT_EQ(t.on_send_response(180, ms(100)), Actions{Action::send_response});
    EXPECT_EQ(t.on_send_response(183, ms(200)), Actions{Action::send_response});
    EXPECT_EQ(t.state(), TransactionState::proceeding);
    EXPECT_EQ(t.on_request(Method::invite, ms(500)), Actions{Action::retransmit_response});
    EXPECT_EQ(t.state(), TransactionState::proceeding);
    // An ACK cannot belong to a transaction without a final: ignored.
    EXPECT_EQ(t.on_request(Method::ack, ms(600)), kNone);
    EXPECT_EQ(t.next_deadline(), kNoDeadline);
  }
}

TEST(InviteServerTest, FinalOverUdpStartsTimersGAndH) {
  InviteServer t;
  t.start({}, kUdp, ms(0));
  EXPECT_EQ(t.on_send_response(486, ms(1000)), Actions{Action::send_response});
  EXPECT_EQ(t.state(), TransactionState::completed);
  EXPECT_EQ(t.next_deadline(), ms(1000) + kT1);  // Timer G first
  // In Completed a retransmitted INVITE gets the final again.
  EXPECT_EQ(t.on_request(Method::invite, ms(1100)), Actions{Action::retransmit_response});
  EXPECT_EQ(t.state(), TransactionState::completed);
}

TEST(InviteServerTest, TimerGDoublesUpToT2UntilTimerHTimesOut) {
  InviteServer t;
  FakeClock clock;
  t.start({}, kUdp, clock.now);
  t.on_send_response(404, clock.now);
  const auto fired = run_until(t, clock, ms(40000));
  // G intervals 0.5, 1, 2, 4, 4, 4... s (MIN(2*G, T2)), from the final at 0.
  const std::vector<std::int64_t> expected_g = {500,   1500,  3500,  7500,  11500,
                                                15500, 19500, 23500, 27500, 31500};
  EXPECT_EQ(times_of(fired, Action::retransmit_response), expected_g);
  // Timer H: 64*T1 after the final, the ACK never came.
  ASSERT_FALSE(fired.empty());
  EXPECT_EQ(fired.back().at, k64T1);
  EXPECT_EQ(fired.back().actions, Action::timeout | Action::terminated);
  EXPECT_EQ(t.state(), TransactionState::terminated);
  EXPECT_EQ(t.next_deadline(), kNoDeadline);
}

TEST(InviteServerTest, TimerGFollowsAConfiguredT2) {
  TimerConfig cfg;
  cfg.t2 = ms(1500);
  InviteServer t;
  FakeClock clock;
  t.start(cfg, kUdp, clock.now);
  t.on_send_response(480, clock.now);
  const auto fired = run_until(t, clock, ms(6000));
  // 0.5, then MIN(1, 1.5) = 1, then MIN(2, 1.5) = 1.5 from then on.
  const std::vector<std::int64_t> expected = {500, 1500, 3000, 4500, 6000};
  EXPECT_EQ(times_of(fired, Action::retransmit_response), expected);
}

TEST(InviteServerTest, FinalOverTcpHasNoTimerGButStillTimerH) {
  InviteServer t;
  FakeClock clock;
  t.start({}, kTcp, clock.now);
  clock.set(ms(2000));
  EXPECT_EQ(t.on_send_response(486, clock.now), Actions{Action::send_response});
  EXPECT_EQ(t.next_deadline(), ms(2000) + k64T1);  // only H
  const auto fired = run_until(t, clock, ms(100000));
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].at, ms(34000));
  EXPECT_EQ(fired[0].actions, Action::timeout | Action::terminated);
}

TEST(InviteServerTest, AckInCompletedConfirmsStopsTimerGAndStartsTimerI) {
  InviteServer t;
  FakeClock clock;
  t.start({}, kUdp, clock.now);
  t.on_send_response(486, clock.now);
  run_until(t, clock, ms(2000));  // G fired at 500 and 1500
  EXPECT_EQ(t.on_request(Method::ack, clock.now), kNone);  // absorbed, not passed up
  EXPECT_EQ(t.state(), TransactionState::confirmed);
  EXPECT_EQ(t.next_deadline(), ms(2000) + kT4);  // Timer I, G is gone
  // Confirmed absorbs ACK retransmissions (and stray INVITEs).
  EXPECT_EQ(t.on_request(Method::ack, ms(3000)), kNone);
  EXPECT_EQ(t.on_request(Method::invite, ms(3100)), kNone);
  EXPECT_EQ(t.on_send_response(200, ms(3200)), Actions{Action::refused});
  const auto fired = run_until(t, clock, ms(60000));
  ASSERT_EQ(fired.size(), 1u);  // no retransmission after the ACK
  EXPECT_EQ(fired[0].at, ms(7000));
  EXPECT_EQ(fired[0].actions, Actions{Action::terminated});
}

TEST(InviteServerTest, AckOverTcpEndsTheTransactionAtOnce) {
  InviteServer t;
  t.start({}, kTcp, ms(0));
  t.on_send_response(603, ms(100));
  // Timer I is zero on a reliable transport.
  EXPECT_EQ(t.on_request(Method::ack, ms(200)), Actions{Action::terminated});
  EXPECT_EQ(t.state(), TransactionState::terminated);
  EXPECT_EQ(t.next_deadline(), kNoDeadline);
}

TEST(InviteServerTest, TwoHundredGoesToAcceptedWithTimerLOnBothTransports) {
  for (Reliability r : {kUdp, kTcp}) {
    InviteServer t;
    FakeClock clock;
    t.start({}, r, clock.now);
    t.on_send_response(180, ms(100));
    clock.set(ms(1000));
    EXPECT_EQ(t.on_send_response(200, clock.now), Actions{Action::send_response});
    EXPECT_EQ(t.state(), TransactionState::accepted);
    EXPECT_EQ(t.next_deadline(), ms(1000) + k64T1);  // Timer L only: the TU retransmits 2xx
    // Retransmitted INVITEs are absorbed, never passed up or answered here.
    EXPECT_EQ(t.on_request(Method::invite, ms(1500)), kNone);
    EXPECT_EQ(t.on_request(Method::invite, ms(2500)), kNone);
    // The ACK for the 2xx goes up (a proxy forwards it).
    EXPECT_EQ(t.on_request(Method::ack, ms(3000)), Actions{Action::pass_to_tu});
    EXPECT_EQ(t.state(), TransactionState::accepted);
    // More 2xx from the TU (retransmissions, forks) are sent (RFC 6026 §7.1).
    EXPECT_EQ(t.on_send_response(200, ms(4000)), Actions{Action::send_response});
    const auto fired = run_until(t, clock, ms(100000));
    ASSERT_EQ(fired.size(), 1u);
    EXPECT_EQ(fired[0].at, ms(33000));
    EXPECT_EQ(fired[0].actions, Actions{Action::terminated});
  }
}

// The relay's promise: one final response per INVITE.
TEST(InviteServerTest, SecondFinalResponseIsRefused) {
  for (Reliability r : {kUdp, kTcp}) {
    InviteServer t;
    t.start({}, r, ms(0));
    ASSERT_EQ(t.on_send_response(503, ms(10)), Actions{Action::send_response});
    const Millis deadline = t.next_deadline();
    for (std::uint16_t late : {200, 302, 487, 503, 603, 180}) {
      EXPECT_EQ(t.on_send_response(late, ms(20)), Actions{Action::refused}) << late;
    }
    EXPECT_EQ(t.state(), TransactionState::completed);
    EXPECT_EQ(t.next_deadline(), deadline);  // a refusal changes nothing
    // The refused 200 did not become the response to repeat: still the 503.
    EXPECT_EQ(t.on_request(Method::invite, ms(30)), Actions{Action::retransmit_response});
  }
}

TEST(InviteServerTest, NonSuccessFinalAfterTwoHundredIsRefused) {
  InviteServer t;
  t.start({}, kUdp, ms(0));
  t.on_send_response(200, ms(10));
  EXPECT_EQ(t.on_send_response(487, ms(20)), Actions{Action::refused});
  EXPECT_EQ(t.on_send_response(503, ms(20)), Actions{Action::refused});
  EXPECT_EQ(t.on_send_response(183, ms(20)), Actions{Action::refused});
  EXPECT_EQ(t.state(), TransactionState::accepted);
}

TEST(InviteServerTest, StatusOutsideTheRfcRangeIsRefused) {
  InviteServer t;
  t.start({}, kUdp, ms(0));
  EXPECT_EQ(t.on_send_response(99, ms(1)), Actions{Action::refused});
  EXPECT_EQ(t.on_send_response(700, ms(1)), Actions{Action::refused});
  EXPECT_EQ(t.state(), TransactionState::proceeding);
}

// RFC 6026 Figure 5: a transport error is reported but the transaction stays,
// so INVITE retransmissions keep being absorbed and the final can still go.
TEST(InviteServerTest, TransportErrorIsReportedWithoutEndingTheTransaction) {
  InviteServer t;
  FakeClock clock;
  t.start({}, kUdp, clock.now);
  EXPECT_EQ(t.on_transport_error(ms(50)), Actions{Action::transport_error});
  EXPECT_EQ(t.state(), TransactionState::proceeding);
  EXPECT_EQ(t.on_send_response(503, ms(100)), Actions{Action::send_response});
  EXPECT_EQ(t.on_transport_error(ms(150)), Actions{Action::transport_error});
  EXPECT_EQ(t.state(), TransactionState::completed);
  EXPECT_EQ(t.next_deadline(), ms(600));  // G still runs
  const auto fired = run_until(t, clock, ms(100000));
  ASSERT_FALSE(fired.empty());
  EXPECT_EQ(fired.back().at, ms(32100));  // and H still ends it
  EXPECT_EQ(fired.back().actions, Action::timeout | Action::terminated);

  InviteServer accepted;
  accepted.start({}, kTcp, ms(0));
  accepted.on_send_response(200, ms(10));
  EXPECT_EQ(accepted.on_transport_error(ms(20)), Actions{Action::transport_error});
  EXPECT_EQ(accepted.state(), TransactionState::accepted);
  EXPECT_EQ(accepted.on_request(Method::invite, ms(30)), kNone);
}

TEST(InviteServerTest, EarlyOrSpuriousTimerCallsDoNothing) {
  InviteServer t;
  t.start({}, kUdp, ms(0));
  t.on_send_response(486, ms(0));
  EXPECT_EQ(t.on_timer(ms(499)), kNone);
  EXPECT_EQ(t.next_deadline(), ms(500));
  EXPECT_EQ(t.on_timer(ms(500)), Actions{Action::retransmit_response});
  EXPECT_EQ(t.on_timer(ms(500)), kNone);  // the same instant twice
  EXPECT_EQ(t.next_deadline(), ms(1500));
}

TEST(InviteServerTest, LateTimerRearmsFromTheActualFiringTime) {
  InviteServer t;
  t.start({}, kUdp, ms(0));
  t.on_send_response(486, ms(0));
  // The worker was 300 ms late: one retransmission, next one a full 1 s later.
  EXPECT_EQ(t.on_timer(ms(800)), Actions{Action::retransmit_response});
  EXPECT_EQ(t.next_deadline(), ms(1800));
}

TEST(InviteServerTest, RestartReusesASlotCleanly) {
  InviteServer t;
  t.start({}, kUdp, ms(0));
  t.on_send_response(486, ms(0));
  t.on_timer(k64T1);
  ASSERT_EQ(t.state(), TransactionState::terminated);
  EXPECT_EQ(t.start({}, kTcp, ms(50000), Trying::omit), Actions{Action::pass_to_tu});
  EXPECT_EQ(t.state(), TransactionState::proceeding);
  EXPECT_EQ(t.next_deadline(), kNoDeadline);
  EXPECT_EQ(t.on_request(Method::invite, ms(50001)), kNone);  // no stale "last response"
}

// ======================================================= CANCEL against an INVITE (§9.2, §16.10)

// The CANCEL has its own non-INVITE server transaction; the TU answers it 200
// there and sends the 487 through the INVITE's server transaction. A final
// that arrives from upstream afterwards must not reach the switch.
TEST(CancelInteractionTest, CancelGets200AndInviteGets487ThenTheLateFinalIsRefused) {
  for (Reliability r : {kUdp, kTcp}) {
    FakeClock clock;
    InviteServer invite;
    NonInviteServer cancel;
    invite.start({}, r, clock.now);
    invite.on_send_response(180, ms(200));

    clock.set(ms(1000));
    EXPECT_EQ(cancel.start({}, r, clock.now), Actions{Action::pass_to_tu});
    EXPECT_EQ(cancel.on_send_response(200, clock.now),
              r == kUdp ? Actions{Action::send_response}
                        : Action::send_response | Action::terminated);
    EXPECT_EQ(invite.on_send_response(487, clock.now), Actions{Action::send_response});
    EXPECT_EQ(invite.state(), TransactionState::completed);

    if (r == kUdp) {
      // Each transaction repeats its own final to its own retransmissions.
      EXPECT_EQ(cancel.on_request(ms(1500)), Actions{Action::retransmit_response});
      EXPECT_EQ(invite.on_request(Method::invite, ms(1600)),
                Actions{Action::retransmit_response});
      EXPECT_EQ(cancel.next_deadline(), ms(1000) + k64T1);  // Timer J
    }

    // The service's answer crosses the CANCEL: the 487 already went out.
    EXPECT_EQ(invite.on_send_response(200, ms(1700)), Actions{Action::refused});
    EXPECT_EQ(invite.on_send_response(503, ms(1700)), Actions{Action::refused});

    // The switch ACKs the 487.
    EXPECT_EQ(invite.on_request(Method::ack, ms(1800)),
              r == kUdp ? kNone : Actions{Action::terminated});
    EXPECT_EQ(invite.state(),
              r == kUdp ? TransactionState::confirmed : TransactionState::terminated);
  }
}

TEST(CancelInteractionTest, CancelAfterTheFinalStillGets200ButNo487) {
  for (Reliability r : {kUdp, kTcp}) {
    InviteServer invite;
    NonInviteServer cancel;
    invite.start({}, r, ms(0));
    invite.on_send_response(503, ms(100));
    cancel.start({}, r, ms(200));
    EXPECT_TRUE(cancel.on_send_response(200, ms(200)).has(Action::send_response));
    EXPECT_EQ(invite.on_send_response(487, ms(200)), Actions{Action::refused});
    EXPECT_EQ(invite.state(), TransactionState::completed);
  }
}

// ======================================================= INVITE client (§17.1.1, RFC 6026 §7.2)

TEST(InviteClientTest, TimerADoublesWithoutCeilingUntilTimerBTimesOut) {
  InviteClient t;
  FakeClock clock;
  EXPECT_EQ(t.start(no_timer_c(), kUdp, clock.now), Actions{Action::send_request});
  EXPECT_EQ(t.state(), TransactionState::calling);
  EXPECT_EQ(t.next_deadline(), kT1);
  const auto fired = run_until(t, clock, ms(100000));
  // A: 0.5, 1, 2, 4, 8, 16 s apart (no T2 cap for INVITE); B at 64*T1.
  const std::vector<std::int64_t> expected_a = {500, 1500, 3500, 7500, 15500, 31500};
  EXPECT_EQ(times_of(fired, Action::retransmit_request), expected_a);
  ASSERT_FALSE(fired.empty());
  EXPECT_EQ(fired.back().at, k64T1);
  EXPECT_EQ(fired.back().actions, Action::timeout | Action::terminated);
  EXPECT_EQ(t.state(), TransactionState::terminated);
  EXPECT_EQ(t.next_deadline(), kNoDeadline);
}

TEST(InviteClientTest, OverTcpThereIsNoTimerAButTimerBRemains) {
  InviteClient t;
  FakeClock clock;
  t.start(no_timer_c(), kTcp, clock.now);
  EXPECT_EQ(t.next_deadline(), k64T1);
  const auto fired = run_until(t, clock, ms(100000));
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].actions, Action::timeout | Action::terminated);
}

TEST(InviteClientTest, ScaledT1ScalesTimersAAndB) {
  TimerConfig cfg = no_timer_c();
  cfg.t1 = ms(100);
  InviteClient t;
  FakeClock clock;
  t.start(cfg, kUdp, clock.now);
  const auto fired = run_until(t, clock, ms(100000));
  const std::vector<std::int64_t> expected_a = {100, 300, 700, 1500, 3100, 6300};
  EXPECT_EQ(times_of(fired, Action::retransmit_request), expected_a);
  EXPECT_EQ(times_of(fired, Action::timeout), std::vector<std::int64_t>{6400});
}

TEST(InviteClientTest, ProvisionalMovesToProceedingAndStopsRetransmissions) {
  for (std::uint16_t provisional : {100, 180}) {
    InviteClient t;
    FakeClock clock;
    t.start(no_timer_c(), kUdp, clock.now);
    run_until(t, clock, ms(600));  // one retransmission at 500
    EXPECT_EQ(t.on_response(provisional, clock.now), Actions{Action::pass_to_tu});
    EXPECT_EQ(t.state(), TransactionState::proceeding);
    EXPECT_EQ(t.next_deadline(), kNoDeadline);  // A stopped, B only guards Calling
    EXPECT_TRUE(run_until(t, clock, ms(120000)).empty());
    EXPECT_EQ(t.on_response(183, clock.now), Actions{Action::pass_to_tu});
    EXPECT_EQ(t.state(), TransactionState::proceeding);
  }
}

TEST(InviteClientTest, FailureOverUdpIsAckedPassedUpAndHeldForTimerD) {
  for (bool after_provisional : {false, true}) {
    InviteClient t;
    FakeClock clock;
    t.start(no_timer_c(), kUdp, clock.now);
    if (after_provisional) t.on_response(180, ms(100));
    clock.set(ms(1000));
    EXPECT_EQ(t.on_response(486, clock.now), Action::send_ack | Action::pass_to_tu);
    EXPECT_EQ(t.state(), TransactionState::completed);
    EXPECT_EQ(t.next_deadline(), ms(1000) + ms(32000));  // Timer D; A is gone
    // The final again (our ACK was lost): ACK again, but the TU already has it.
    EXPECT_EQ(t.on_response(486, ms(2000)), Actions{Action::send_ack});
    EXPECT_EQ(t.on_response(486, ms(4000)), Actions{Action::send_ack});
    EXPECT_EQ(t.on_response(180, ms(4500)), kNone);
    EXPECT_EQ(t.on_response(200, ms(4600)), kNone);
    const auto fired = run_until(t, clock, ms(100000));
    ASSERT_EQ(fired.size(), 1u);
    EXPECT_EQ(fired[0].at, ms(33000));
    EXPECT_EQ(fired[0].actions, Actions{Action::terminated});
  }
}

TEST(InviteClientTest, FailureOverTcpEndsAtOnce) {
  InviteClient t;
  t.start(no_timer_c(), kTcp, ms(0));
  t.on_response(100, ms(10));
  EXPECT_EQ(t.on_response(503, ms(20)),
            Action::send_ack | Action::pass_to_tu | Action::terminated);  // D is zero
  EXPECT_EQ(t.state(), TransactionState::terminated);
  EXPECT_EQ(t.next_deadline(), kNoDeadline);
}

TEST(InviteClientTest, SuccessGoesToAcceptedAndEvery2xxIsPassedUpUntilTimerM) {
  for (Reliability r : {kUdp, kTcp}) {
    InviteClient t;
    FakeClock clock;
    t.start(no_timer_c(), r, clock.now);
    clock.set(ms(300));
    EXPECT_EQ(t.on_response(200, clock.now), Actions{Action::pass_to_tu});  // no ACK here
    EXPECT_EQ(t.state(), TransactionState::accepted);
    EXPECT_EQ(t.next_deadline(), ms(300) + k64T1);  // Timer M on every transport
    EXPECT_EQ(t.on_response(200, ms(800)), Actions{Action::pass_to_tu});
    EXPECT_EQ(t.on_response(202, ms(900)), Actions{Action::pass_to_tu});
    EXPECT_EQ(t.on_response(180, ms(1000)), kNone);
    EXPECT_EQ(t.on_response(486, ms(1100)), kNone);
    const auto fired = run_until(t, clock, ms(100000));
    ASSERT_EQ(fired.size(), 1u);  // no retransmission of the INVITE after a 2xx
    EXPECT_EQ(fired[0].at, ms(32300));
    EXPECT_EQ(fired[0].actions, Actions{Action::terminated});
  }
}

TEST(InviteClientTest, TransportErrorEndsTheTransaction) {
  InviteClient calling;
  calling.start(no_timer_c(), kUdp, ms(0));
  EXPECT_EQ(calling.on_transport_error(ms(5)), Action::transport_error | Action::terminated);
  EXPECT_EQ(calling.state(), TransactionState::terminated);
  EXPECT_EQ(calling.next_deadline(), kNoDeadline);
  EXPECT_EQ(calling.on_response(200, ms(6)), kNone);

  InviteClient completed;
  completed.start(no_timer_c(), kUdp, ms(0));
  completed.on_response(404, ms(5));
  EXPECT_EQ(completed.on_transport_error(ms(6)), Action::transport_error | Action::terminated);

  InviteClient tcp;
  tcp.start(no_timer_c(), kTcp, ms(0));
  tcp.on_response(180, ms(5));
  EXPECT_EQ(tcp.on_transport_error(ms(6)), Action::transport_error | Action::terminated);
}

// -------- Timer C (§16.6 step 11, §16.7 step 2, §16.8) and CANCEL (§9.1)

TEST(InviteClientTimerCTest, FiresInProceedingAndAsksForACancel) {
  InviteClient t;
  FakeClock clock;
  const TimerConfig cfg;  // Timer C on by default
  t.start(cfg, kTcp, clock.now);
  EXPECT_EQ(t.next_deadline(), k64T1);  // B comes before C
  t.on_response(100, ms(1000));         // 100 does not reset C
  EXPECT_EQ(t.next_deadline(), cfg.c);
  const auto fired = run_until(t, clock, cfg.c);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].actions, Actions{Action::request_cancel});
  EXPECT_EQ(t.state(), TransactionState::proceeding);
  // The 487 to our CANCEL ends the branch the normal way.
  EXPECT_EQ(t.on_response(487, clock.now + ms(40)),
            Action::send_ack | Action::pass_to_tu | Action::terminated);
}

TEST(InviteClientTimerCTest, ProvisionalOtherThan100RestartsTimerC) {
  InviteClient t;
  const TimerConfig cfg;
  t.start(cfg, kUdp, ms(0));
  t.on_response(100, ms(100));
  EXPECT_EQ(t.next_deadline(), cfg.c);
  t.on_response(180, ms(60000));
  EXPECT_EQ(t.next_deadline(), ms(60000) + cfg.c);
  t.on_response(100, ms(70000));  // still not a sign of life for Timer C
  EXPECT_EQ(t.next_deadline(), ms(60000) + cfg.c);
  t.on_response(183, ms(200000));
  EXPECT_EQ(t.next_deadline(), ms(200000) + cfg.c);
  EXPECT_EQ(t.on_timer(ms(200000) + cfg.c - ms(1)), kNone);
  EXPECT_EQ(t.on_timer(ms(200000) + cfg.c), Actions{Action::request_cancel});
}

TEST(InviteClientTimerCTest, UnansweredCancelGivesUpAfter64T1) {
  InviteClient t;
  FakeClock clock;
  const TimerConfig cfg;
  t.start(cfg, kUdp, clock.now);
  t.on_response(180, ms(0));
  const auto fired = run_until(t, clock, ms(400000));
  ASSERT_EQ(fired.size(), 2u);
  EXPECT_EQ(fired[0].at, cfg.c);
  EXPECT_EQ(fired[0].actions, Actions{Action::request_cancel});
  EXPECT_EQ(fired[1].at, cfg.c + k64T1);
  EXPECT_EQ(fired[1].actions, Action::timeout | Action::terminated);
}

TEST(InviteClientTimerCTest, InCallingItCountsAsA408) {
  // With T1 = 5 s, Timer B (320 s) is later than Timer C (181 s).
  TimerConfig cfg;
  cfg.t1 = ms(5000);
  cfg.t2 = ms(5000);
  InviteClient t;
  FakeClock clock;
  t.start(cfg, kTcp, clock.now);
  EXPECT_EQ(t.next_deadline(), cfg.c);
  const auto fired = run_until(t, clock, ms(1000000));
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].at, cfg.c);
  EXPECT_EQ(fired[0].actions, Action::timeout | Action::terminated);
}

TEST(InviteClientTimerCTest, FinalResponseStopsTimerC) {
  InviteClient t;
  const TimerConfig cfg;
  t.start(cfg, kTcp, ms(0));
  t.on_response(180, ms(10));
  t.on_response(200, ms(20));
  EXPECT_EQ(t.next_deadline(), ms(20) + k64T1);  // M only
}

TEST(InviteClientCancelTest, CancelInProceedingIsRequestedOnce) {
  InviteClient t;
  t.start({}, kUdp, ms(0));
  t.on_response(180, ms(100));
  EXPECT_EQ(t.cancel(ms(1000)), Actions{Action::request_cancel});
  EXPECT_EQ(t.next_deadline(), ms(1000) + k64T1);  // guard replaces Timer C
  EXPECT_EQ(t.cancel(ms(2000)), kNone);
  EXPECT_EQ(t.on_timer(ms(1000) + k64T1), Action::timeout | Action::terminated);
}

TEST(InviteClientCancelTest, CancelInCallingWaitsForTheFirstProvisional) {
  InviteClient t;
  FakeClock clock;
  t.start(no_timer_c(), kUdp, clock.now);
  EXPECT_EQ(t.cancel(ms(100)), kNone);  // §9.1: not before a provisional
  EXPECT_EQ(t.state(), TransactionState::calling);
  // The INVITE keeps being retransmitted meanwhile.
  EXPECT_EQ(times_of(run_until(t, clock, ms(2000)), Action::retransmit_request),
            (std::vector<std::int64_t>{500, 1500}));
  EXPECT_EQ(t.on_response(100, clock.now), Action::pass_to_tu | Action::request_cancel);
  EXPECT_EQ(t.next_deadline(), ms(2000) + k64T1);
  EXPECT_EQ(t.cancel(ms(2100)), kNone);
  EXPECT_EQ(t.on_response(487, ms(2200)), Action::send_ack | Action::pass_to_tu);
}

TEST(InviteClientCancelTest, NoCancelAfterAFinalResponse) {
  InviteClient wanted;
  wanted.start(no_timer_c(), kUdp, ms(0));
  wanted.cancel(ms(10));
  // The final overtakes: nothing left to cancel.
  EXPECT_EQ(wanted.on_response(503, ms(20)), Action::send_ack | Action::pass_to_tu);
  EXPECT_EQ(wanted.cancel(ms(30)), kNone);

  InviteClient accepted;
  accepted.start(no_timer_c(), kUdp, ms(0));
  accepted.on_response(200, ms(20));
  EXPECT_EQ(accepted.cancel(ms(30)), kNone);
}

// ======================================================= non-INVITE client (§17.1.2)

TEST(NonInviteClientTest, TimerEDoublesUpToT2UntilTimerFTimesOut) {
  NonInviteClient t;
  FakeClock clock;
  EXPECT_EQ(t.start({}, kUdp, clock.now), Actions{Action::send_request});
  EXPECT_EQ(t.state(), TransactionState::trying);
  const auto fired = run_until(t, clock, ms(100000));
  // E: 0.5, 1, 2, then T2 = 4 s apart; F at 64*T1.
  const std::vector<std::int64_t> expected_e = {500,   1500,  3500,  7500,  11500,
                                                15500, 19500, 23500, 27500, 31500};
  EXPECT_EQ(times_of(fired, Action::retransmit_request), expected_e);
  ASSERT_FALSE(fired.empty());
  EXPECT_EQ(fired.back().at, k64T1);
  EXPECT_EQ(fired.back().actions, Action::timeout | Action::terminated);
  EXPECT_EQ(t.state(), TransactionState::terminated);
}

TEST(NonInviteClientTest, AfterAProvisionalTimerEUsesT2) {
  NonInviteClient t;
  FakeClock clock;
  t.start({}, kUdp, clock.now);
  run_until(t, clock, ms(600));  // E fired at 500, next due at 1500
  EXPECT_EQ(t.on_response(100, clock.now), Actions{Action::pass_to_tu});
  EXPECT_EQ(t.state(), TransactionState::proceeding);
  EXPECT_EQ(t.next_deadline(), ms(1500));  // the running E keeps its deadline
  const auto fired = run_until(t, clock, ms(100000));
  const std::vector<std::int64_t> expected_e = {1500, 5500, 9500, 13500, 17500, 21500, 25500,
                                                29500};
  EXPECT_EQ(times_of(fired, Action::retransmit_request), expected_e);
  EXPECT_EQ(times_of(fired, Action::timeout), std::vector<std::int64_t>{32000});
}

TEST(NonInviteClientTest, OverTcpThereIsNoTimerEButTimerFRemains) {
  NonInviteClient t;
  FakeClock clock;
  t.start({}, kTcp, clock.now);
  EXPECT_EQ(t.next_deadline(), k64T1);
  t.on_response(100, ms(10));
  const auto fired = run_until(t, clock, ms(100000));
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].at, k64T1);
  EXPECT_EQ(fired[0].actions, Action::timeout | Action::terminated);
}

TEST(NonInviteClientTest, FinalOverUdpIsPassedUpOnceAndHeldForTimerK) {
  NonInviteClient t;
  FakeClock clock;
  t.start({}, kUdp, clock.now);
  t.on_response(180, ms(100));
  clock.set(ms(2000));
  EXPECT_EQ(t.on_response(200, clock.now), Actions{Action::pass_to_tu});
  EXPECT_EQ(t.state(), TransactionState::completed);
  EXPECT_EQ(t.next_deadline(), ms(2000) + kT4);  // Timer K, E is gone
  EXPECT_EQ(t.on_response(200, ms(3000)), kNone);  // retransmissions absorbed
  EXPECT_EQ(t.on_response(100, ms(3100)), kNone);
  const auto fired = run_until(t, clock, ms(100000));
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].at, ms(7000));
  EXPECT_EQ(fired[0].actions, Actions{Action::terminated});
}

TEST(NonInviteClientTest, FinalOverTcpEndsAtOnce) {
  NonInviteClient t;
  t.start({}, kTcp, ms(0));
  EXPECT_EQ(t.on_response(481, ms(50)), Action::pass_to_tu | Action::terminated);  // K is zero
  EXPECT_EQ(t.next_deadline(), kNoDeadline);
}

TEST(NonInviteClientTest, TransportErrorEndsTheTransaction) {
  for (Reliability r : {kUdp, kTcp}) {
    NonInviteClient t;
    t.start({}, r, ms(0));
    EXPECT_EQ(t.on_transport_error(ms(1)), Action::transport_error | Action::terminated);
    EXPECT_EQ(t.state(), TransactionState::terminated);
    EXPECT_EQ(t.next_deadline(), kNoDeadline);
    EXPECT_EQ(t.on_transport_error(ms(2)), kNone);  // reported once
  }
}

// ======================================================= non-INVITE server (§17.2.2)

TEST(NonInviteServerTest, TryingPassesUpAndDiscardsRetransmissions) {
  NonInviteServer t;
  EXPECT_EQ(t.start({}, kUdp, ms(0)), Actions{Action::pass_to_tu});
  EXPECT_EQ(t.state(), TransactionState::trying);
  EXPECT_EQ(t.on_request(ms(500)), kNone);
  EXPECT_EQ(t.next_deadline(), kNoDeadline);
}

TEST(NonInviteServerTest, ProvisionalThenRetransmissionRepeatsIt) {
  NonInviteServer t;
  t.start({}, kUdp, ms(0));
  EXPECT_EQ(t.on_send_response(100, ms(100)), Actions{Action::send_response});
  EXPECT_EQ(t.state(), TransactionState::proceeding);
  EXPECT_EQ(t.on_request(ms(500)), Actions{Action::retransmit_response});
  EXPECT_EQ(t.on_send_response(183, ms(600)), Actions{Action::send_response});
}

TEST(NonInviteServerTest, FinalOverUdpIsRepeatedUntilTimerJ) {
  for (bool via_proceeding : {false, true}) {
    NonInviteServer t;
    FakeClock clock;
    t.start({}, kUdp, clock.now);
    if (via_proceeding) t.on_send_response(100, ms(10));
    clock.set(ms(1000));
    EXPECT_EQ(t.on_send_response(200, clock.now), Actions{Action::send_response});
    EXPECT_EQ(t.state(), TransactionState::completed);
    EXPECT_EQ(t.next_deadline(), ms(1000) + k64T1);  // Timer J
    EXPECT_EQ(t.on_request(ms(1500)), Actions{Action::retransmit_response});
    EXPECT_EQ(t.on_request(ms(2500)), Actions{Action::retransmit_response});
    // Other finals from the TU are discarded.
    EXPECT_EQ(t.on_send_response(500, ms(3000)), Actions{Action::refused});
    EXPECT_EQ(t.on_send_response(180, ms(3000)), Actions{Action::refused});
    const auto fired = run_until(t, clock, ms(100000));
    ASSERT_EQ(fired.size(), 1u);  // the server never retransmits on its own
    EXPECT_EQ(fired[0].at, ms(33000));
    EXPECT_EQ(fired[0].actions, Actions{Action::terminated});
  }
}

TEST(NonInviteServerTest, FinalOverTcpEndsAtOnce) {
  NonInviteServer t;
  t.start({}, kTcp, ms(0));
  EXPECT_EQ(t.on_send_response(200, ms(5)), Action::send_response | Action::terminated);
  EXPECT_EQ(t.next_deadline(), kNoDeadline);
  EXPECT_EQ(t.on_send_response(200, ms(6)), Actions{Action::refused});
}

TEST(NonInviteServerTest, TransportErrorEndsTheTransaction) {
  NonInviteServer t;
  t.start({}, kUdp, ms(0));
  t.on_send_response(200, ms(5));
  EXPECT_EQ(t.on_transport_error(ms(6)), Action::transport_error | Action::terminated);
  EXPECT_EQ(t.next_deadline(), kNoDeadline);
  EXPECT_EQ(t.on_request(ms(7)), kNone);
}

}  // namespace
}  // namespace sigrelay::sip
