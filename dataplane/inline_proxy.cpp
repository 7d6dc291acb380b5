// In-line mode (DESIGN.md §1, docs/inline.md): the service's 302 is followed
// here as a stateful proxy. Its Identity header (and the configured
// verification headers) go into the switch's INVITE, which is sent to the
// 302's Contacts one after the other in q-value order (serial forking, RFC
// 3261 §16.6-16.7). Requests inside the dialogs that result pass through by
// loose routing (§16.12) on our Record-Route, with no per-dialog state: the
// Record-Route carries a keyed token of the Call-ID, and a stateless branch
// carries where the response goes back to.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>

#include "dataplane/relay_engine.hpp"
#include "dataplane/log.hpp"
#include "dataplane/relay_engine_state.hpp"
#include "sip/contact_list.hpp"
#include "sip/header_values.hpp"
#include "sip/next_hop.hpp"
#include "sip/rewriter.hpp"
#include "sip/uri.hpp"

namespace sigrelay::dataplane {

using engine_detail::is_done;
using engine_detail::kAttemptMask;
using engine_detail::kMaxAttempts;
using engine_detail::kNone;
using engine_detail::kStoreBytes;
using engine_detail::Writer;

namespace {

// Messages we stored are parsed again at relay depth: a full-depth parse
// would refuse a whole 302 for one bad Contact (sip/contact_list.hpp copes).
constexpr sip::ParseOptions kStoredParse{.depth = sip::ParseDepth::relay};

// Branches of requests forwarded statelessly inside a dialog: the way back
// (transport, connection, address) and a keyed MAC, so a response finds its
// way with no state and a forged one goes nowhere.
constexpr std::string_view kStatelessPrefix = "z9hG4bK-srs-";
constexpr std::string_view kRouteParam = "srr";

constexpr char kHex[] = "0123456789abcdef";
// RFC 3261 §18.1.1: past this size a request leaves over TCP when it may.
constexpr std::size_t kUdpSizeLimit = 1300;

void put_hex(Writer& w, const void* data, std::size_t len) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  char buf[64];
  std::size_t n = 0;
  for (std::size_t i = 0; i < len && n + 2 <= sizeof buf; ++i) {
    buf[n++] = kHex[p[i] >> 4];
    buf[n++] = kHex[p[i] & 15];
  }
  w << std::string_view(buf, n);
}

void put_hex64(Writer& w, std::uint64_t v) {
  char buf[16];
  for (int i = 15; i >= 0; --i, v >>= 4) buf[i] = kHex[v & 15];
  w << std::string_view(buf, 16);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Reads 2*len lowercase hex digits; false on anything else.
bool get_hex(std::string_view& in, void* out, std::size_t len) {
  if (in.size() < 2 * len) return false;
  auto* p = static_cast<std::uint8_t*>(out);
  for (std::size_t i = 0; i < len; ++i) {
    const int hi = hex_value(in[2 * i]);
    const int lo = hex_value(in[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    p[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  in.remove_prefix(2 * len);
  return true;
}

// Removing what is not there is fine: the copy then only adds.
bool removed(sip::RewriteError e) { return e == sip::RewriteError::ok || e == sip::RewriteError::no_such_header; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = static_cast<unsigned char>(a[i]);
    const auto y = static_cast<unsigned char>(b[i]);
    if (std::tolower(x) != std::tolower(y)) return false;
  }
  return true;
}

bool header_is(const sip::Header& h, std::string_view name) {
  const sip::HeaderId id = sip::classify_header(name);
  return id != sip::HeaderId::other ? h.id == id : iequals(h.name, name);
}

SwitchPeer udp_peer(const sip::NextHop& hop, std::uint8_t local) {
  SwitchPeer p;
  p.addr = hop.addr;
  p.addr_len = hop.addr_len;
  p.transport = Transport::udp;
  p.local = local;
  return p;
}

std::size_t size_bucket(std::size_t n) {
  std::size_t k = 0;
  while (k < std::size(kInviteSizeBounds) && n > kInviteSizeBounds[k]) ++k;
  return k;
}

// The via-parm below the top one: where a response goes after us.
std::string_view second_via(const sip::Message& m) {
  bool first = true;
  for (const auto& h : m.headers) {
    if (h.id != sip::HeaderId::via) continue;
    sip::ViaList list(h.value);
    sip::Via v;
    while (list.next(v)) {
      if (!first) return v.text;
      first = false;
    }
  }
  return {};
}

}  // namespace

// ---------------------------------------------------------------------------
// The search: from the service's 302 to a destination's answer.

// A skipped Contact is worth a log line (a service routing to places this
// relay may not go is a configuration problem to fix); at most one a
// second per worker, the rest only counted, so a flood cannot slow the
// worker down.
void RelayEngine::log_skipped(std::string_view uri, std::string_view why, sip::Millis /*now*/) {
  log::limited(skip_log_, log::Level::warn, "in-line: Contact %.*s skipped: %.*s",
               static_cast<int>(std::min<std::size_t>(uri.size(), 200)), uri.data(), static_cast<int>(why.size()),
               why.data());
}

bool RelayEngine::start_inline(std::uint32_t idx, const sip::Message& redirect, sip::Millis now) {
  Slot& s = slots_[idx];
  if (free_inline_.empty() || redirect.bytes.size() > kStoreBytes || s.store == kNone) {
    bump(counters_.inline_no_state);
    return false;  // the switch gets the 302, as in relay mode
  }
  s.inl = free_inline_.back();
  free_inline_.pop_back();
  InlineState& st = inline_[s.inl];
  st.reset();
  std::memcpy(st.redirect, redirect.bytes.data(), redirect.bytes.size());
  st.redirect_len = static_cast<std::uint32_t>(redirect.bytes.size());

  sip::MessageWithHeaders<96> r;
  if (!r.parse(std::string_view(st.redirect, st.redirect_len), kStoredParse).ok()) {
    release_inline(idx);
    bump(counters_.inline_no_state);
    return false;
  }
  const sip::ContactSet set = sip::collect_contacts(r.msg);
  bump(counters_.inline_contacts_skipped, set.skipped_invalid + set.dropped_over_limit);
  for (std::size_t i = 0; i < set.count && st.target_count < engine_detail::kMaxTargets; ++i) {
    const sip::ContactTarget& c = set.items[i];
    sip::NextHop hop;
    if (const auto e = sip::next_hop_for_uri(c.uri, hop); e != sip::HopError::ok) {
      bump(counters_.inline_contacts_skipped);
      log_skipped(c.uri_text, sip::to_string(e), now);
      continue;
    }
    if (sip::same_endpoint(hop.addr, options_.in_line.advertise_addr)) {
      bump(counters_.inline_contacts_skipped);
      bump(counters_.inline_refused_self);
      log_skipped(c.uri_text, "points back at this relay", now);
      continue;
    }
    if (options_.in_line.allow_destinations != nullptr && !options_.in_line.allow_destinations->allows(hop.addr)) {
      bump(counters_.inline_contacts_skipped);
      bump(counters_.inline_refused_acl);
      log_skipped(c.uri_text, "outside inline.allow_destinations", now);
      continue;
    }
    auto& t = st.targets[st.target_count++];
    t.offset = static_cast<std::uint16_t>(c.uri_text.data() - st.redirect);
    t.length = static_cast<std::uint16_t>(c.uri_text.size());
  }
  bump(counters_.inline_searches);
  if (st.target_count == 0) {
    release_inline(idx);
    const sip::ExtraHeader why[] = {{"Reason", "SIP;cause=503;text=\"no usable destination in the service's answer\""}};
    decide(idx, Decision::inline_failed);
    respond_local(idx, 503, {}, now, why);
    s.failed_open = true;
    bump(counters_.inline_no_destination);
    return true;
  }
  s.searching = true;
  next_destination(idx, now);
  return true;
}

namespace {

Transport transport_of(sip::HopTransport t) {
  return t == sip::HopTransport::tcp ? Transport::tcp : t == sip::HopTransport::tls ? Transport::tls : Transport::udp;
}

std::string_view transport_param(Transport t) {
  return t == Transport::tcp ? ";transport=tcp" : t == Transport::tls ? ";transport=tls" : "";
}


}  // namespace

std::string_view RelayEngine::via_prefix_for(std::uint8_t transport) const {
  switch (static_cast<Transport>(transport)) {
    case Transport::tcp: return inline_via_tcp_;
    case Transport::tls: return inline_via_tls_;
    default: return inline_via_prefix_;
  }
}

std::string_view RelayEngine::advertise_for(std::uint8_t transport) const {
  const auto& in = options_.in_line;
  switch (static_cast<Transport>(transport)) {
    case Transport::tcp: return in.advertise_tcp.empty() ? in.advertise : in.advertise_tcp;
    case Transport::tls: return in.advertise_tls.empty() ? in.advertise : in.advertise_tls;
    default: return in.advertise;
  }
}

void RelayEngine::next_destination(std::uint32_t idx, sip::Millis now) {
  Slot& s = slots_[idx];
  InlineState& st = inline_[s.inl];
  const std::uint32_t most = std::min<std::uint32_t>(options_.in_line.max_redirections, kMaxAttempts);
  for (;;) {
    if (s.cancelled || st.next_target >= st.target_count || s.attempt >= most) {
      finish_search(idx, now);
      return;
    }
    const auto attempt = static_cast<std::uint8_t>(s.attempt + 1);
    st.target_of_attempt[attempt] = st.next_target++;
    if (send_attempt(idx, attempt, false, now)) return;
  }
}

// Builds and sends the INVITE of one attempt. force_udp: the fallback after
// a size upgrade to TCP failed (RFC 3261 §18.1.1: then UDP is tried).
bool RelayEngine::send_attempt(std::uint32_t idx, std::uint8_t attempt, bool force_udp, sip::Millis now) {
  Slot& s = slots_[idx];
  InlineState& st = inline_[s.inl];
  const std::string_view uri_text = st.target_uri(attempt);
  sip::Uri uri;
  sip::NextHop hop;
  if (!sip::parse_uri(uri_text, uri) || sip::next_hop_for_uri(uri, hop) != sip::HopError::ok) return false;
  sip::MessageWithHeaders<96> orig;
  sip::MessageWithHeaders<96> red;
  if (!parse_stored_request(idx, orig) || !red.parse(std::string_view(st.redirect, st.redirect_len), kStoredParse).ok()) {
    return false;
  }
  char branch[sip::kBranchLength];
  const sip::BranchId id{options_.worker, idx, static_cast<std::uint16_t>(s.generation | attempt)};
  sip::encode_branch(id, mac_, branch);
  char token[16];
  const std::size_t token_len = route_token(orig.msg.call_id, orig.msg.from.tag, token);
  const std::string_view tok(token, token_len);

  // §16.6: Request-URI to the Contact, our Via, Max-Forwards, our
  // Record-Route on top; the service's Identity and verification headers
  // replace the INVITE's own, byte for byte as the service wrote them.
  const auto build = [&](Transport t) -> std::size_t {
    char via[256];
    Writer vw(via, sizeof via);
    vw << via_prefix_for(static_cast<std::uint8_t>(t)) << std::string_view(branch, sizeof branch);
    // Double Record-Route (RFC 5658) when the two sides use different
    // transports: the top one faces the destination, the other the switch.
    char rr[256];
    Writer rw_text(rr, sizeof rr);
    // §16.6 step 4: a sips Request-URI gets a sips Record-Route.
    rw_text << (uri.scheme == sip::UriScheme::sips ? "<sips:" : "<sip:") << advertise_for(static_cast<std::uint8_t>(t))
            << (uri.scheme == sip::UriScheme::sips ? std::string_view() : transport_param(t)) << ";lr;" << kRouteParam
            << "=" << tok << ">";
    char rr2[256];
    Writer rw2(rr2, sizeof rr2);
    const bool two = s.peer.transport != t;
    if (two) {
      rw2 << "<sip:" << advertise_for(static_cast<std::uint8_t>(s.peer.transport)) << transport_param(s.peer.transport)
          << ";lr;" << kRouteParam << "=" << tok << ">";
    }
    sip::Rewriter rw(orig.msg);
    // Routes the switch preloaded led to us (or the service); the Contact is
    // the target now, so none go on (and ACK/CANCEL need none either).
    bool ok = vw.ok() && rw_text.ok() && rw2.ok() && removed(rw.remove_headers(sip::HeaderId::route)) &&
              rw.set_request_uri(uri_text) == sip::RewriteError::ok &&
              rw.prepend_via(std::string_view(via, vw.size())) == sip::RewriteError::ok &&
              rw.decrement_max_forwards() == sip::RewriteError::ok &&
              rw.add_header("Record-Route", std::string_view(rr, rw_text.size())) == sip::RewriteError::ok &&
              (!two || rw.add_header("Record-Route", std::string_view(rr2, rw2.size())) == sip::RewriteError::ok);
    if (ok && red.msg.find(sip::HeaderId::identity) != nullptr) {
      ok = removed(rw.remove_headers(sip::HeaderId::identity));
      for (const auto& h : red.msg.headers) {
        if (ok && h.id == sip::HeaderId::identity) ok = rw.add_header_ref("Identity", h.value) == sip::RewriteError::ok;
      }
    }
    for (const auto& name : options_.in_line.copy_headers) {
      if (!ok || red.msg.find(name) == nullptr) continue;
      ok = removed(rw.remove_headers(name));
      for (const auto& h : red.msg.headers) {
        if (ok && header_is(h, name)) ok = rw.add_header_ref(name, h.value) == sip::RewriteError::ok;
      }
    }
    return ok ? rw.flatten(st.invite, kStoreBytes) : 0;
  };

  Transport t = transport_of(hop.transport);
  std::size_t n = build(t);
  st.upgraded = false;
  // §18.1.1: a request over 1300 bytes goes over a congestion-controlled
  // transport, unless the Contact insists on UDP; if TCP fails, UDP follows.
  if (n > kUdpSizeLimit && t == Transport::udp && !force_udp && !sip::find_param(uri.params, "transport")) {
    t = Transport::tcp;
    n = build(t);
    st.upgraded = true;
    bump(counters_.inline_tcp_upgrades);
  }
  if (n == 0) {
    bump(counters_.inline_build_failed);
    return false;
  }
  st.invite_len = static_cast<std::uint32_t>(n);
  SwitchPeer to;
  to.addr = hop.addr;
  to.addr_len = hop.addr_len;
  to.transport = t;
  to.local = s.peer.transport == Transport::udp ? s.peer.local : 0;
  st.destination = to;
  st.transport_of_attempt[attempt] = static_cast<std::uint8_t>(t);
  s.attempt = attempt;
  s.dest = sip::InviteClient{};
  bump(counters_.inline_invite_size[size_bucket(n)]);
  const sip::Segment seg{st.invite, n};
  if (!io_.to_destination(to, s.call_hash, std::span(&seg, 1))) {
    bump(counters_.inline_transport_errors);
    return false;
  }
  bump(counters_.inline_attempts);
  // send_request: done above.
  s.dest.start(options_.timers, t == Transport::udp ? sip::Reliability::unreliable : sip::Reliability::reliable, now);
  s.branch_deadline = now + options_.in_line.branch_timeout;
  s.ring_deadline = sip::kNoDeadline;
  reschedule(idx);
  return true;
}

void RelayEngine::end_search(std::uint32_t idx) {
  Slot& s = slots_[idx];
  s.searching = false;
  s.branch_deadline = sip::kNoDeadline;
  s.ring_deadline = sip::kNoDeadline;
}

void RelayEngine::finish_search(std::uint32_t idx, sip::Millis now) {
  Slot& s = slots_[idx];
  end_search(idx);
  if (s.server.state() != sip::TransactionState::proceeding) return;
  if (s.cancelled) {
    respond_local(idx, 487, {}, now);
    bump(counters_.local_487);
    return;
  }
  bump(counters_.inline_exhausted);
  decide(idx, Decision::inline_failed);
  const InlineState* st = s.inl == kNone ? nullptr : &inline_[s.inl];
  const std::uint16_t code = st == nullptr ? 0 : st->best_code;
  if (code == 0) {
    const sip::ExtraHeader why[] = {{"Reason", "SIP;cause=503;text=\"no usable destination\""}};
    respond_local(idx, 503, {}, now, why);
  } else if (code == 503) {
    // §16.7 step 6: a 503 from downstream is not passed on as a 503 (it
    // would mean this proxy is overloaded); it becomes a 500.
    const sip::ExtraHeader why[] = {{"Reason", "SIP;cause=503;text=\"every destination unavailable\""}};
    respond_local(idx, 500, {}, now, why);
  } else if (st->best_len == 0) {
    const sip::ExtraHeader why[] = {{"Reason", "SIP;cause=408;text=\"no destination answered\""}};
    respond_local(idx, code, {}, now, why);
  } else {
    sip::MessageWithHeaders<96> best;
    if (best.parse(std::string_view(st->best, st->best_len), kStoredParse).ok()) {
      relay_response(idx, best.msg, now);
    } else {
      respond_local(idx, 500, {}, now);
    }
  }
  s.failopen_at = sip::kNoDeadline;
}

void RelayEngine::note_candidate(std::uint32_t idx, const sip::Message* resp, std::uint16_t code) {
  Slot& s = slots_[idx];
  if (s.inl == kNone) return;
  InlineState& st = inline_[s.inl];
  // §16.7 step 6: the lowest response class wins; the first one of a class.
  if (st.best_code != 0 && code / 100 >= st.best_code / 100) return;
  st.best_code = code;
  st.best_len = 0;
  if (resp != nullptr && resp->bytes.size() <= kStoreBytes) {
    std::memcpy(st.best, resp->bytes.data(), resp->bytes.size());
    st.best_len = static_cast<std::uint32_t>(resp->bytes.size());
  }
}

void RelayEngine::abandon_branch(std::uint32_t idx, std::uint16_t as_code, sip::Millis now) {
  Slot& s = slots_[idx];
  note_candidate(idx, nullptr, as_code);
  s.dest = sip::InviteClient{};  // a late answer on it is a stale one now
  s.branch_deadline = sip::kNoDeadline;
  s.ring_deadline = sip::kNoDeadline;
  if (!s.cancelled) bump(counters_.inline_failovers);
  next_destination(idx, now);
}

void RelayEngine::cancel_destination(std::uint32_t idx, sip::Millis now) {
  Slot& s = slots_[idx];
  s.cancelled = true;
  // §9.1: at once after a provisional; after the first one otherwise (the
  // machine defers it). A destination that stays silent is abandoned at
  // branch_timeout and the switch gets 487 then.
  apply_destination(idx, s.dest.cancel(now), now);
}

void RelayEngine::apply_destination(std::uint32_t idx, sip::Actions a, sip::Millis now) {
  Slot& s = slots_[idx];
  if (s.inl == kNone) return;
  InlineState& st = inline_[s.inl];
  if (a.has(sip::Action::retransmit_request)) {
    const sip::Segment seg{st.invite, st.invite_len};
    io_.to_destination(st.destination, s.call_hash, std::span(&seg, 1));
    bump(counters_.inline_retransmissions);
  }
  if (a.has(sip::Action::request_cancel)) {
    send_destination_cancel(idx);
    // Not the switch's CANCEL (Timer C, ring_timeout): this branch is given
    // up; its 487 will come on a stale branch and be ACKed there.
    if (!s.cancelled && s.searching) {
      abandon_branch(idx, 408, now);
      return;
    }
  }
  if ((a.has(sip::Action::timeout) || a.has(sip::Action::transport_error)) && s.searching) {
    abandon_branch(idx, 408, now);
  }
}

void RelayEngine::on_destination_timer(std::uint32_t idx, sip::Millis now) {
  Slot& s = slots_[idx];
  apply_destination(idx, s.dest.on_timer(now), now);
  const bool branch_due = s.branch_deadline <= now;
  const bool ring_due = s.ring_deadline <= now;
  if (branch_due) s.branch_deadline = sip::kNoDeadline;
  if (ring_due) s.ring_deadline = sip::kNoDeadline;
  if (!s.searching || s.inl == kNone) return;
  if (branch_due && s.dest.state() == sip::TransactionState::calling) {
    InlineState& st = inline_[s.inl];
    if (st.upgraded && !s.cancelled) {
      // TCP for a large INVITE got nowhere (a gateway that drops SYNs says
      // nothing): UDP after all, as §18.1.1 allows.
      bump(counters_.inline_udp_fallbacks);
      if (send_attempt(idx, s.attempt, true, now)) return;
    }
    bump(counters_.inline_branch_timeouts);
    abandon_branch(idx, 408, now);
    return;
  }
  if (ring_due && s.dest.state() == sip::TransactionState::proceeding) {
    bump(counters_.inline_ring_timeouts);
    apply_destination(idx, s.dest.cancel(now), now);  // CANCEL, and on to the next
  }
}

void RelayEngine::on_destination_response(const sip::Message& m, sip::Millis now) {
  const std::string_view b = m.top_via.branch;
  if (b.substr(0, kStatelessPrefix.size()) == kStatelessPrefix) {
    route_response(m);
    return;
  }
  const auto id = sip::decode_branch(b, mac_);
  if (!id || id->worker != options_.worker || id->slot >= options_.max_transactions) {
    bump(counters_.responses_unmatched);
    return;
  }
  const std::uint32_t idx = id->slot;
  Slot& s = slots_[idx];
  const auto attempt = static_cast<std::uint8_t>(id->generation & kAttemptMask);
  if (!s.in_use || (s.generation & ~kAttemptMask) != (id->generation & ~kAttemptMask) || attempt == 0 ||
      attempt > s.attempt || call_hash(m.call_id, mac_) != s.call_hash) {
    bump(counters_.responses_unmatched);
    return;
  }
  if (m.cseq.method_id == sip::Method::cancel) return;  // 200 to our CANCEL: hop-by-hop
  if (m.cseq.method_id != sip::Method::invite) {
    bump(counters_.responses_unmatched);
    return;
  }
  bump(counters_.inline_responses_in);
  const std::uint16_t code = m.status;
  if (attempt != s.attempt || s.dest.state() == sip::TransactionState::idle) {
    // A branch given up on. Its finals are ACKed; a 2xx still goes to the
    // switch, which must see every 2xx (§16.7 step 5) and ends that dialog.
    bump(counters_.inline_stale_responses);
    if (code >= 300) {
      send_destination_ack(idx, attempt, m);
    } else if (code >= 200) {
      if (s.searching) {
        end_search(idx);
        cancel_destination(idx, now);
      }
      relay_response(idx, m, now);
      // Only a 2xx the switch really got makes the stored state unneeded.
      if (s.server.state() == sip::TransactionState::accepted) s.answered = true;
      reschedule(idx);
      maybe_release(idx);
    } else if (code > 100) {
      // A destination given up while silent wakes up and rings: it must
      // not ring alongside the one now tried (§16.7 step 10).
      send_stale_cancel(idx, attempt, m);
    }
    return;
  }
  const auto a = s.dest.on_response(code, now);
  if (a.has(sip::Action::send_ack)) send_destination_ack(idx, attempt, m);
  if (a.has(sip::Action::pass_to_tu)) {
    if (code < 200) {
      s.branch_deadline = sip::kNoDeadline;
      if (options_.in_line.ring_timeout.count() > 0 && s.ring_deadline == sip::kNoDeadline && s.searching) {
        s.ring_deadline = now + options_.in_line.ring_timeout;
      }
      if (code > 100) relay_response(idx, m, now);
    } else if (code < 300) {
      end_search(idx);
      bump(counters_.inline_answered);
      relay_response(idx, m, now);
      if (s.server.state() == sip::TransactionState::accepted) s.answered = true;
    } else if (s.searching && !s.cancelled && code < failover_.size() && failover_[code]) {
      note_candidate(idx, &m, code);
      s.dest = sip::InviteClient{};  // ACKed above; its retransmitted finals are stale now
      s.branch_deadline = sip::kNoDeadline;
      s.ring_deadline = sip::kNoDeadline;
      bump(counters_.inline_failovers);
      next_destination(idx, now);
    } else {
      // 6xx, a final not configured for failover, or the answer to the
      // switch's CANCEL: it ends the search and goes to the switch. A 503
      // becomes 500, as in finish_search (§16.7 step 6).
      end_search(idx);
      if (code == 503) {
        const sip::ExtraHeader why[] = {{"Reason", "SIP;cause=503;text=\"destination unavailable\""}};
        respond_local(idx, 500, {}, now, why);
      } else {
        relay_response(idx, m, now);
      }
    }
  }
  apply_destination(idx, a, now);
  reschedule(idx);
  maybe_release(idx);
}

// Where an attempt's INVITE went: its Contact's address, over the transport
// it was sent on (a size upgrade may have changed it from the Contact's).
bool RelayEngine::attempt_peer(const InlineState& st, std::uint8_t attempt, SwitchPeer& out) const {
  sip::Uri uri;
  sip::NextHop hop;
  if (!sip::parse_uri(st.target_uri(attempt), uri) || sip::next_hop_for_uri(uri, hop) != sip::HopError::ok) {
    return false;
  }
  out = udp_peer(hop, st.destination.local);
  out.transport = static_cast<Transport>(st.transport_of_attempt[attempt]);
  return true;
}

// ACK for a destination's 300-699 final (§17.1.1.3): the INVITE's
// Request-URI and top Via, the response's To.
void RelayEngine::send_destination_ack(std::uint32_t idx, std::uint8_t attempt, const sip::Message& resp) {
  Slot& s = slots_[idx];
  if (s.inl == kNone) return;
  const InlineState& st = inline_[s.inl];
  SwitchPeer peer;
  if (!attempt_peer(st, attempt, peer)) return;
  const sip::Header* from = resp.find(sip::HeaderId::from);
  const sip::Header* to = resp.find(sip::HeaderId::to);
  if (from == nullptr || to == nullptr) return;
  char out[4096];
  Writer w(out, sizeof out);
  engine_detail::write_hop_request(
      w, {.method = "ACK", .request_uri = st.target_uri(attempt),
          .via = via_prefix_for(st.transport_of_attempt[attempt]), .via_tail = resp.top_via.branch,
          .from = from->value, .to = to->value, .call_id = resp.call_id, .cseq = resp.cseq.number});
  w << "Content-Length: 0\r\n\r\n";
  if (!w.ok()) return;
  const sip::Segment seg{out, w.size()};
  io_.to_destination(peer, s.call_hash, std::span(&seg, 1));
  bump(counters_.inline_acks_out);
}

// CANCEL for the live branch (§9.1): built from the INVITE it cancels.
void RelayEngine::send_destination_cancel(std::uint32_t idx) {
  Slot& s = slots_[idx];
  if (s.inl == kNone) return;
  const InlineState& st = inline_[s.inl];
  sip::MessageWithHeaders<96> q;
  if (st.invite_len == 0 || !q.parse(std::string_view(st.invite, st.invite_len), kStoredParse).ok()) return;
  const sip::Header* from = q.msg.find(sip::HeaderId::from);
  const sip::Header* to = q.msg.find(sip::HeaderId::to);
  if (from == nullptr || to == nullptr) return;
  char out[4096];
  Writer w(out, sizeof out);
  engine_detail::write_hop_request(
      w, {.method = "CANCEL", .request_uri = q.msg.request_uri_text, .via = q.msg.top_via.text, .from = from->value,
          .to = to->value, .call_id = q.msg.call_id, .cseq = q.msg.cseq.number});
  w << "Content-Length: 0\r\n\r\n";
  if (!w.ok()) return;
  const sip::Segment seg{out, w.size()};
  io_.to_destination(st.destination, s.call_hash, std::span(&seg, 1));
  bump(counters_.inline_cancels_out);
}

// The top Via branch and (when quoted) the Call-ID of an INVITE we sent,
// from as much of it as came back. ICMP quotes only its first few hundred
// bytes, so this does not need the whole message to parse.
static bool quoted_invite(std::string_view sent, std::string_view& branch, std::string_view& call_id) {
  sip::MessageWithHeaders<96> m;
  if (m.parse(sent, kStoredParse).ok()) {
    if (!m.msg.is_request || m.msg.method_id != sip::Method::invite) return false;
    branch = m.msg.top_via.branch;
    call_id = m.msg.call_id;
    return true;
  }
  if (sent.substr(0, 7) != "INVITE ") return false;
  // Our Via is the first header of everything we send to a destination.
  const std::size_t line = sent.find("\r\n");
  if (line == std::string_view::npos) return false;
  std::string_view rest = sent.substr(line + 2);
  const std::size_t colon = rest.find(':');
  const std::size_t eol = rest.find("\r\n");
  if (colon == std::string_view::npos || eol == std::string_view::npos || colon > eol) return false;
  const std::string_view name = sip::trim_lws(rest.substr(0, colon));
  if (sip::classify_header(name) != sip::HeaderId::via) return false;
  sip::ViaList list(rest.substr(colon + 1, eol - colon - 1));
  sip::Via v;
  if (!list.next(v)) return false;
  branch = v.branch;
  call_id = {};
  return true;
}

void RelayEngine::on_destination_unreachable(std::string_view sent, sip::Millis now, const sockaddr_storage* to) {
  if (!options_.in_line.enabled) return;
  bump(counters_.inline_transport_errors);
  std::string_view branch;
  std::string_view call_id;
  if (!quoted_invite(sent, branch, call_id)) return;  // ACK, CANCEL, a response: their senders' timers cope
  const auto id = sip::decode_branch(branch, mac_);
  if (!id || id->worker != options_.worker || id->slot >= options_.max_transactions) return;
  const std::uint32_t idx = id->slot;
  Slot& s = slots_[idx];
  const auto attempt = static_cast<std::uint8_t>(id->generation & kAttemptMask);
  if (!s.in_use || (s.generation & ~kAttemptMask) != (id->generation & ~kAttemptMask) || attempt != s.attempt ||
      !s.searching || s.inl == kNone || (!call_id.empty() && call_hash(call_id, mac_) != s.call_hash)) {
    return;
  }
  InlineState& st = inline_[s.inl];
  if (to != nullptr && !sip::same_endpoint(*to, st.destination.addr)) return;
  if (!s.cancelled && st.upgraded && st.transport_of_attempt[attempt] == static_cast<std::uint8_t>(Transport::tcp)) {
    // §18.1.1: TCP failed for a large request; UDP it is, fragments and all.
    bump(counters_.inline_udp_fallbacks);
    if (send_attempt(idx, attempt, true, now)) return;
  }
  abandon_branch(idx, 503, now);  // a transport error counts as a 503 (§16.7 step 6 via §16.9)
  reschedule(idx);
  maybe_release(idx);
}

// CANCEL for a branch already given up that rang after all: its Request-URI
// is that attempt's Contact, its Via our branch as the response carries it,
// its To the response's without the tag.
void RelayEngine::send_stale_cancel(std::uint32_t idx, std::uint8_t attempt, const sip::Message& resp) {
  Slot& s = slots_[idx];
  if (s.inl == kNone) return;
  const InlineState& st = inline_[s.inl];
  SwitchPeer peer;
  if (!attempt_peer(st, attempt, peer)) return;
  const sip::Header* from = resp.find(sip::HeaderId::from);
  if (from == nullptr || !resp.to.has_tag) return;
  // The To value up to ";tag=..." and after it.
  const std::string_view to = resp.find(sip::HeaderId::to)->value;
  const auto tag_at = static_cast<std::size_t>(resp.to.tag.data() - to.data());
  const std::size_t cut = to.rfind(';', tag_at);
  if (cut == std::string_view::npos) return;
  const std::size_t after = tag_at + resp.to.tag.size();
  char out[4096];
  Writer w(out, sizeof out);
  engine_detail::write_hop_request(
      w, {.method = "CANCEL", .request_uri = st.target_uri(attempt),
          .via = via_prefix_for(st.transport_of_attempt[attempt]), .via_tail = resp.top_via.branch,
          .from = from->value, .to = to.substr(0, cut), .to_tail = to.substr(after), .call_id = resp.call_id,
          .cseq = resp.cseq.number});
  w << "Content-Length: 0\r\n\r\n";
  if (!w.ok()) return;
  const sip::Segment seg{out, w.size()};
  io_.to_destination(peer, s.call_hash, std::span(&seg, 1));
  bump(counters_.inline_cancels_out);
}

// ---------------------------------------------------------------------------
// Inside dialogs: loose routing on our Record-Route, no per-dialog state.

// The Record-Route token: a keyed MAC of the Call-ID and the caller's From
// tag, which every request of the dialog carries (as From tag one way, as
// To tag the other).
std::size_t RelayEngine::route_token(std::string_view call_id, std::string_view tag, char* out) const {
  char buf[256];
  Writer w(buf, sizeof buf);
  put_hex64(w, call_hash(call_id, mac_));
  w << "|rr|" << tag;
  if (!w.ok()) return 0;
  std::uint64_t h = mac_(std::span(reinterpret_cast<const std::uint8_t*>(buf), w.size()));
  for (int i = 15; i >= 0; --i, h >>= 4) out[i] = kHex[h & 15];
  return 16;
}

bool RelayEngine::token_matches(const sip::Message& m, std::string_view token) const {
  char expected[16];
  for (const std::string_view tag : {m.from.tag, m.to.tag}) {
    const std::size_t n = route_token(m.call_id, tag, expected);
    if (n > 0 && token == std::string_view(expected, n)) return true;
  }
  return false;
}

bool RelayEngine::routes_through_us(const sip::Message& m) const {
  const sip::Header* h = m.find(sip::HeaderId::route);
  if (h == nullptr) return false;
  sip::NameAddrList list(h->value);
  sip::NameAddr na;
  if (!list.next(na)) return false;
  sip::Uri uri;
  if (!sip::parse_uri(na.uri_text, uri)) return false;
  const auto token = sip::find_param(uri.params, kRouteParam);
  return token && token_matches(m, *token);
}

// "z9hG4bK-srs-" kind owner conn family address port local "-" mac, all
// lowercase hex but the kind letter and family digit. The MAC covers the
// rest of the branch and the via-parm the request came with, which its
// responses carry back below ours.
std::size_t RelayEngine::stateless_branch(const sip::Message& m, const SwitchPeer& from, char* out) const {
  Writer w(out, 160);
  w << kStatelessPrefix;
  w << (from.transport == Transport::udp ? "u" : from.transport == Transport::tcp ? "t" : "s");
  put_hex(w, &from.conn_owner, 1);
  const std::uint32_t conn = htonl(from.conn_id);
  put_hex(w, &conn, 4);
  put_hex(w, &from.local, 1);
  std::uint16_t port = 0;
  if (from.addr.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(from.addr);
    w << "6";
    put_hex(w, &a.sin6_addr, 16);
    port = a.sin6_port;
  } else {
    const auto& a = reinterpret_cast<const sockaddr_in&>(from.addr);
    w << "4";
    put_hex(w, &a.sin_addr, 4);
    port = a.sin_port;
  }
  put_hex(w, &port, 2);
  const std::size_t body = w.size();
  char buf[1024];
  Writer mw(buf, sizeof buf);
  mw << std::string_view(out, body) << "|" << m.top_via.text;
  if (!mw.ok()) return 0;
  w << "-";
  put_hex64(w, mac_(std::span(reinterpret_cast<const std::uint8_t*>(buf), mw.size())));
  return w.ok() ? w.size() : 0;
}

// Recovers the way back from a stateless branch; false when it is not one
// of ours (wrong form or MAC).
static bool decode_stateless(std::string_view branch, std::string_view below, sip::BranchMac mac, SwitchPeer& out) {
  if (branch.substr(0, kStatelessPrefix.size()) != kStatelessPrefix) return false;
  const std::size_t dash = branch.rfind('-');
  if (dash == std::string_view::npos || dash < kStatelessPrefix.size()) return false;
  const std::string_view body = branch.substr(0, dash);
  std::string_view mac_text = branch.substr(dash + 1);
  std::string_view in = body.substr(kStatelessPrefix.size());
  if (in.empty()) return false;
  SwitchPeer p;
  switch (in[0]) {
    case 'u': p.transport = Transport::udp; break;
    case 't': p.transport = Transport::tcp; break;
    case 's': p.transport = Transport::tls; break;
    default: return false;
  }
  in.remove_prefix(1);
  std::uint32_t conn = 0;
  if (!get_hex(in, &p.conn_owner, 1) || !get_hex(in, &conn, 4) || !get_hex(in, &p.local, 1) || in.empty()) return false;
  p.conn_id = ntohl(conn);
  const char family = in[0];
  in.remove_prefix(1);
  if (family == '6') {
    auto& a = reinterpret_cast<sockaddr_in6&>(p.addr);
    a.sin6_family = AF_INET6;
    if (!get_hex(in, &a.sin6_addr, 16) || !get_hex(in, &a.sin6_port, 2)) return false;
    p.addr_len = sizeof(sockaddr_in6);
  } else if (family == '4') {
    auto& a = reinterpret_cast<sockaddr_in&>(p.addr);
    a.sin_family = AF_INET;
    if (!get_hex(in, &a.sin_addr, 4) || !get_hex(in, &a.sin_port, 2)) return false;
    p.addr_len = sizeof(sockaddr_in);
  } else {
    return false;
  }
  std::uint64_t got = 0;
  std::uint8_t raw[8];
  if (!in.empty() || mac_text.size() != 16 || !get_hex(mac_text, raw, 8)) return false;
  for (const auto byte : raw) got = got << 8 | byte;
  char buf[1024];
  Writer mw(buf, sizeof buf);
  mw << body << "|" << below;
  if (!mw.ok() || mac(std::span(reinterpret_cast<const std::uint8_t*>(buf), mw.size())) != got) return false;
  out = p;
  return true;
}

void RelayEngine::loose_route(const sip::Message& m, const SwitchPeer& from) {
  const bool ack = m.method_id == sip::Method::ack;
  // Only requests inside a dialog: a new call never passes by Route alone
  // (it goes to the service like any other INVITE).
  if (!m.to.has_tag || m.to.tag.empty()) {
    if (!ack) answer_stateless(m, from, 403, {});
    bump(counters_.inline_route_rejected);
    return;
  }
  if (m.max_forwards == 0) {
    if (!ack) answer_stateless(m, from, 483, {});
    bump(counters_.inline_route_rejected);
    return;
  }
  // The Route values after ours, in order.
  std::string_view rest[16];
  std::size_t rest_count = 0;
  bool leading = true;  // still among our own values (one, or two after a double Record-Route)
  bool too_many = false;
  for (const auto& h : m.headers) {
    if (h.id != sip::HeaderId::route) continue;
    sip::NameAddrList list(h.value);
    sip::NameAddr na;
    while (list.next(na)) {
      if (leading) {
        sip::Uri uri;
        if (sip::parse_uri(na.uri_text, uri)) {
          const auto token = sip::find_param(uri.params, kRouteParam);
          if (token && token_matches(m, *token)) continue;
        }
        leading = false;
      }
      if (rest_count == std::size(rest)) {
        too_many = true;
        break;
      }
      rest[rest_count++] = na.text;
    }
  }
  sip::NextHop hop;
  bool routable = !too_many;
  if (routable && rest_count > 0) {
    sip::NameAddr na;
    sip::Uri uri;
    routable = sip::parse_name_addr(rest[0], na) && sip::parse_uri(na.uri_text, uri) &&
               sip::next_hop_for_uri(uri, hop) == sip::HopError::ok;
  } else if (routable) {
    sip::Uri uri;
    routable = sip::parse_uri(m.request_uri_text, uri) && sip::next_hop_for_uri(uri, hop) == sip::HopError::ok;
  }
  if (!routable) {
    if (!ack) {
      const sip::ExtraHeader why[] = {{"Reason", "SIP;cause=502;text=\"next hop is not a numeric address\""}};
      answer_stateless(m, from, 502, {}, why);
    }
    bump(counters_.inline_route_rejected);
    return;
  }
  char branch[160];
  const std::size_t blen = stateless_branch(m, from, branch);
  // Never back to ourselves; and a peer outside acl.allow (a destination)
  // may only reach the switches, so nobody can use us as an open relay.
  if (sip::same_endpoint(hop.addr, options_.in_line.advertise_addr) ||
      (from.unlisted && options_.in_line.switches != nullptr && !options_.in_line.switches->allows(hop.addr))) {
    if (!ack) answer_stateless(m, from, 403, {});
    bump(counters_.inline_route_rejected);
    return;
  }
  const Transport t = transport_of(hop.transport);
  char via[320];
  Writer vw(via, sizeof via);
  vw << via_prefix_for(static_cast<std::uint8_t>(t)) << std::string_view(branch, blen);
  sip::Rewriter rw(m);
  bool ok = blen > 0 && vw.ok() && removed(rw.remove_headers(sip::HeaderId::route)) &&
            rw.decrement_max_forwards() == sip::RewriteError::ok &&
            rw.prepend_via(std::string_view(via, vw.size())) == sip::RewriteError::ok;
  for (std::size_t i = 0; ok && i < rest_count; ++i) ok = rw.add_header_ref("Route", rest[i]) == sip::RewriteError::ok;
  if (!ok) {
    if (!ack) answer_stateless(m, from, 500, {});
    bump(counters_.inline_route_rejected);
    return;
  }
  SwitchPeer to = udp_peer(hop, from.transport == Transport::udp ? from.local : 0);
  to.transport = t;
  io_.to_destination(to, call_hash(m.call_id, mac_), rw.segments());
  bump(counters_.inline_routed_requests);
}

void RelayEngine::route_response(const sip::Message& m) {
  SwitchPeer back;
  if (!decode_stateless(m.top_via.branch, second_via(m), mac_, back)) {
    bump(counters_.responses_unmatched);
    return;
  }
  sip::Rewriter rw(m);
  if (rw.remove_top_via() != sip::RewriteError::ok) return;
  io_.to_switch(back, rw.segments());
  bump(counters_.inline_routed_responses);
}

bool RelayEngine::admits_unlisted(const sip::Message& m) const {
  if (!options_.in_line.enabled) return false;
  if (!m.is_request) {
    const std::string_view b = m.top_via.branch;
    SwitchPeer back;
    if (b.substr(0, kStatelessPrefix.size()) == kStatelessPrefix) return decode_stateless(b, second_via(m), mac_, back);
    const auto id = sip::decode_branch(b, mac_);
    return id.has_value() && id->worker < 255 && (id->generation & kAttemptMask) != 0;
  }
  return m.find(sip::HeaderId::route) != nullptr && routes_through_us(m);
}

}  // namespace sigrelay::dataplane
