#include "dataplane/net/neighbour_cache.hpp"

#include <cstring>

#include "dataplane/net/neighbour_discovery.hpp"

namespace sigrelay::dataplane::net {

NeighbourCache::NeighbourCache(const NeighbourParams& params, NetCounters& counters, NeighbourSink& sink)
    : params_(params), counters_(counters), sink_(sink), entries_(params.entries), holds_(static_cast<std::size_t>(params.entries) * params.hold_per_entry, nullptr) {
  std::uint32_t slots = 1;
  while (slots < params.entries * 2u) slots <<= 1;
  slots_.assign(slots, -1);
  slot_mask_ = slots - 1;
  free_.reserve(params.entries);
  for (std::uint32_t i = params.entries; i-- > 0;) free_.push_back(i);
}

NeighbourCache::~NeighbourCache() {
  for (auto& e : entries_) {
    while (e.held > 0) {
      rte_pktmbuf_free(holds_[static_cast<std::size_t>(&e - entries_.data()) * params_.hold_per_entry + e.hold_head]);
      e.hold_head = (e.hold_head + 1) % params_.hold_per_entry;
      --e.held;
    }
  }
}

std::uint32_t NeighbourCache::home_slot(const IpAddress& ip) const {
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  std::memcpy(&a, ip.bytes.data(), 8);
  std::memcpy(&b, ip.bytes.data() + 8, 8);
  std::uint64_t h = (a ^ static_cast<std::uint64_t>(ip.family)) * 0x9e3779b97f4a7c15ull;
  h ^= (b + (h >> 29)) * 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  return static_cast<std::uint32_t>(h) & slot_mask_;
}

NeighbourEntry* NeighbourCache::lookup(const IpAddress& ip) {
  for (std::uint32_t s = home_slot(ip);; s = (s + 1) & slot_mask_) {
    const std::int32_t idx = slots_[s];
    if (idx < 0) return nullptr;
    if (entries_[static_cast<std::uint32_t>(idx)].ip == ip) return &entries_[static_cast<std::uint32_t>(idx)];
  }
}

const NeighbourEntry* NeighbourCache::find(const IpAddress& ip) const {
  return const_cast<NeighbourCache*>(this)->lookup(ip);
}

NeighbourEntry* NeighbourCache::insert(const IpAddress& ip) {
  if (free_.empty()) return nullptr;
  const std::uint32_t idx = free_.back();
  free_.pop_back();
  std::uint32_t s = home_slot(ip);
  while (slots_[s] >= 0) s = (s + 1) & slot_mask_;  // at most half full: terminates
  slots_[s] = static_cast<std::int32_t>(idx);
  NeighbourEntry& e = entries_[idx];
  e = NeighbourEntry{};
  e.ip = ip;
  ++used_count_;
  return &e;
}

// Backward-shift deletion keeps every probe chain unbroken without tombstones.
void NeighbourCache::erase(NeighbourEntry& e) {
  const auto idx = static_cast<std::int32_t>(&e - entries_.data());
  std::uint32_t hole = home_slot(e.ip);
  while (slots_[hole] != idx) hole = (hole + 1) & slot_mask_;
  std::uint32_t j = hole;
  for (;;) {
    j = (j + 1) & slot_mask_;
    if (slots_[j] < 0) break;
    const std::uint32_t home = home_slot(entries_[static_cast<std::uint32_t>(slots_[j])].ip);
    // The element at j may move into the hole only if its home is not in (hole, j].
    const bool home_between = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (home_between) continue;
    slots_[hole] = slots_[j];
    hole = j;
  }
  slots_[hole] = -1;
  e.state = NeighbourState::free;
  free_.push_back(static_cast<std::uint32_t>(idx));
  --used_count_;
}

void NeighbourCache::deliver(const NeighbourEntry& e, rte_mbuf* frame) {
  std::memcpy(rte_pktmbuf_mtod(frame, std::uint8_t*), &e.mac, 6);
  sink_.transmit(frame);
}

void NeighbourCache::hold(NeighbourEntry& e, rte_mbuf* frame) {
  const std::size_t base = static_cast<std::size_t>(&e - entries_.data()) * params_.hold_per_entry;
  if (e.held == params_.hold_per_entry) {
    // RFC 4861 §7.2.2: the new arrival replaces the oldest.
    rte_pktmbuf_free(holds_[base + e.hold_head]);
    e.hold_head = (e.hold_head + 1) % params_.hold_per_entry;
    --e.held;
    ++counters_.neighbour_hold_overflow;
  }
  holds_[base + (e.hold_head + e.held) % params_.hold_per_entry] = frame;
  ++e.held;
  ++counters_.neighbour_frames_held;
}

// Held frames count as use: the entry is then refreshed when it runs out.
void NeighbourCache::release(NeighbourEntry& e) {
  if (e.held > 0) e.used = true;
  const std::size_t base = static_cast<std::size_t>(&e - entries_.data()) * params_.hold_per_entry;
  while (e.held > 0) {
    rte_mbuf* frame = holds_[base + e.hold_head];
    e.hold_head = (e.hold_head + 1) % params_.hold_per_entry;
    --e.held;
    deliver(e, frame);
  }
  e.hold_head = 0;
}

void NeighbourCache::drop_held(NeighbourEntry& e) {
  const std::size_t base = static_cast<std::size_t>(&e - entries_.data()) * params_.hold_per_entry;
  counters_.neighbour_resolution_failed += e.held;
  while (e.held > 0) {
    rte_pktmbuf_free(holds_[base + e.hold_head]);
    e.hold_head = (e.hold_head + 1) % params_.hold_per_entry;
    --e.held;
  }
}

void NeighbourCache::confirm(NeighbourEntry& e, sip::Millis now) {
  e.state = NeighbourState::reachable;
  e.deadline = now + params_.reachable;
  e.tries = 0;
  e.used = false;
}

void NeighbourCache::make_stale(NeighbourEntry& e, sip::Millis now) {
  e.state = NeighbourState::stale;
  e.deadline = now + params_.reachable;
  e.tries = 0;
  e.used = false;
}

void NeighbourCache::start_probe(NeighbourEntry& e, sip::Millis now) {
  e.state = NeighbourState::probe;
  e.tries = 1;
  e.deadline = now + params_.retry;
  sink_.solicit(e.ip, &e.mac);
}

NeighbourCache::Outcome NeighbourCache::send(const IpAddress& next_hop, rte_mbuf* frame, sip::Millis now) {
  NeighbourEntry* e = lookup(next_hop);
  if (e == nullptr) {
    e = insert(next_hop);
    if (e == nullptr) {
      rte_pktmbuf_free(frame);
      ++counters_.neighbour_table_full;
      return Outcome::dropped;
    }
    e->state = NeighbourState::incomplete;
    e->tries = 1;
    e->deadline = now + params_.retry;
    sink_.solicit(next_hop, nullptr);
  }
  e->used = true;
  switch (e->state) {
    case NeighbourState::incomplete:
      hold(*e, frame);
      return Outcome::held;
    case NeighbourState::reachable:
      if (now >= e->deadline) start_probe(*e, now);
      break;
    case NeighbourState::stale:
      start_probe(*e, now);
      break;
    case NeighbourState::probe:
    case NeighbourState::free:
      break;
  }
  deliver(*e, frame);
  return Outcome::sent;
}

void NeighbourCache::arp_learn(const IpAddress& ip, const rte_ether_addr& mac, bool create, sip::Millis now) {
  if (!learn(ip, mac, create, now)) return;
  announce(ip, mac);
}

bool NeighbourCache::learn(const IpAddress& ip, const rte_ether_addr& mac, bool create, sip::Millis now) {
  NeighbourEntry* e = lookup(ip);
  if (e == nullptr) {
    if (!create) return false;
    e = insert(ip);
    if (e == nullptr) return false;
    e->state = NeighbourState::incomplete;
  }
  const bool was_incomplete = e->state == NeighbourState::incomplete;
  e->mac = mac;
  confirm(*e, now);
  if (was_incomplete) {
    ++counters_.neighbour_learned;
    release(*e);
  }
  return true;
}

void NeighbourCache::announce(const IpAddress& ip, const rte_ether_addr& mac) {
  for (unsigned i = 0; i < announced_count_; ++i) {
    if (announced_[i].ip == ip) {
      announced_[i].mac = mac;
      return;
    }
  }
  if (announced_count_ == kMaxAnnounced) {
    ++counters_.neighbour_announcements_dropped;
    return;
  }
  announced_[announced_count_++] = LearnedNeighbour{ip, mac};
}

unsigned NeighbourCache::take_learned(LearnedNeighbour* out, unsigned max) {
  const unsigned n = announced_count_ < max ? announced_count_ : max;
  for (unsigned i = 0; i < n; ++i) out[i] = announced_[i];
  for (unsigned i = n; i < announced_count_; ++i) announced_[i - n] = announced_[i];
  announced_count_ -= n;
  return n;
}

void NeighbourCache::peer_learned(const IpAddress& ip, const rte_ether_addr& mac, sip::Millis now) {
  if (learn(ip, mac, true, now)) ++counters_.neighbour_peer_updates;
}

void NeighbourCache::nd_solicitation(const IpAddress& ip, const rte_ether_addr& mac, sip::Millis now) {
  NeighbourEntry* e = lookup(ip);
  if (e == nullptr) {
    e = insert(ip);
    if (e == nullptr) return;
    e->mac = mac;
    make_stale(*e, now);
    ++counters_.neighbour_learned;
    announce(ip, mac);
    return;
  }
  if (e->state == NeighbourState::incomplete) {
    e->mac = mac;
    make_stale(*e, now);
    ++counters_.neighbour_learned;
    announce(ip, mac);
    release(*e);
  } else if (!rte_is_same_ether_addr(&e->mac, &mac)) {
    e->mac = mac;
    make_stale(*e, now);
    announce(ip, mac);
  }
}

void NeighbourCache::nd_advertisement(const IpAddress& ip, const rte_ether_addr* mac, std::uint8_t flags,
                                      sip::Millis now) {
  NeighbourEntry* e = lookup(ip);
  if (e == nullptr) return;  // §7.2.5: no entry, nothing to update
  const bool solicited = (flags & kNaSolicited) != 0;
  if (e->state == NeighbourState::incomplete) {
    if (mac == nullptr) return;
    e->mac = *mac;
    if (solicited) {
      confirm(*e, now);
    } else {
      make_stale(*e, now);
    }
    ++counters_.neighbour_learned;
    announce(ip, *mac);
    release(*e);
    return;
  }
  const bool differs = mac != nullptr && !rte_is_same_ether_addr(mac, &e->mac);
  if (!(flags & kNaOverride) && differs) {
    if (e->state == NeighbourState::reachable) make_stale(*e, now);
    return;
  }
  if (mac != nullptr) {
    e->mac = *mac;
    announce(ip, *mac);
  }
  if (solicited) {
    confirm(*e, now);
  } else if (differs) {
    make_stale(*e, now);
  }
}

void NeighbourCache::on_timer(sip::Millis now) {
  for (auto& e : entries_) {
    if (e.state == NeighbourState::free || now < e.deadline) continue;
    switch (e.state) {
      case NeighbourState::incomplete:
        if (e.tries < params_.retries) {
          ++e.tries;
          e.deadline = now + params_.retry;
          sink_.solicit(e.ip, nullptr);
        } else {
          drop_held(e);
          erase(e);
        }
        break;
      case NeighbourState::probe:
        if (e.tries < params_.retries) {
          ++e.tries;
          e.deadline = now + params_.retry;
          sink_.solicit(e.ip, &e.mac);
        } else {
          ++counters_.neighbour_probe_failed;
          erase(e);
        }
        break;
      case NeighbourState::reachable:
      case NeighbourState::stale:
        if (e.used) {
          start_probe(e, now);
        } else {
          ++counters_.neighbour_aged_out;
          erase(e);
        }
        break;
      case NeighbourState::free:
        break;
    }
  }
}

}  // namespace sigrelay::dataplane::net
