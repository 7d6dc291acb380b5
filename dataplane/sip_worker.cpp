#include "dataplane/sip_worker.hpp"

#include <rte_mbuf.h>

namespace sigrelay::dataplane {
namespace {
constexpr unsigned kBurst = 32;
constexpr auto kMaxSleep = std::chrono::milliseconds(50);
}  // namespace

SipWorker::SipWorker(const SipWorkerOptions& options, std::unique_ptr<DatagramIo> io, Mailboxes& mail,
                     const SourceFilter& filter, sip::BranchMac mac, RelayCounters& counters,
                     const UpstreamStatus& upstream)
    : options_(options),
      mail_(mail),
      filter_(filter),
      mac_(mac),
      counters_(counters),
      upstream_(upstream),
      pool_(static_cast<std::uint8_t>(options.index), options.pool_packets, options.max_message),
      io_(std::move(io)) {
  options_.engine.worker = static_cast<std::uint8_t>(options.index);
  engine_ = std::make_unique<RelayEngine>(options_.engine, mac_, *this, counters_);
}

SipWorker::~SipWorker() = default;

bool SipWorker::open(std::string& error) { return io_->open(mail_.wake_fd(options_.index), error); }

sip::Millis SipWorker::now() const {
  return std::chrono::duration_cast<sip::Millis>(std::chrono::steady_clock::now() - epoch_) + sip::Millis{1};
}

void SipWorker::run(const std::atomic<int>& phase) {
  bool drained = false;
  while (true) {
    const int ph = phase.load(std::memory_order_acquire);
    if (ph == static_cast<int>(Phase::stopped)) break;
    if (ph == static_cast<int>(Phase::draining) && !drained) {
      engine_->shutdown(now());
      drained = true;
    }
    follow_policy();
    unsigned work = poll_udp();
    work += take_unreachables();
    work += drain_rings();
    const auto t = now();
    engine_->on_timer(t);
    work += io_->service(t);
    work += share_announcements();
    io_->flush();
    if (work == 0) sleep_until_work();
  }
  io_->flush();
}

void SipWorker::sleep_until_work() {
  if (!io_->sleeps()) {
    // A polling backend never blocks, so it keeps out of the wake-up
    // protocol: no eventfd read here, no eventfd write by the producers.
    io_->idle(sip::Millis{1});
    return;
  }
  mail_.prepare_sleep(options_.index);
  // A producer that enqueued before our flag was visible did not wake us:
  // look once more before sleeping.
  if (drain_rings() > 0) {
    mail_.woke(options_.index);
    return;
  }
  const auto t = now();
  const auto next = engine_->next_deadline();
  auto wait = kMaxSleep;
  if (next != sip::kNoDeadline) wait = std::min(kMaxSleep, next > t ? next - t : sip::Millis{0});
  io_->idle(wait);
  mail_.woke(options_.index);
}

// The trace of one UDP datagram: our address is the listen socket's.
void SipWorker::trace_udp(const SwitchPeer& peer, std::span<const sip::Segment> msg, bool sent) {
  const sockaddr_storage& local =
      peer.local < options_.local_addresses.size() ? options_.local_addresses[peer.local] : any_address_;
  trace_buf_.clear();
  for (const auto& s : msg) trace_buf_.append(s.data, s.len);
  TracePoint t;
  t.src = sent ? &local : &peer.addr;
  t.dst = sent ? &peer.addr : &local;
  t.transport = Transport::udp;
  t.sent = sent;
  t.bytes = trace_buf_;
  options_.trace->record(t);
}

unsigned SipWorker::poll_udp() {
  Packet* batch[kBurst];
  const unsigned got = io_->receive(pool_, batch, now());
  if (got > 0 && tracing()) {
    for (unsigned k = 0; k < got; ++k) {
      const sip::Segment seg{batch[k]->data(), batch[k]->len};
      trace_udp(batch[k]->peer, std::span(&seg, 1), false);
    }
  }
  if (got == 0 && pool_.available() == 0) bump(counters_.pool_empty);
  if (options_.local_processing == nullptr) {
    for (unsigned k = 0; k < got; ++k) handle_datagram(batch[k], false);
  } else {
    for (unsigned k = 0; k < got; ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      handle_datagram(batch[k], false);
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
      options_.local_processing->record(static_cast<std::uint64_t>(us.count()));
    }
  }
  bump(counters_.datagrams_in, got);
  return got;
}

// Once per loop turn: a quiescent point for the policy board (this thread
// holds no policy pointer here), then a new generation goes to the engine.
void SipWorker::follow_policy() {
  if (options_.policy == nullptr) return;
  options_.policy->quiescent(options_.index);
  const RuntimePolicy* p = options_.policy->current();
  if (p->generation != policy_generation_) {
    policy_generation_ = p->generation;
    engine_->apply_policy(*p);
  }
}

// Datagrams the network refused (ICMP unreachable): in-line mode gives the
// destination up at once instead of waiting for its timeout.
unsigned SipWorker::take_unreachables() {
  unsigned n = 0;
  char buf[2048];
  sockaddr_storage to{};
  while (const std::size_t len = io_->take_unreachable(buf, sizeof buf, to)) {
    ++n;
    engine_->on_destination_unreachable(std::string_view(buf, len), now(), &to);
  }
  return n;
}

void SipWorker::handle_datagram(Packet* p, bool handed_off) {
  // Whether the source is in acl.allow travels with a handed-off packet.
  if (!handed_off) p->peer.unlisted = !filter_.allows(p->peer.addr);
  const bool listed = !p->peer.unlisted;
  if (!listed && !options_.engine.in_line.enabled) {
    bump(counters_.acl_denied);
    release(p);
    return;
  }
  sip::MessageWithHeaders<96> parsed;
  sip::ParseOptions opts;
  opts.max_message_size = options_.max_message;
  // Validate what the relay reads; the rest travels on unchanged and the
  // service judges it (docs/sip-parser.md, "Parse depth").
  opts.depth = sip::ParseDepth::relay;
  const auto r = parsed.parse(p->view(), opts);
  // In-line mode: destinations and the far end of our dialogs are not in
  // acl.allow; what they send comes in only when it proves, by keyed MAC,
  // that it belongs to a call we carry (RelayEngine::admits_unlisted).
  if (!listed && (!r.ok() || !engine_->admits_unlisted(parsed.msg))) {
    bump(counters_.acl_denied);
    release(p);
    return;
  }
  const unsigned workers = mail_.sip_workers();
  if (!handed_off && workers > 1 && !parsed.msg.call_id.empty()) {
    // Ownership by Call-ID: the same call always lands on the same worker,
    // however the kernel spread the datagrams.
    const auto owner = static_cast<unsigned>(RelayEngine::call_hash(parsed.msg.call_id, mac_) % workers);
    if (owner != options_.index) {
      p->kind = PacketKind::handoff;
      if (mail_.send_one(options_.index, owner, p)) {
        bump(counters_.handoffs_out);
        return;
      }
      bump(counters_.ring_full);  // handled here instead: correct, only not on its owner
    }
  }
  engine_->on_switch_message(parsed.msg, r, p->peer, now());
  release(p);
}

void SipWorker::handle_stream_message(Packet* p, bool from_switch) {
  // Stream messages arrive framed by the tls worker: exactly one message,
  // Content-Length mandatory (RFC 3261 §18.3).
  sip::MessageWithHeaders<96> parsed;
  sip::ParseOptions opts;
  opts.datagram = false;
  opts.max_message_size = options_.max_message;
  opts.depth = sip::ParseDepth::relay;
  const auto r = parsed.parse(p->view(), opts);
  if (from_switch && p->peer.unlisted && (!r.ok() || !engine_->admits_unlisted(parsed.msg))) {
    bump(counters_.acl_denied);
    release(p);
    return;
  }
  if (from_switch) {
    engine_->on_switch_message(parsed.msg, r, p->peer, now());
  } else {
    engine_->on_upstream_message(parsed.msg, r, now());
  }
  release(p);
}

unsigned SipWorker::drain_rings() {
  unsigned total = 0;
  Packet* batch[kBurst];
  for (unsigned from = 0; from < mail_.threads(); ++from) {
    if (from == options_.index) continue;
    const unsigned n = mail_.receive(from, options_.index, batch);
    for (unsigned k = 0; k < n; ++k) {
      Packet* p = batch[k];
      switch (p->kind) {
        case PacketKind::free_buffer:
          pool_.put(p);
          break;
        case PacketKind::handoff:
          handle_datagram(p, true);
          break;
        case PacketKind::switch_message:
          handle_stream_message(p, true);
          break;
        case PacketKind::from_upstream:
          handle_stream_message(p, false);
          break;
        case PacketKind::undeliverable:
          engine_->on_destination_unreachable(p->view(), now());
          release(p);
          break;
        case PacketKind::announcement:
          io_->on_announcement(p->view(), now());
          release(p);
          break;
        default:
          release(p);
          break;
      }
    }
    total += n;
  }
  return total;
}

unsigned SipWorker::share_announcements() {
  unsigned n = 0;
  char buf[128];
  while (const std::size_t len = io_->take_announcement(buf, sizeof buf)) {
    ++n;
    for (unsigned to = 0; to < mail_.sip_workers(); ++to) {
      if (to == options_.index) continue;
      Packet* p = pool_.get();
      if (p == nullptr) {
        bump(counters_.pool_empty);
        continue;
      }
      const sip::Segment seg{buf, len};
      p->assign(std::span(&seg, 1));
      p->kind = PacketKind::announcement;
      if (!mail_.send_one(options_.index, to, p)) {
        bump(counters_.ring_full);
        pool_.put(p);
      }
    }
  }
  return n;
}

void SipWorker::release(Packet* p) {
  if (p->mbuf != nullptr) {
    rte_pktmbuf_free(static_cast<rte_mbuf*>(p->mbuf));
    return;
  }
  if (p->owner == options_.index) {
    pool_.put(p);
    return;
  }
  p->kind = PacketKind::free_buffer;
  // The ring back to the owner is as large as the owner's pool, so this
  // cannot fail while the owner's packets are all accounted for.
  if (!mail_.send_one(options_.index, p->owner, p)) bump(counters_.ring_full);
}

void SipWorker::to_switch(const SwitchPeer& peer, std::span<const sip::Segment> msg) {
  if (peer.transport == Transport::udp) {
    if (tracing()) trace_udp(peer, msg, true);
    io_->send(peer, msg, now());
    return;
  }
  post_to_tls(peer.conn_owner, PacketKind::to_switch_stream, peer, 0, msg);
}

// A message for a tls worker (its index among the tls workers), copied into
// a packet of this worker's pool. False (counted) when no packet is free or
// the ring is full; the packet then stays home.
bool SipWorker::post_to_tls(unsigned tls_worker, PacketKind kind, const SwitchPeer& peer, std::uint64_t call_hash,
                            std::span<const sip::Segment> msg) {
  Packet* p = pool_.get();
  if (p == nullptr) {
    bump(counters_.pool_empty);
    return false;
  }
  if (!p->assign(msg)) {
    pool_.put(p);
    return false;
  }
  p->kind = kind;
  p->peer = peer;
  p->call_hash = call_hash;
  if (!mail_.send_one(options_.index, mail_.sip_workers() + tls_worker, p)) {
    bump(counters_.ring_full);
    pool_.put(p);
    return false;
  }
  return true;
}

bool SipWorker::to_upstream(std::uint64_t call_hash, std::span<const sip::Segment> msg) {
  if (mail_.tls_workers() == 0 || !upstream_up()) return false;
  return post_to_tls(static_cast<unsigned>(call_hash % mail_.tls_workers()), PacketKind::to_upstream, SwitchPeer{},
                     call_hash, msg);
}

bool SipWorker::to_destination(const SwitchPeer& to, std::uint64_t call_hash, std::span<const sip::Segment> msg) {
  if (to.transport == Transport::udp) {
    if (tracing()) trace_udp(to, msg, true);
    return io_->send(to, msg, now());
  }
  if (mail_.tls_workers() == 0) return false;
  return post_to_tls(static_cast<unsigned>(call_hash % mail_.tls_workers()), PacketKind::to_destination_stream, to,
                     call_hash, msg);
}

bool SipWorker::upstream_up() const { return upstream_.total(mail_.tls_workers()) > 0; }

}  // namespace sigrelay::dataplane
