#include "sip/transaction.hpp"

#include <algorithm>

namespace sigrelay::sip {
namespace {

using TS = TransactionState;

constexpr bool is_provisional(std::uint16_t status) { return status >= 100 && status <= 199; }
constexpr bool is_success(std::uint16_t status) { return status >= 200 && status <= 299; }
constexpr bool is_failure(std::uint16_t status) { return status >= 300 && status <= 699; }
constexpr bool is_status(std::uint16_t status) { return status >= 100 && status <= 699; }

constexpr bool due(Millis at, Millis now) { return at != kNoDeadline && at <= now; }

// Timers B, F, H, J (unreliable), L, M and the CANCEL guard all wait 64*T1:
// the time a client keeps retransmitting before it gives up.
constexpr Millis transaction_timeout(const TimerConfig& cfg) { return 64 * cfg.t1; }

}  // namespace

TimerConfigError check(const TimerConfig& cfg) {
  constexpr Millis kDay{24LL * 3600 * 1000};
  if (cfg.t1 <= Millis{0}) return TimerConfigError::t1_not_positive;
  if (cfg.t2 < cfg.t1) return TimerConfigError::t2_below_t1;
  if (cfg.t4 <= Millis{0}) return TimerConfigError::t4_not_positive;
  if (cfg.t1 > kDay || cfg.t2 > kDay || cfg.t4 > kDay || cfg.d > kDay || cfg.c > kDay) {
    return TimerConfigError::value_too_large;
  }
  if (cfg.d < Millis{32000}) return TimerConfigError::d_below_32s;
  if (cfg.c != Millis{0} && cfg.c <= Millis{180000}) return TimerConfigError::c_not_above_3min;
  return TimerConfigError::ok;
}

std::string_view to_string(TimerConfigError e) {
  switch (e) {
    case TimerConfigError::ok: return "ok";
    case TimerConfigError::t1_not_positive: return "t1_not_positive";
    case TimerConfigError::t2_below_t1: return "t2_below_t1";
    case TimerConfigError::t4_not_positive: return "t4_not_positive";
    case TimerConfigError::d_below_32s: return "d_below_32s";
    case TimerConfigError::c_not_above_3min: return "c_not_above_3min";
    case TimerConfigError::value_too_large: return "value_too_large";
  }
  return "unknown";
}

std::string_view to_string(Action a) {
  switch (a) {
    case Action::send_request: return "send_request";
    case Action::retransmit_request: return "retransmit_request";
    case Action::send_trying: return "send_trying";
    case Action::send_response: return "send_response";
    case Action::retransmit_response: return "retransmit_response";
    case Action::send_ack: return "send_ack";
    case Action::pass_to_tu: return "pass_to_tu";
    case Action::request_cancel: return "request_cancel";
    case Action::timeout: return "timeout";
    case Action::transport_error: return "transport_error";
    case Action::refused: return "refused";
    case Action::terminated: return "terminated";
  }
  return "unknown";
}

std::string_view to_string(TransactionState s) {
  switch (s) {
    case TS::idle: return "idle";
    case TS::calling: return "calling";
    case TS::trying: return "trying";
    case TS::proceeding: return "proceeding";
    case TS::completed: return "completed";
    case TS::confirmed: return "confirmed";
    case TS::accepted: return "accepted";
    case TS::terminated: return "terminated";
  }
  return "unknown";
}

// ---------------------------------------------------------------- InviteServer

Actions InviteServer::start(const TimerConfig& cfg, Reliability reliability, Millis /*now*/,
                            Trying trying) {
  *this = InviteServer{};
  cfg_ = cfg;
  reliability_ = reliability;
  state_ = TS::proceeding;
  Actions out = Action::pass_to_tu;
  if (trying == Trying::send) {
    out |= Action::send_trying;
    has_response_ = true;
  }
  return out;
}

Actions InviteServer::on_request(Method method, Millis now) {
  switch (state_) {
    case TS::proceeding:
      // Nothing to repeat yet when the 100 was omitted: the TU answers soon.
      if (method == Method::invite && has_response_) return Action::retransmit_response;
      return {};
    case TS::completed:
      if (method == Method::invite) return Action::retransmit_response;
      if (method == Method::ack) {
        // The ACK stops Timer G; Timer I then absorbs ACK retransmissions
        // (none can follow on a reliable transport, so it ends at once).
        state_ = TS::confirmed;
        retransmit_at_ = kNoDeadline;
        if (reliability_ == Reliability::reliable) return terminate();
        expire_at_ = now + cfg_.t4;
      }
      return {};
    case TS::accepted:
      // RFC 6026 §7.1: INVITE retransmissions are absorbed; the ACK for the
      // 2xx goes up (a proxy forwards it end to end).
      if (method == Method::ack) return Action::pass_to_tu;
      return {};
    default:
      return {};
  }
}

Actions InviteServer::on_send_response(std::uint16_t status, Millis now) {
  if (!is_status(status)) return Action::refused;
  if (state_ == TS::accepted) {
    return is_success(status) ? Actions{Action::send_response} : Actions{Action::refused};
  }
  if (state_ != TS::proceeding) return Action::refused;

  has_response_ = true;
  if (is_provisional(status)) return Action::send_response;
  if (is_success(status)) {
    state_ = TS::accepted;
    expire_at_ = now + transaction_timeout(cfg_);  // Timer L
    return Action::send_response;
  }
  state_ = TS::completed;
  expire_at_ = now + transaction_timeout(cfg_);  // Timer H, on every transport
  if (reliability_ == Reliability::unreliable) {
    interval_ = cfg_.t1;  // Timer G
    retransmit_at_ = now + interval_;
  }
  return Action::send_response;
}

Actions InviteServer::on_transport_error(Millis /*now*/) {
  if (state_ == TS::idle || state_ == TS::terminated) return {};
  return Action::transport_error;
}

Actions InviteServer::on_timer(Millis now) {
  switch (state_) {
    case TS::completed:
      if (due(expire_at_, now)) return Action::timeout | terminate();  // Timer H: no ACK came
      if (due(retransmit_at_, now)) {
        // Re-armed from now, not from the missed deadline: a late worker
        // keeps the spacing between sends instead of bursting.
        interval_ = std::min(2 * interval_, cfg_.t2);
        retransmit_at_ = now + interval_;
        return Action::retransmit_response;
      }
      return {};
    case TS::confirmed:  // Timer I
    case TS::accepted:   // Timer L
      if (due(expire_at_, now)) return terminate();
      return {};
    default:
      return {};
  }
}

Millis InviteServer::next_deadline() const { return std::min(retransmit_at_, expire_at_); }

Actions InviteServer::terminate() {
  state_ = TS::terminated;
  retransmit_at_ = kNoDeadline;
  expire_at_ = kNoDeadline;
  return Action::terminated;
}

// ---------------------------------------------------------------- InviteClient

Actions InviteClient::start(const TimerConfig& cfg, Reliability reliability, Millis now) {
  *this = InviteClient{};
  cfg_ = cfg;
  reliability_ = reliability;
  state_ = TS::calling;
  expire_at_ = now + transaction_timeout(cfg_);  // Timer B
  if (reliability == Reliability::unreliable) {
    interval_ = cfg_.t1;  // Timer A
    retransmit_at_ = now + interval_;
  }
  if (cfg_.c != Millis{0}) timer_c_at_ = now + cfg_.c;
  return Action::send_request;
}

Actions InviteClient::on_response(std::uint16_t status, Millis now) {
  if (!is_status(status)) return {};
  switch (state_) {
    case TS::calling:
    case TS::proceeding:
      break;
    case TS::completed:
      // A retransmitted final: our ACK was lost. ACK again, tell nobody.
      return is_failure(status) ? Actions{Action::send_ack} : Actions{};
    case TS::accepted:
      // RFC 6026 §7.2: every 2xx goes up (retransmissions, other forks); the
      // TU, not the transaction, ACKs them.
      return is_success(status) ? Actions{Action::pass_to_tu} : Actions{};
    default:
      return {};
  }

  if (is_provisional(status)) {
    Actions out = Action::pass_to_tu;
    // §16.7 step 2: a provisional other than 100 shows the far end is alive.
    if (status != 100 && timer_c_at_ != kNoDeadline) timer_c_at_ = now + cfg_.c;
    if (state_ == TS::calling) {
      // Stop retransmitting; Timer B only guards Calling.
      state_ = TS::proceeding;
      retransmit_at_ = kNoDeadline;
      expire_at_ = kNoDeadline;
      if (cancel_wanted_) out |= send_cancel(now);
    }
    return out;
  }

  retransmit_at_ = kNoDeadline;
  timer_c_at_ = kNoDeadline;
  if (is_success(status)) {
    state_ = TS::accepted;
    expire_at_ = now + transaction_timeout(cfg_);  // Timer M, on every transport
    return Action::pass_to_tu;
  }
  state_ = TS::completed;
  Actions out = Action::send_ack | Action::pass_to_tu;
  if (reliability_ == Reliability::reliable) return out | terminate();  // Timer D is zero
  expire_at_ = now + cfg_.d;
  return out;
}

Actions InviteClient::cancel(Millis now) {
  if (cancel_sent_) return {};
  if (state_ == TS::calling) {
    cancel_wanted_ = true;
    return {};
  }
  if (state_ == TS::proceeding) return send_cancel(now);
  return {};
}

Actions InviteClient::send_cancel(Millis now) {
  // §9.1: without a final 64*T1 after the CANCEL, the INVITE is given up.
  // Timer C has done its job once a CANCEL is out.
  cancel_sent_ = true;
  cancel_wanted_ = false;
  timer_c_at_ = kNoDeadline;
  expire_at_ = now + transaction_timeout(cfg_);
  return Action::request_cancel;
}

Actions InviteClient::on_transport_error(Millis /*now*/) {
  if (state_ == TS::idle || state_ == TS::terminated) return {};
  return Action::transport_error | terminate();
}

Actions InviteClient::on_timer(Millis now) {
  switch (state_) {
    case TS::calling:
      if (due(expire_at_, now)) return Action::timeout | terminate();  // Timer B
      // §16.8: Timer C with no provisional yet counts as a 408.
      if (due(timer_c_at_, now)) return Action::timeout | terminate();
      if (due(retransmit_at_, now)) {
        interval_ = 2 * interval_;  // Timer A doubles without the T2 ceiling
        retransmit_at_ = now + interval_;
        return Action::retransmit_request;
      }
      return {};
    case TS::proceeding:
      if (due(expire_at_, now)) return Action::timeout | terminate();  // CANCEL unanswered
      if (due(timer_c_at_, now)) return send_cancel(now);  // §16.8: after a provisional, CANCEL
      return {};
    case TS::completed:  // Timer D
    case TS::accepted:   // Timer M
      if (due(expire_at_, now)) return terminate();
      return {};
    default:
      return {};
  }
}

Millis InviteClient::next_deadline() const {
  return std::min({retransmit_at_, expire_at_, timer_c_at_});
}

Actions InviteClient::terminate() {
  state_ = TS::terminated;
  retransmit_at_ = kNoDeadline;
  expire_at_ = kNoDeadline;
  timer_c_at_ = kNoDeadline;
  return Action::terminated;
}

// ------------------------------------------------------------- NonInviteServer

Actions NonInviteServer::start(const TimerConfig& cfg, Reliability reliability, Millis /*now*/) {
  *this = NonInviteServer{};
  cfg_ = cfg;
  reliability_ = reliability;
  state_ = TS::trying;
  return Action::pass_to_tu;
}

Actions NonInviteServer::on_request(Millis /*now*/) {
  // In Trying there is nothing to repeat: the retransmission is discarded.
  if (state_ == TS::proceeding || state_ == TS::completed) return Action::retransmit_response;
  return {};
}

Actions NonInviteServer::on_send_response(std::uint16_t status, Millis now) {
  if (!is_status(status)) return Action::refused;
  if (state_ != TS::trying && state_ != TS::proceeding) return Action::refused;
  if (is_provisional(status)) {
    state_ = TS::proceeding;
    return Action::send_response;
  }
  state_ = TS::completed;
  if (reliability_ == Reliability::reliable) return Action::send_response | terminate();  // J is 0
  expire_at_ = now + transaction_timeout(cfg_);  // Timer J
  return Action::send_response;
}

Actions NonInviteServer::on_transport_error(Millis /*now*/) {
  if (state_ == TS::idle || state_ == TS::terminated) return {};
  return Action::transport_error | terminate();
}

Actions NonInviteServer::on_timer(Millis now) {
  if (state_ == TS::completed && due(expire_at_, now)) return terminate();
  return {};
}

Millis NonInviteServer::next_deadline() const { return expire_at_; }

Actions NonInviteServer::terminate() {
  state_ = TS::terminated;
  expire_at_ = kNoDeadline;
  return Action::terminated;
}

// ------------------------------------------------------------- NonInviteClient

Actions NonInviteClient::start(const TimerConfig& cfg, Reliability reliability, Millis now) {
  *this = NonInviteClient{};
  cfg_ = cfg;
  reliability_ = reliability;
  state_ = TS::trying;
  expire_at_ = now + transaction_timeout(cfg_);  // Timer F
  if (reliability == Reliability::unreliable) {
    interval_ = cfg_.t1;  // Timer E
    retransmit_at_ = now + interval_;
  }
  return Action::send_request;
}

Actions NonInviteClient::on_response(std::uint16_t status, Millis now) {
  if (!is_status(status)) return {};
  if (state_ != TS::trying && state_ != TS::proceeding) return {};  // Completed absorbs
  if (is_provisional(status)) {
    // Timer E keeps its current deadline; from its next firing it uses T2.
    state_ = TS::proceeding;
    return Action::pass_to_tu;
  }
  state_ = TS::completed;
  retransmit_at_ = kNoDeadline;
  if (reliability_ == Reliability::reliable) return Action::pass_to_tu | terminate();  // K is 0
  expire_at_ = now + cfg_.t4;  // Timer K
  return Action::pass_to_tu;
}

Actions NonInviteClient::on_transport_error(Millis /*now*/) {
  if (state_ == TS::idle || state_ == TS::terminated) return {};
  return Action::transport_error | terminate();
}

Actions NonInviteClient::on_timer(Millis now) {
  switch (state_) {
    case TS::trying:
    case TS::proceeding:
      if (due(expire_at_, now)) return Action::timeout | terminate();  // Timer F
      if (due(retransmit_at_, now)) {
        interval_ = state_ == TS::proceeding ? cfg_.t2 : std::min(2 * interval_, cfg_.t2);
        retransmit_at_ = now + interval_;
        return Action::retransmit_request;
      }
      return {};
    case TS::completed:  // Timer K
      if (due(expire_at_, now)) return terminate();
      return {};
    default:
      return {};
  }
}

Millis NonInviteClient::next_deadline() const { return std::min(retransmit_at_, expire_at_); }

Actions NonInviteClient::terminate() {
  state_ = TS::terminated;
  retransmit_at_ = kNoDeadline;
  expire_at_ = kNoDeadline;
  return Action::terminated;
}

}  // namespace sigrelay::sip
