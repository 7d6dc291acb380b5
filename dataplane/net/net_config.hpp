// Configuration of one NetStack (one per sip worker; all workers of a port
// share the same values). Validated once by validate() before anything is
// allocated; the data path trusts it afterwards.
#pragma once

#include <rte_ether.h>

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "dataplane/net/ip_address.hpp"
#include "sip/transaction.hpp"

namespace sigrelay::dataplane::net {

struct NetConfig {
  rte_ether_addr mac{};
  std::vector<Prefix> addresses;  // ours, IPv4 and IPv6, with the on-link prefix length
  std::optional<IpAddress> gateway4, gateway6;
  std::uint16_t mtu = 1500;       // IP MTU: the largest IP packet we send unfragmented
  std::uint16_t vlan = 0;         // 802.1Q VLAN id on the wire; 0 = untagged
  std::vector<std::uint16_t> sip_ports{5060};
  sip::Millis neighbour_reachable{30000};  // RFC 4861 REACHABLE_TIME
  sip::Millis neighbour_retry{1000};       // RFC 4861 RETRANS_TIMER
  unsigned neighbour_retries = 3;          // requests per resolution or probe (MAX_MULTICAST_SOLICIT)
  unsigned hold_per_neighbour = 8;         // frames queued while a neighbour resolves
  unsigned neighbour_entries = 256;        // table size, fixed at creation
  sip::Millis reassembly_timeout{2000};
  unsigned reassembly_flows = 1024;        // datagrams being reassembled at once
  unsigned tx_queue_frames = 1024;         // frames waiting for take_tx()
  // Ours too, when no fe80::/10 address is configured: the same address the
  // kernel gives the tap interface that carries our MAC, so we answer
  // Neighbour Solicitations for it and can use it as the source of ours.
  bool derive_link_local = true;
  bool tx_ip_cksum_offload = false;   // the port has RTE_ETH_TX_OFFLOAD_IPV4_CKSUM enabled
  bool tx_udp_cksum_offload = false;  // the port has RTE_ETH_TX_OFFLOAD_UDP_CKSUM enabled
};

// Stable codes: values never change meaning once released.
enum class NetError : std::uint8_t {
  ok = 0,
  no_address,          // no IPv4 or IPv6 address configured
  bad_address,         // multicast, unspecified or limited-broadcast address, or prefix length 0
  bad_mac,             // multicast or all-zero MAC
  bad_mtu,             // below 576 (IPv4) or 1280 (with IPv6), or above 9000
  bad_vlan,            // above 4094
  no_sip_ports,        // empty list or port 0
  gateway_off_link,    // a gateway outside every prefix of its family (IPv6 link-local is on-link)
  bad_table_sizes,     // a zero (or absurd) table, queue, retry or timer value
  pool_too_small,      // the mempool's data room cannot hold our largest header stack
  reassembly_table,    // rte_ip_frag_table_create failed
  no_memory,
};

std::string_view to_string(NetError e);

NetError validate(const NetConfig& cfg);

}  // namespace sigrelay::dataplane::net
