// The neighbour table for both IP versions: ARP entries (RFC 826) and
// Neighbour Discovery entries (RFC 4861 §7.3) share one fixed-size table,
// keyed by address. All memory is allocated at construction.
//
// States follow RFC 4861 without DELAY: INCOMPLETE (requests sent, frames
// held), REACHABLE (confirmed within the reachable time), STALE (a MAC we
// have not confirmed lately; used as is), PROBE (in use after going stale:
// unicast requests until an answer or `retries` went unanswered). An entry
// nobody sent to during its reachable time is removed when it runs out, so
// idle neighbours age away and busy ones are refreshed without a gap.
#pragma once

#include <rte_ether.h>
#include <rte_mbuf.h>

#include <cstdint>
#include <vector>

#include "dataplane/net/ip_address.hpp"
#include "dataplane/net/net_counters.hpp"
#include "sip/transaction.hpp"

namespace sigrelay::dataplane::net {

enum class NeighbourState : std::uint8_t { free, incomplete, reachable, stale, probe };

struct NeighbourEntry {
  IpAddress ip;
  rte_ether_addr mac{};
  NeighbourState state = NeighbourState::free;
  bool used = false;         // a frame went to it since it was last confirmed
  std::uint8_t tries = 0;    // requests sent in the current resolution or probe
  std::uint32_t held = 0;    // frames waiting (INCOMPLETE only)
  std::uint32_t hold_head = 0;
  sip::Millis deadline{0};   // REACHABLE/STALE: end of that state; INCOMPLETE/PROBE: next request
};

// What the cache needs from its owner: a way to ask and a way to send.
class NeighbourSink {
 public:
  // Send an ARP request / Neighbour Solicitation for `target`: broadcast or
  // multicast when `unicast` is null, else to that MAC (a probe).
  virtual void solicit(const IpAddress& target, const rte_ether_addr* unicast) = 0;
  // A frame whose destination MAC has been filled in.
  virtual void transmit(rte_mbuf* frame) = 0;

 protected:
  ~NeighbourSink() = default;
};

// A neighbour's link-layer address as one worker learned it from the wire,
// for the other workers: ARP replies and advertisements reach only the
// queue RSS picks, but every worker sends to the same switches.
struct LearnedNeighbour {
  IpAddress ip;
  rte_ether_addr mac{};
};

struct NeighbourParams {
  unsigned entries = 256;
  unsigned hold_per_entry = 8;
  unsigned retries = 3;
  sip::Millis reachable{30000};
  sip::Millis retry{1000};
};

class NeighbourCache {
 public:
  enum class Outcome : std::uint8_t { sent, held, dropped };

  NeighbourCache(const NeighbourParams& params, NetCounters& counters, NeighbourSink& sink);
  ~NeighbourCache();  // frees held frames
  NeighbourCache(const NeighbourCache&) = delete;
  NeighbourCache& operator=(const NeighbourCache&) = delete;

  // `frame` starts with its Ethernet header; the destination MAC is written
  // here. Starts a resolution for an unknown next hop.
  Outcome send(const IpAddress& next_hop, rte_mbuf* frame, sip::Millis now);

  // RFC 826 "merge": refresh an existing entry; add one only when `create`
  // (the packet was addressed to us).
  void arp_learn(const IpAddress& ip, const rte_ether_addr& mac, bool create, sip::Millis now);
  // RFC 4861 §7.2.3: a solicitation with a source link-layer address option.
  void nd_solicitation(const IpAddress& ip, const rte_ether_addr& mac, sip::Millis now);
  // RFC 4861 §7.2.5: an advertisement; `mac` is null without a target link-layer option.
  void nd_advertisement(const IpAddress& ip, const rte_ether_addr* mac, std::uint8_t flags, sip::Millis now);

  void on_timer(sip::Millis now);

  // What this cache learned from the wire since the last call (at most
  // kMaxAnnounced are kept between calls; more are counted and dropped).
  unsigned take_learned(LearnedNeighbour* out, unsigned max);
  // What another worker learned: taken as a confirmation (an entry is made
  // and held frames go out), and not announced again.
  void peer_learned(const IpAddress& ip, const rte_ether_addr& mac, sip::Millis now);
  static constexpr unsigned kMaxAnnounced = 32;

  const NeighbourEntry* find(const IpAddress& ip) const;
  unsigned size() const { return used_count_; }

 private:
  NeighbourEntry* lookup(const IpAddress& ip);
  NeighbourEntry* insert(const IpAddress& ip);
  void erase(NeighbourEntry& e);
  std::uint32_t home_slot(const IpAddress& ip) const;
  void hold(NeighbourEntry& e, rte_mbuf* frame);
  void release(NeighbourEntry& e);
  void drop_held(NeighbourEntry& e);
  void deliver(const NeighbourEntry& e, rte_mbuf* frame);
  void confirm(NeighbourEntry& e, sip::Millis now);
  void make_stale(NeighbourEntry& e, sip::Millis now);
  void start_probe(NeighbourEntry& e, sip::Millis now);
  void announce(const IpAddress& ip, const rte_ether_addr& mac);
  // Sets the MAC and confirms the entry (made when `create`); held frames go
  // out. False when there was no entry to update or make.
  bool learn(const IpAddress& ip, const rte_ether_addr& mac, bool create, sip::Millis now);

  NeighbourParams params_;
  NetCounters& counters_;
  NeighbourSink& sink_;
  std::vector<NeighbourEntry> entries_;
  std::vector<std::uint32_t> free_;        // indexes of free entries
  std::vector<std::int32_t> slots_;        // open addressing, linear probing; -1 = empty
  std::uint32_t slot_mask_ = 0;
  std::vector<rte_mbuf*> holds_;           // entries_.size() * hold_per_entry rings
  unsigned used_count_ = 0;
  LearnedNeighbour announced_[kMaxAnnounced];
  unsigned announced_count_ = 0;
};

}  // namespace sigrelay::dataplane::net
