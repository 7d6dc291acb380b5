// Fresh frames for the wire: a single-segment mbuf with the Ethernet header
// (and our VLAN tag) written, room for the layer-3 bytes reserved.
#pragma once

#include <rte_ether.h>
#include <rte_mbuf.h>

#include <cstdint>

namespace sigrelay::dataplane::net {

struct FrameTemplate {
  rte_ether_addr src{};
  std::uint16_t vlan = 0;
};

// Returns nullptr when the pool is empty or `l3_bytes` do not fit in one
// segment. `l3` points at the reserved bytes (not cleared).
rte_mbuf* new_frame(rte_mempool* pool, const FrameTemplate& tpl, const rte_ether_addr& dst, std::uint16_t ether_type,
                    std::uint32_t l3_bytes, std::uint8_t*& l3);

// Appends zeros up to the Ethernet minimum so the frame is valid whatever
// the NIC does about short frames. False when the pool ran dry.
bool pad_frame(rte_mbuf* m, rte_mempool* pool);

// Makes sure a received frame we answer in place carries our VLAN tag: a PMD
// that stripped the tag on receive left a 14-byte header. Needs 4 bytes of
// headroom, which every PMD leaves (RTE_PKTMBUF_HEADROOM).
bool restore_vlan_tag(rte_mbuf* m, std::uint16_t& l2_len, std::uint16_t vlan);

}  // namespace sigrelay::dataplane::net
