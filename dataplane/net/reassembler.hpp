// IPv4 and IPv6 reassembly over DPDK's rte_ip_frag: one table per NetStack
// (single owner, no locks), bounded in flows and in fragments per datagram
// (RTE_LIBRTE_IP_FRAG_MAX_FRAG, 8 in Debian's build), with a timeout.
// Timestamps are our milliseconds: rte_ip_frag only compares them with the
// table's lifetime, which we give in the same unit.
//
// A completed datagram comes back as an mbuf chain: the first fragment's
// mbuf (Ethernet and IP headers, the IPv6 Fragment header removed, lengths
// updated, IPv4 header checksum left 0) followed by the other fragments'
// payloads. Fragments that die (timeout, overlap, too many, table full) are
// freed through the death row and counted.
#pragma once

#include <rte_ip_frag.h>

#include <cstdint>
#include <memory>

#include "dataplane/net/net_counters.hpp"
#include "sip/transaction.hpp"

namespace sigrelay::dataplane::net {

class Reassembler {
 public:
  // nullptr when the table cannot be allocated.
  static std::unique_ptr<Reassembler> create(unsigned flows, sip::Millis timeout, NetCounters& counters);
  ~Reassembler();
  Reassembler(const Reassembler&) = delete;
  Reassembler& operator=(const Reassembler&) = delete;

  // m->l2_len and m->l3_len must be set (for IPv6, l3_len = 40 + 8: the
  // Fragment header directly after the fixed header). Returns the whole
  // datagram, or nullptr when it is still incomplete or the fragment died.
  rte_mbuf* add_v4(rte_mbuf* m, rte_ipv4_hdr* ip, sip::Millis now);
  rte_mbuf* add_v6(rte_mbuf* m, rte_ipv6_hdr* ip, rte_ipv6_fragment_ext* frag, sip::Millis now);

  // Frees datagrams older than the timeout.
  void expire(sip::Millis now);

 private:
  Reassembler(rte_ip_frag_tbl* table, NetCounters& counters) : table_(table), counters_(counters) {}
  void bury();

  rte_ip_frag_tbl* table_;
  NetCounters& counters_;
  rte_ip_frag_death_row death_row_{};
};

}  // namespace sigrelay::dataplane::net
