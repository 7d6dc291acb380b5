#include "dataplane/relay_engine.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "dataplane/relay_engine_state.hpp"
#include "sip/response_builder.hpp"

namespace sigrelay::dataplane {

using engine_detail::kNone;
using engine_detail::kStoreBytes;
using engine_detail::Writer;
using engine_detail::is_done;
using engine_detail::reliability_of;

namespace {

std::uint64_t mono_us() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

std::uint64_t wall_us() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

// The user part of a From URI as written ("sip:+1303...@host" -> "+1303..."):
// at relay depth the From URI is only bounded, not parsed.
std::string_view uri_user(std::string_view uri) {
  const std::size_t colon = uri.find(':');
  if (colon == std::string_view::npos) return {};
  std::string_view rest = uri.substr(colon + 1);
  const std::size_t end = rest.find_first_of("@;>?");
  return end == std::string_view::npos ? rest : rest.substr(0, end);
}

}  // namespace

RelayEngine::RelayEngine(const EngineOptions& options, sip::BranchMac mac, RelayIo& io, RelayCounters& counters)
    : options_(options),
      mac_(mac),
      io_(io),
      counters_(counters),
      emergency_(options.emergency_numbers),
      slots_(new Slot[options.max_transactions]),
      stores_(new Store[options.max_stored]) {
  via_prefix_ = "SIP/2.0/" + options_.via_transport + " " + options_.via_sent_by + ";branch=";
  free_slots_.reserve(options_.max_transactions);
  for (std::uint32_t i = options_.max_transactions; i-- > 0;) free_slots_.push_back(i);
  free_stores_.reserve(options_.max_stored);
  for (std::uint32_t i = options_.max_stored; i-- > 0;) free_stores_.push_back(i);
  std::size_t cap = 16;
  while (cap < 2 * static_cast<std::size_t>(options_.max_transactions)) cap <<= 1;
  index_keys_.assign(cap, 0);
  index_slots_.assign(cap, kNone);
  timers_.reserve(4 * static_cast<std::size_t>(options_.max_transactions));
  if (options_.in_line.enabled) {
    inline_.reset(new InlineState[options_.max_stored]);
    free_inline_.reserve(options_.max_stored);
    for (std::uint32_t i = options_.max_stored; i-- > 0;) free_inline_.push_back(i);
    const auto& in = options_.in_line;
    inline_via_prefix_ = "SIP/2.0/UDP " + in.advertise + ";branch=";
    inline_via_tcp_ = "SIP/2.0/TCP " + (in.advertise_tcp.empty() ? in.advertise : in.advertise_tcp) + ";branch=";
    inline_via_tls_ = "SIP/2.0/TLS " + (in.advertise_tls.empty() ? in.advertise : in.advertise_tls) + ";branch=";
    failover_.assign(700, false);
    for (const auto code : options_.in_line.failover_codes) {
      if (code < failover_.size()) failover_[code] = true;
    }
  }
}

RelayEngine::~RelayEngine() = default;

std::uint64_t RelayEngine::call_hash(std::string_view call_id, sip::BranchMac mac) {
  return mac(std::span(reinterpret_cast<const std::uint8_t*>(call_id.data()), call_id.size()));
}

// ---------------------------------------------------------------------------
// Matching switch-side requests to INVITE transactions (RFC 3261 §17.2.3):
// the top Via's branch and sent-by; ACK and CANCEL carry the INVITE's.
// RFC 2543 peers without the magic cookie: Call-ID, From tag, CSeq number
// and the top Via as written. The key is a keyed hash, so a sender cannot
// aim collisions at another call's transaction.

std::uint64_t RelayEngine::match_key(const sip::Message& m) const {
  char buf[512];
  Writer w(buf, sizeof buf);
  const auto& v = m.top_via;
  if (v.branch.size() > 7 && v.branch.substr(0, 7) == "z9hG4bK") {
    w << v.branch << "|" << v.host << "|" << static_cast<std::uint32_t>(v.port);
  } else {
    w << m.call_id << "|" << m.from.tag << "|" << m.cseq.number << "|" << v.text;
  }
  const std::uint64_t h = mac_(std::span(reinterpret_cast<const std::uint8_t*>(buf), w.size()));
  return h == 0 ? 1 : h;
}

std::uint32_t RelayEngine::lookup(std::uint64_t key) const {
  const std::size_t mask = index_keys_.size() - 1;
  for (std::size_t i = key & mask;; i = (i + 1) & mask) {
    if (index_keys_[i] == 0) return kNone;
    if (index_keys_[i] == key) return index_slots_[i];
  }
}

void RelayEngine::index_insert(std::uint64_t key, std::uint32_t idx) {
  const std::size_t mask = index_keys_.size() - 1;
  std::size_t i = key & mask;
  while (index_keys_[i] != 0 && index_keys_[i] != key) i = (i + 1) & mask;
  index_keys_[i] = key;
  index_slots_[i] = idx;
}

void RelayEngine::index_erase(std::uint64_t key, std::uint32_t idx) {
  const std::size_t mask = index_keys_.size() - 1;
  std::size_t i = key & mask;
  while (index_keys_[i] != 0 && !(index_keys_[i] == key && index_slots_[i] == idx)) i = (i + 1) & mask;
  if (index_keys_[i] == 0) return;
  // Backward-shift deletion keeps probe chains intact without tombstones.
  std::size_t hole = i;
  for (std::size_t j = (i + 1) & mask; index_keys_[j] != 0; j = (j + 1) & mask) {
    const std::size_t home = index_keys_[j] & mask;
    const bool movable = (j > hole) ? (home <= hole || home > j) : (home <= hole && home > j);
    if (movable) {
      index_keys_[hole] = index_keys_[j];
      index_slots_[hole] = index_slots_[j];
      hole = j;
    }
  }
  index_keys_[hole] = 0;
  index_slots_[hole] = kNone;
}

std::uint32_t RelayEngine::allocate_slot() {
  if (free_slots_.empty() || free_stores_.empty()) return kNone;
  const std::uint32_t idx = free_slots_.back();
  free_slots_.pop_back();
  Slot& s = slots_[idx];
  // Steps of 16: the low bits name the leg (engine_detail::kAttemptMask).
  const std::uint16_t gen = static_cast<std::uint16_t>((s.generation & ~engine_detail::kAttemptMask) + 16);
  s = Slot{};
  s.generation = gen;
  s.in_use = true;
  s.store = free_stores_.back();
  free_stores_.pop_back();
  stores_[s.store].req_len = 0;
  stores_[s.store].resp_len = 0;
  ++active_;
  return idx;
}

// ---------------------------------------------------------------------------
// The call record (call_log.hpp): written once, with the first final.

void RelayEngine::decide(std::uint32_t idx, Decision d) {
  slots_[idx].decision = d;
  slots_[idx].decision_set = true;
}

void RelayEngine::record_final(std::uint32_t idx, std::uint16_t code) {
  Slot& s = slots_[idx];
  if (s.recorded || options_.call_log == nullptr || s.store == kNone) return;
  s.recorded = true;
  const Store& st = stores_[s.store];
  CallRecord r;
  r.time_us = wall_us();
  r.source = s.peer.addr;
  r.final_code = code;
  r.service_code = s.service_code;
  r.service_us = s.service_us;
  r.total_us = static_cast<std::uint32_t>(std::min<std::uint64_t>(mono_us() - s.started_us, UINT32_MAX));
  r.worker = options_.worker;
  if (s.decision_set) {
    r.decision = s.decision;
  } else if (code == 487) {
    r.decision = Decision::cancelled;
  } else if (s.attempt > 0) {
    r.decision = code < 300 ? Decision::inline_answered : Decision::inline_declined;
  } else if (s.service_code != 0 && code == s.service_code) {
    r.decision = code == 603 ? Decision::blocked
                 : (code == 403 || code == 404) ? Decision::not_whitelisted
                                                : Decision::relayed;
  } else {
    r.decision = Decision::local_other;
  }
  std::memcpy(r.call_id, st.call_id, sizeof r.call_id);
  std::memcpy(r.calling, st.calling, sizeof r.calling);
  std::memcpy(r.called, st.called, sizeof r.called);
  if (s.attempt > 0 && s.inl != kNone) {
    set_field(r.detail, inline_[s.inl].target_uri(s.attempt));  // the destination tried last
  }
  options_.call_log->add(r);
}

void RelayEngine::record_stateless(const sip::Message& m, const SwitchPeer& to, std::uint16_t code) {
  if (options_.call_log == nullptr) return;
  CallRecord r;
  r.time_us = wall_us();
  r.source = to.addr;
  r.final_code = code;
  r.worker = options_.worker;
  r.decision = code == 503 ? Decision::local_overload : Decision::local_other;
  set_field(r.call_id, m.call_id);
  set_field(r.calling, uri_user(m.from.uri_text));
  set_field(r.called, m.request_uri.user);
  options_.call_log->add(r);
}

void RelayEngine::apply_policy(const RuntimePolicy& p) {
  emergency_ = EmergencyNumbers(p.emergency_numbers);
  options_.emergency_numbers = p.emergency_numbers;
  options_.upstream_timeout = p.upstream_timeout;
}

void RelayEngine::release_inline(std::uint32_t idx) {
  Slot& s = slots_[idx];
  if (s.inl == kNone) return;
  free_inline_.push_back(s.inl);
  s.inl = kNone;
}

std::string_view RelayEngine::allowed_methods() const {
  return options_.in_line.enabled ? "INVITE, ACK, CANCEL, OPTIONS, BYE, UPDATE, INFO, PRACK, REFER, NOTIFY"
                                  : "INVITE, ACK, CANCEL, OPTIONS";
}

std::size_t RelayEngine::local_tag(std::uint32_t idx, char* out) const {
  const int n = std::snprintf(out, 24, "sr%02x%06x%04x", options_.worker, idx, slots_[idx].generation);
  return static_cast<std::size_t>(n);
}

bool RelayEngine::parse_stored_request(std::uint32_t idx, sip::MessageWithHeaders<96>& out) const {
  const Slot& s = slots_[idx];
  if (s.store == kNone) return false;
  const Store& st = stores_[s.store];
  // Relay depth, as when it arrived: it was accepted at that depth.
  sip::ParseOptions opts;
  opts.depth = sip::ParseDepth::relay;
  return out.parse(std::string_view(st.req, st.req_len), opts).ok();
}

// ---------------------------------------------------------------------------
// From switches.

void RelayEngine::on_switch_message(const sip::Message& m, const sip::ParseResult& r, const SwitchPeer& from,
                                    sip::Millis now) {
  if (!r.ok()) {
    // RFC 3261 §21.4.1 / §21.5.6: answer what can be answered, never an ACK.
    if (r.respondable && m.method_id != sip::Method::ack) {
      const bool version = r.error == sip::ParseError::unsupported_sip_version;
      answer_stateless(m, from, version ? 505 : 400, version ? std::string_view{} : std::string_view("Bad Request"));
      bump(version ? counters_.local_505 : counters_.local_400);
      bump(counters_.malformed_answered);
    } else {
      bump(counters_.malformed_dropped);
    }
    return;
  }
  if (!m.is_request) {
    if (options_.in_line.enabled) {
      on_destination_response(m, now);
    } else {
      bump(counters_.responses_from_switch);
    }
    return;
  }
  bump(counters_.requests_in);
  // In-line mode: requests inside a dialog we Record-Routed (ACK for 2xx,
  // BYE, re-INVITE, UPDATE, INFO ...) pass through by loose routing.
  if (options_.in_line.enabled && m.find(sip::HeaderId::route) != nullptr && routes_through_us(m)) {
    loose_route(m, from);
    return;
  }
  switch (m.method_id) {
    case sip::Method::invite:
      on_invite(m, from, now);
      break;
    case sip::Method::ack:
      on_ack(m, now);
      break;
    case sip::Method::cancel:
      on_cancel(m, from, now);
      break;
    case sip::Method::options: {
      bump(counters_.options_in);
      // Switches ping the relay to take it out of their route list the moment
      // the service is unreachable (DESIGN.md §1).
      if (io_.upstream_up()) {
        const sip::ExtraHeader allow[] = {{"Allow", allowed_methods()}};
        answer_stateless(m, from, 200, {}, allow);
      } else {
        const sip::ExtraHeader why[] = {{"Reason", "SIP;cause=503;text=\"no upstream connection\""}};
        answer_stateless(m, from, 503, {}, why);
      }
      break;
    }
    default: {
      const sip::ExtraHeader allow[] = {{"Allow", allowed_methods()}};
      answer_stateless(m, from, 405, {}, allow);
      bump(counters_.local_405);
      break;
    }
  }
}

void RelayEngine::on_invite(const sip::Message& m, const SwitchPeer& from, sip::Millis now) {
  const std::uint64_t key = match_key(m);
  if (const std::uint32_t idx = lookup(key); idx != kNone) {
    bump(counters_.invite_retransmissions);
    apply_server(idx, slots_[idx].server.on_request(sip::Method::invite, now));
    return;
  }
  // Hop limit (RFC 3261 §16.3 step 3): nothing is created for a 483.
  if (m.max_forwards == 0) {
    answer_stateless(m, from, 483, {});
    bump(counters_.local_483);
    record_stateless(m, from, 483);
    return;
  }
  if (m.bytes.size() > kStoreBytes) {
    answer_stateless(m, from, 513, {});
    bump(counters_.local_513);
    record_stateless(m, from, 513);
    return;
  }
  const std::uint32_t idx = allocate_slot();
  if (idx == kNone) {
    // Overload sheds new work with a quick answer, never silence.
    const sip::ExtraHeader retry[] = {{"Retry-After", "1"}};
    answer_stateless(m, from, 503, {}, retry);
    bump(counters_.local_503_overload);
    record_stateless(m, from, 503);
    return;
  }
  bump(counters_.invites_in);
  Slot& s = slots_[idx];
  s.peer = from;
  s.key = key;
  s.call_hash = call_hash(m.call_id, mac_);
  index_insert(key, idx);
  Store& st = stores_[s.store];
  std::memcpy(st.req, m.bytes.data(), m.bytes.size());
  st.req_len = static_cast<std::uint32_t>(m.bytes.size());
  set_field(st.call_id, m.call_id);
  set_field(st.calling, uri_user(m.from.uri_text));
  set_field(st.called, m.request_uri.user);
  s.started_us = mono_us();

  const auto start = s.server.start(options_.timers, reliability_of(from.transport), now, sip::Trying::send);
  if (start.has(sip::Action::send_trying)) {
    // 100 Trying at once (§16.2): the switch stops retransmitting.
    const std::size_t n = sip::build_response(m, 100, {}, {}, {}, st.resp, kStoreBytes);
    if (n > 0) {
      st.resp_len = static_cast<std::uint32_t>(n);
      const sip::Segment seg{st.resp, n};
      io_.to_switch(s.peer, std::span(&seg, 1));
      bump(counters_.local_100);
      bump(counters_.to_switch_by_code[100]);
    }
  }

  // Local decisions before anything leaves the box.
  if (emergency_.matches(m.request_uri)) {
    const sip::ExtraHeader why[] = {{"Reason", "SIP;cause=503;text=\"emergency call: use the local route\""}};
    decide(idx, Decision::local_emergency);
    respond_local(idx, 503, {}, now, why);
    bump(counters_.local_503_emergency);
    reschedule(idx);
    return;
  }
  if (m.request_uri.scheme == sip::UriScheme::other) {
    respond_local(idx, 416, {}, now);
    bump(counters_.local_416);
    reschedule(idx);
    return;
  }

  // Forward to the service (§16.6): our Via with a branch that leads back
  // here in O(1), Max-Forwards decremented.
  const sip::BranchId id{options_.worker, idx, s.generation};
  sip::encode_branch(id, mac_, s.branch);
  char via[256];
  Writer w(via, sizeof via);
  w << via_prefix_ << std::string_view(s.branch, sip::kBranchLength);
  sip::Rewriter rw(m);
  bool sent = false;
  if (w.ok() && rw.prepend_via(std::string_view(via, w.size())) == sip::RewriteError::ok &&
      rw.decrement_max_forwards() == sip::RewriteError::ok) {
    sent = io_.to_upstream(s.call_hash, rw.segments());
  }
  if (!sent) {
    // Fail open: the switch route-advances at once.
    const sip::ExtraHeader why[] = {{"Reason", "SIP;cause=503;text=\"service unreachable\""}};
    decide(idx, Decision::local_no_upstream);
    respond_local(idx, 503, {}, now, why);
    s.failed_open = true;
    bump(counters_.local_503_no_upstream);
    reschedule(idx);
    maybe_release(idx);
    return;
  }
  bump(counters_.invites_upstream);
  s.upstream_us = mono_us();
  apply_client(idx, s.client.start(options_.timers,
                                   options_.upstream_reliable ? sip::Reliability::reliable
                                                              : sip::Reliability::unreliable,
                                   now),
               now);
  s.failopen_at = now + options_.upstream_timeout;
  reschedule(idx);
}

void RelayEngine::on_ack(const sip::Message& m, sip::Millis now) {
  const std::uint32_t idx = lookup(match_key(m));
  if (idx == kNone) {
    bump(counters_.acks_unmatched);
    return;
  }
  bump(counters_.acks_absorbed);
  // Completed -> Confirmed: Timer I (T4) starts now. The stored request and
  // final are no longer needed (nothing is retransmitted any more), so the
  // store goes back at once; the slot stays to absorb ACK retransmissions.
  apply_server(idx, slots_[idx].server.on_request(sip::Method::ack, now));
  maybe_release(idx);
  if (slots_[idx].in_use) reschedule(idx);
}

void RelayEngine::on_cancel(const sip::Message& m, const SwitchPeer& from, sip::Millis now) {
  const std::uint32_t idx = lookup(match_key(m));
  if (idx == kNone) {
    answer_stateless(m, from, 481, {});  // §9.2
    bump(counters_.local_481);
    return;
  }
  bump(counters_.cancels_in);
  answer_stateless(m, from, 200, {});
  Slot& s = slots_[idx];
  if (s.searching) {
    // In-line: the destination's own 487 answers the INVITE (§16.10).
    cancel_destination(idx, now);
    reschedule(idx);
    maybe_release(idx);
    return;
  }
  // §16.10: the INVITE gets 487 (unless a final already went out) and the
  // CANCEL follows the INVITE upstream.
  const auto st = s.server.state();
  if (st == sip::TransactionState::proceeding) {
    respond_local(idx, 487, {}, now);
    bump(counters_.local_487);
    s.failed_open = true;  // the service's late answer is absorbed
  }
  if (!is_done(s.client.state())) apply_client(idx, s.client.cancel(now), now);
  reschedule(idx);
  maybe_release(idx);
}

void RelayEngine::answer_stateless(const sip::Message& m, const SwitchPeer& to, std::uint16_t code,
                                   std::string_view reason, std::span<const sip::ExtraHeader> extra) {
  char out[4096];
  char tag[24];
  const int n = std::snprintf(tag, sizeof tag, "sr%02x%08x", options_.worker, static_cast<unsigned>(code));
  const std::size_t len =
      sip::build_response(m, code, reason, std::string_view(tag, static_cast<std::size_t>(n)), extra, out, sizeof out);
  if (len == 0) return;
  const sip::Segment seg{out, len};
  io_.to_switch(to, std::span(&seg, 1));
  if (m.method_id == sip::Method::invite && code < 700) bump(counters_.to_switch_by_code[code]);
}

void RelayEngine::respond_local(std::uint32_t idx, std::uint16_t code, std::string_view reason, sip::Millis now,
                                std::span<const sip::ExtraHeader> extra) {
  Slot& s = slots_[idx];
  sip::MessageWithHeaders<96> req;
  if (!parse_stored_request(idx, req)) return;
  const auto a = s.server.on_send_response(code, now);
  if (a.has(sip::Action::refused) || !a.has(sip::Action::send_response)) {
    apply_server(idx, a);
    return;
  }
  Store& st = stores_[s.store];
  char tag[24];
  const std::size_t tag_len = local_tag(idx, tag);
  // Build into a temporary: the request lives in the same store.
  char out[kStoreBytes];
  const std::size_t n = sip::build_response(req.msg, code, reason, std::string_view(tag, tag_len), extra, out, sizeof out);
  if (n > 0) {
    std::memcpy(st.resp, out, n);
    st.resp_len = static_cast<std::uint32_t>(n);
    const sip::Segment seg{st.resp, n};
    io_.to_switch(s.peer, std::span(&seg, 1));
    if (code < 700) bump(counters_.to_switch_by_code[code]);
  }
  if (code >= 200) {
    s.failopen_at = sip::kNoDeadline;
    record_final(idx, code);
  }
  apply_server(idx, a);
}

// ---------------------------------------------------------------------------
// From the service.

void RelayEngine::on_upstream_message(const sip::Message& m, const sip::ParseResult& r, sip::Millis now) {
  if (!r.ok() || m.is_request) {
    bump(counters_.malformed_dropped);
    return;
  }
  bump(counters_.responses_upstream_in);
  const auto id = sip::decode_branch(m.top_via.branch, mac_);
  if (!id || id->worker != options_.worker || id->slot >= options_.max_transactions) {
    bump(counters_.responses_unmatched);
    return;
  }
  const std::uint32_t idx = id->slot;
  Slot& s = slots_[idx];
  if (!s.in_use || s.generation != id->generation) {
    bump(counters_.responses_unmatched);
    return;
  }
  if (m.cseq.method_id == sip::Method::cancel) return;  // 200 to our CANCEL: hop-by-hop
  if (m.cseq.method_id != sip::Method::invite) {
    bump(counters_.responses_unmatched);
    return;
  }
  const std::uint16_t code = m.status;
  if (code < 700) bump(counters_.from_service_by_code[code]);
  if (code >= 200 && s.service_code == 0) {
    s.service_code = code;
    if (s.upstream_us != 0) {
      s.service_us = static_cast<std::uint32_t>(std::min<std::uint64_t>(mono_us() - s.upstream_us, UINT32_MAX));
      if (options_.service_rtt != nullptr) options_.service_rtt->record(s.service_us);
    }
  }
  if (code >= 200) {
    bump(counters_.service_finals[std::min<std::size_t>(code / 100, 6)]);
    if (code == 403 || code == 404) bump(counters_.service_403_404);
  }
  const auto a = s.client.on_response(code, now);
  if (a.has(sip::Action::send_ack)) send_upstream_ack_or_cancel(idx, &m, false);
  if (a.has(sip::Action::pass_to_tu) && code > 100) {
    if (code == 302 && options_.in_line.enabled && !s.failed_open &&
        s.server.state() == sip::TransactionState::proceeding && start_inline(idx, m, now)) {
      s.failopen_at = sip::kNoDeadline;
    } else {
      relay_response(idx, m, now);
    }
  }
  apply_client(idx, a, now);
  reschedule(idx);
  maybe_release(idx);
}

void RelayEngine::relay_response(std::uint32_t idx, const sip::Message& resp, sip::Millis now) {
  Slot& s = slots_[idx];
  const auto a = s.server.on_send_response(resp.status, now);
  if (!a.has(sip::Action::send_response)) {
    if (resp.status >= 200) bump(counters_.finals_late);
    apply_server(idx, a);
    return;
  }
  // §16.7 step 3: our Via comes off; the rest goes back as the service wrote it.
  sip::Rewriter rw(resp);
  if (rw.remove_top_via() == sip::RewriteError::ok) {
    Store* st = s.store == kNone ? nullptr : &stores_[s.store];
    const std::size_t n = st == nullptr ? 0 : rw.flatten(st->resp, kStoreBytes);
    if (n > 0) {
      st->resp_len = static_cast<std::uint32_t>(n);
      const sip::Segment seg{st->resp, n};
      io_.to_switch(s.peer, std::span(&seg, 1));
    } else {
      io_.to_switch(s.peer, rw.segments());
    }
  }
  if (resp.status < 700) bump(counters_.to_switch_by_code[resp.status]);
  if (resp.status >= 200) {
    s.failopen_at = sip::kNoDeadline;
    bump(counters_.finals_relayed);
    record_final(idx, resp.status);
  }
  apply_server(idx, a);
}

// ACK for a 3xx-6xx from the service (§17.1.1.3), or CANCEL (§9.1): built
// from the stored INVITE, with our branch.
void RelayEngine::send_upstream_ack_or_cancel(std::uint32_t idx, const sip::Message* resp, bool cancel) {
  Slot& s = slots_[idx];
  sip::MessageWithHeaders<96> req;
  if (!parse_stored_request(idx, req)) return;
  const sip::Message& q = req.msg;
  const sip::Header* from = q.find(sip::HeaderId::from);
  const sip::Header* to = cancel || resp == nullptr ? q.find(sip::HeaderId::to) : resp->find(sip::HeaderId::to);
  if (from == nullptr || to == nullptr) return;
  char out[kStoreBytes];
  Writer w(out, sizeof out);
  engine_detail::write_hop_request(
      w, {.method = cancel ? "CANCEL" : "ACK", .request_uri = q.request_uri_text, .via = via_prefix_,
          .via_tail = std::string_view(s.branch, sip::kBranchLength), .from = from->value, .to = to->value,
          .call_id = q.call_id, .cseq = q.cseq.number});
  for (const auto& h : q.headers) {
    if (h.id == sip::HeaderId::route) w << "Route: " << h.value << "\r\n";
  }
  w << "Content-Length: 0\r\n\r\n";
  if (!w.ok()) return;
  const sip::Segment seg{out, w.size()};
  if (io_.to_upstream(s.call_hash, std::span(&seg, 1))) bump(cancel ? counters_.cancels_upstream : counters_.acks_upstream);
}

// ---------------------------------------------------------------------------
// Machines' actions, timers, release.

void RelayEngine::apply_server(std::uint32_t idx, sip::Actions a) {
  if (a.has(sip::Action::retransmit_response)) {
    resend_last_response(idx);
  }
  if (a.has(sip::Action::timeout)) bump(counters_.timer_h_expired);
}

void RelayEngine::apply_client(std::uint32_t idx, sip::Actions a, sip::Millis now) {
  Slot& s = slots_[idx];
  if (a.has(sip::Action::request_cancel)) send_upstream_ack_or_cancel(idx, nullptr, true);
  if ((a.has(sip::Action::timeout) || a.has(sip::Action::transport_error)) && !s.failed_open &&
      s.server.state() == sip::TransactionState::proceeding) {
    const sip::ExtraHeader why[] = {{"Reason", "SIP;cause=503;text=\"service did not answer\""}};
    decide(idx, Decision::local_timeout);
    respond_local(idx, 503, {}, now, why);
    s.failed_open = true;
    bump(counters_.local_503_timeout);
  }
}

void RelayEngine::resend_last_response(std::uint32_t idx) {
  Slot& s = slots_[idx];
  if (s.store == kNone) return;
  const Store& st = stores_[s.store];
  if (st.resp_len == 0) return;
  const sip::Segment seg{st.resp, st.resp_len};
  io_.to_switch(s.peer, std::span(&seg, 1));
  if (s.server.state() == sip::TransactionState::completed) bump(counters_.final_retransmissions);
}

void RelayEngine::reschedule(std::uint32_t idx) {
  Slot& s = slots_[idx];
  if (!s.in_use) return;
  sip::Millis at = std::min({s.server.next_deadline(), s.client.next_deadline(), s.failopen_at,
                             s.dest.next_deadline(), s.branch_deadline, s.ring_deadline});
  // Never at or before the time being processed: a deadline nobody cleared
  // would otherwise keep on_timer() looping on one slot.
  if (at != sip::kNoDeadline && at <= timer_now_) at = timer_now_ + sip::Millis{1};
  if (at == sip::kNoDeadline || at == s.scheduled) return;
  s.scheduled = at;
  timers_.push_back(TimerEntry{at, idx, s.generation});
  std::push_heap(timers_.begin(), timers_.end(), [](const TimerEntry& a, const TimerEntry& b) { return a.at > b.at; });
}

void RelayEngine::maybe_release(std::uint32_t idx) {
  Slot& s = slots_[idx];
  if (!s.in_use) return;
  const auto ss = s.server.state();
  // After a local final the client side is abandoned: a late answer from the
  // service then matches nothing and is counted (responses_unmatched). Not
  // when the switch CANCELled: the CANCEL may still be waiting for the
  // service's first provisional, and the service's 487 is ACKed, so the
  // stored request is kept until the client side ends.
  const bool dest_done = is_done(s.dest.state()) || s.dest.state() == sip::TransactionState::accepted;
  const bool client_done =
      (is_done(s.client.state()) || (s.failed_open && !s.client.cancelling())) && !s.searching && dest_done;
  // After a destination's 2xx nothing stored is needed again: 2xx
  // retransmissions are passed through as they come (RFC 6026).
  const bool server_quiet = ss == sip::TransactionState::confirmed || is_done(ss) || s.answered;
  if (s.store != kNone && server_quiet && client_done) {
    free_stores_.push_back(s.store);
    s.store = kNone;
    release_inline(idx);
  }
  if (is_done(ss) && client_done && is_done(s.dest.state())) {
    release_inline(idx);
    index_erase(s.key, idx);
    s.in_use = false;
    free_slots_.push_back(idx);
    --active_;
    bump(counters_.transactions_freed);
  }
}

void RelayEngine::on_timer(sip::Millis now) {
  timer_now_ = now;
  const auto later = [](const TimerEntry& a, const TimerEntry& b) { return a.at > b.at; };
  while (!timers_.empty() && timers_.front().at <= now) {
    std::pop_heap(timers_.begin(), timers_.end(), later);
    const TimerEntry e = timers_.back();
    timers_.pop_back();
    Slot& s = slots_[e.slot];
    if (!s.in_use || s.generation != e.generation || s.scheduled != e.at) continue;  // stale
    s.scheduled = sip::kNoDeadline;
    if (s.failopen_at <= now) {
      s.failopen_at = sip::kNoDeadline;
      if (s.server.state() == sip::TransactionState::proceeding) {
        const sip::ExtraHeader why[] = {{"Reason", "SIP;cause=503;text=\"service did not answer in time\""}};
        decide(e.slot, Decision::local_timeout);
        respond_local(e.slot, 503, {}, now, why);
        s.failed_open = true;
        bump(counters_.local_503_timeout);
        apply_client(e.slot, s.client.cancel(now), now);
      }
    }
    apply_server(e.slot, s.server.on_timer(now));
    apply_client(e.slot, s.client.on_timer(now), now);
    if (s.attempt > 0) on_destination_timer(e.slot, now);
    reschedule(e.slot);
    maybe_release(e.slot);
  }
}

sip::Millis RelayEngine::next_deadline() const {
  return timers_.empty() ? sip::kNoDeadline : timers_.front().at;
}

void RelayEngine::shutdown(sip::Millis now) {
  for (std::uint32_t i = 0; i < options_.max_transactions; ++i) {
    Slot& s = slots_[i];
    if (!s.in_use || s.server.state() != sip::TransactionState::proceeding) continue;
    if (s.searching) {
      end_search(i);
      cancel_destination(i, now);
    }
    const sip::ExtraHeader why[] = {{"Reason", "SIP;cause=503;text=\"relay shutting down\""}};
    decide(i, Decision::shutdown);
    respond_local(i, 503, {}, now, why);
    s.failed_open = true;
    bump(counters_.local_503_shutdown);
  }
}

}  // namespace sigrelay::dataplane
