#include "dataplane/net/frame_builder.hpp"

#include <cstring>

#include "dataplane/net/ethernet.hpp"
#include "dataplane/net/mbuf_access.hpp"

namespace sigrelay::dataplane::net {

rte_mbuf* new_frame(rte_mempool* pool, const FrameTemplate& tpl, const rte_ether_addr& dst, std::uint16_t ether_type,
                    std::uint32_t l3_bytes, std::uint8_t*& l3) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return nullptr;
  const std::uint16_t l2_len = ethernet_header_len(tpl.vlan);
  auto* p = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, static_cast<std::uint16_t>(l2_len + l3_bytes)));
  if (p == nullptr || l2_len + l3_bytes > UINT16_MAX) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  write_ethernet(p, dst, tpl.src, tpl.vlan, ether_type);
  m->l2_len = l2_len;
  l3 = p + l2_len;
  return m;
}

bool pad_frame(rte_mbuf* m, rte_mempool* pool) {
  if (m->pkt_len >= kEtherMinFrame) return true;
  ChainWriter w(m, pool);
  return w.zero_fill(kEtherMinFrame - m->pkt_len);
}

bool restore_vlan_tag(rte_mbuf* m, std::uint16_t& l2_len, std::uint16_t vlan) {
  m->ol_flags &= ~(RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED);
  if (vlan == 0 || l2_len != RTE_ETHER_HDR_LEN) return true;
  auto* p = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_prepend(m, 4));
  if (p == nullptr) return false;
  std::memmove(p, p + 4, 12);
  p[12] = RTE_ETHER_TYPE_VLAN >> 8;
  p[13] = RTE_ETHER_TYPE_VLAN & 0xff;
  p[14] = static_cast<std::uint8_t>(vlan >> 8);
  p[15] = static_cast<std::uint8_t>(vlan);
  l2_len = 18;
  return true;
}

}  // namespace sigrelay::dataplane::net
