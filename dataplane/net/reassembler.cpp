// rte_ip_frag_table_del_expired_entries is still marked experimental in 22.11.
#ifndef ALLOW_EXPERIMENTAL_API
#define ALLOW_EXPERIMENTAL_API 1
#endif

#include "dataplane/net/reassembler.hpp"

#include <rte_common.h>

namespace sigrelay::dataplane::net {

namespace {

constexpr std::uint32_t kBucketEntries = 4;  // associativity; rte_ip_frag wants a power of two

std::uint64_t stamp(sip::Millis t) { return static_cast<std::uint64_t>(t.count()); }

}  // namespace

std::unique_ptr<Reassembler> Reassembler::create(unsigned flows, sip::Millis timeout, NetCounters& counters) {
  // Twice the buckets the flows need, so a few unlucky hashes do not make a
  // bucket refuse a flow while the table is far from full.
  const std::uint32_t buckets = rte_align32pow2((flows * 2 + kBucketEntries - 1) / kBucketEntries);
  rte_ip_frag_tbl* table =
      rte_ip_frag_table_create(buckets, kBucketEntries, flows, static_cast<std::uint64_t>(timeout.count()), SOCKET_ID_ANY);
  if (table == nullptr) return nullptr;
  return std::unique_ptr<Reassembler>(new Reassembler(table, counters));
}

Reassembler::~Reassembler() {
  // The table frees the fragments it still holds.
  rte_ip_frag_table_destroy(table_);
  bury();
}

void Reassembler::bury() {
  if (death_row_.cnt == 0) return;
  counters_.frag_mbufs_dropped += death_row_.cnt;
  rte_ip_frag_free_death_row(&death_row_, 0);
}

rte_mbuf* Reassembler::add_v4(rte_mbuf* m, rte_ipv4_hdr* ip, sip::Millis now) {
  rte_mbuf* whole = rte_ipv4_frag_reassemble_packet(table_, &death_row_, m, stamp(now), ip);
  bury();
  return whole;
}

rte_mbuf* Reassembler::add_v6(rte_mbuf* m, rte_ipv6_hdr* ip, rte_ipv6_fragment_ext* frag, sip::Millis now) {
  rte_mbuf* whole = rte_ipv6_frag_reassemble_packet(table_, &death_row_, m, stamp(now), ip, frag);
  bury();
  return whole;
}

void Reassembler::expire(sip::Millis now) {
  // The call stops when the death row is full; keep going until it has
  // nothing more to give.
  for (;;) {
    rte_ip_frag_table_del_expired_entries(table_, &death_row_, stamp(now));
    if (death_row_.cnt == 0) return;
    bury();
  }
}

}  // namespace sigrelay::dataplane::net
