#include "dataplane/net/net_config.hpp"

namespace sigrelay::dataplane::net {

std::string_view to_string(NetError e) {
  switch (e) {
    case NetError::ok: return "ok";
    case NetError::no_address: return "no_address";
    case NetError::bad_address: return "bad_address";
    case NetError::bad_mac: return "bad_mac";
    case NetError::bad_mtu: return "bad_mtu";
    case NetError::bad_vlan: return "bad_vlan";
    case NetError::no_sip_ports: return "no_sip_ports";
    case NetError::gateway_off_link: return "gateway_off_link";
    case NetError::bad_table_sizes: return "bad_table_sizes";
    case NetError::pool_too_small: return "pool_too_small";
    case NetError::reassembly_table: return "reassembly_table";
    case NetError::no_memory: return "no_memory";
  }
  return "unknown";
}

namespace {

bool on_link(const NetConfig& cfg, const IpAddress& ip) {
  if (ip.is_v6_link_local()) return true;
  for (const auto& p : cfg.addresses) {
    if (p.contains(ip)) return true;
  }
  return false;
}

}  // namespace

NetError validate(const NetConfig& cfg) {
  if (cfg.addresses.empty()) return NetError::no_address;
  bool any_v6 = false;
  for (const auto& p : cfg.addresses) {
    const auto& a = p.address;
    if (a.is_unspecified() || a.is_multicast() || a.is_v4_limited_broadcast() || p.length == 0 ||
        p.length > (a.is_v4() ? 32 : 128)) {
      return NetError::bad_address;
    }
    any_v6 |= a.is_v6();
  }
  if (rte_is_multicast_ether_addr(&cfg.mac) || rte_is_zero_ether_addr(&cfg.mac)) return NetError::bad_mac;
  if (cfg.mtu < (any_v6 ? 1280 : 576) || cfg.mtu > 9000) return NetError::bad_mtu;
  if (cfg.vlan > 4094) return NetError::bad_vlan;
  if (cfg.sip_ports.empty()) return NetError::no_sip_ports;
  for (auto port : cfg.sip_ports) {
    if (port == 0) return NetError::no_sip_ports;
  }
  if (cfg.gateway4 && (!cfg.gateway4->is_v4() || !on_link(cfg, *cfg.gateway4))) return NetError::gateway_off_link;
  if (cfg.gateway6 && (!cfg.gateway6->is_v6() || !on_link(cfg, *cfg.gateway6))) return NetError::gateway_off_link;
  if (cfg.neighbour_retries == 0 || cfg.neighbour_retries > 255 || cfg.hold_per_neighbour == 0 ||
      cfg.hold_per_neighbour > 1024 || cfg.neighbour_entries == 0 || cfg.neighbour_entries > (1u << 20) ||
      cfg.reassembly_flows == 0 || cfg.reassembly_flows > (1u << 20) || cfg.tx_queue_frames == 0 ||
      cfg.tx_queue_frames > (1u << 20) || cfg.neighbour_reachable.count() <= 0 ||
      cfg.neighbour_retry.count() <= 0 || cfg.reassembly_timeout.count() <= 0) {
    return NetError::bad_table_sizes;
  }
  return NetError::ok;
}

}  // namespace sigrelay::dataplane::net
