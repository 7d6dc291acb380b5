#include "control/dpdk_setup.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <utility>

#include "dataplane/dpdk_io.hpp"
#include "dataplane/kernel_interface.hpp"
#include "dataplane/net/ip_address.hpp"
#include "dataplane/net/net_counters.hpp"

namespace sigrelay::control {
namespace {

void set_port(sockaddr_storage& a, std::uint16_t port) {
  if (a.ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in&>(a).sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6&>(a).sin6_port = htons(port);
  }
}

}  // namespace

std::unique_ptr<dataplane::DpdkPort> start_dpdk(const Config& cfg, std::string& error) {
  const auto& d = cfg.dataplane;
  dataplane::DpdkOptions o;
  o.eal = d.eal;
  o.port = d.port;
  o.exception = d.exception;
  o.queues = d.workers;
  o.rx_descriptors = static_cast<std::uint16_t>(d.rx_descriptors);
  o.tx_descriptors = static_cast<std::uint16_t>(d.tx_descriptors);
  o.mbufs_per_queue = d.mbufs;
  o.mbuf_data = static_cast<std::uint16_t>(d.mbuf_size);
  o.mtu = static_cast<std::uint16_t>(d.mtu);
  auto port = dataplane::DpdkPort::start(o, error);
  if (!port) return nullptr;
  if (!d.exception.empty()) {
    for (const auto& a : d.addresses) {
      if (!dataplane::add_interface_address(d.exception, a.addr, a.prefix, error)) {
        error = "dataplane.exception: " + d.exception + ": " + a.text + ": " + error;
        return nullptr;
      }
    }
  }
  return port;
}

std::unique_ptr<dataplane::DatagramIo> make_dpdk_io(const Config& cfg, const dataplane::DpdkPort& port,
                                                    unsigned worker, std::string& error) {
  const auto& d = cfg.dataplane;
  dataplane::DpdkIoOptions o;
  o.queue = worker;
  o.worker = static_cast<std::uint8_t>(worker);
  o.idle_sleep_us = d.idle_sleep_us;

  auto& net = o.net;
  net.mac = port.mac();
  net.mtu = port.mtu();
  net.vlan = static_cast<std::uint16_t>(d.vlan);
  net.tx_ip_cksum_offload = port.tx_ip_checksum_offload();
  net.tx_udp_cksum_offload = port.tx_udp_checksum_offload();
  net.sip_ports.clear();
  for (const auto& e : cfg.listen.udp) {
    if (std::find(net.sip_ports.begin(), net.sip_ports.end(), e.port()) == net.sip_ports.end()) {
      net.sip_ports.push_back(e.port());
    }
  }
  for (const auto& a : d.addresses) {
    dataplane::net::Prefix p;
    if (!dataplane::net::Prefix::parse(a.text, p)) {
      error = "dataplane.address: " + a.text + " is not usable";
      return nullptr;
    }
    net.addresses.push_back(p);
    // Our SIP addresses: this address at every listen.udp port that is a
    // wildcard of its family or names it.
    for (const auto& e : cfg.listen.udp) {
      if (e.family() != a.family() || !(e.is_wildcard() || same_ip(e.addr, a.addr))) continue;
      sockaddr_storage local = a.addr;
      set_port(local, e.port());
      o.locals.push_back(local);
    }
  }
  for (const auto& g : d.gateways) {
    dataplane::net::IpAddress ip;
    if (!dataplane::net::IpAddress::parse(g.text, ip)) {
      error = "dataplane.gateway: " + g.text + " is not usable";
      return nullptr;
    }
    (ip.is_v4() ? net.gateway4 : net.gateway6) = ip;
  }
  if (o.locals.empty()) {
    error = "listen.udp: no UDP SIP address on the DPDK port (no listen.udp matches a dataplane.address family)";
    return nullptr;
  }
  return std::make_unique<dataplane::DpdkIo>(port, std::move(o));
}

nlohmann::json dpdk_counters_json(const std::vector<const dataplane::DatagramIo*>& ios) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& info : dataplane::net::kNetCounterTable) j[std::string(info.name)] = 0;
  // The exception path and the port's own drops, next to the stack's counters.
  constexpr std::pair<const char*, dataplane::Counter dataplane::DpdkIoCounters::*> kIoCounters[] = {
      {"to_kernel", &dataplane::DpdkIoCounters::to_kernel},
      {"from_kernel", &dataplane::DpdkIoCounters::from_kernel},
      {"kernel_dropped", &dataplane::DpdkIoCounters::kernel_dropped},
      {"port_tx_dropped", &dataplane::DpdkIoCounters::tx_dropped},
      {"chains_gathered", &dataplane::DpdkIoCounters::gathered},
      {"chains_gather_dropped", &dataplane::DpdkIoCounters::gather_dropped},
  };
  for (const auto& [name, field] : kIoCounters) j[name] = 0;
  for (const auto* io : ios) {
    const auto* d = dynamic_cast<const dataplane::DpdkIo*>(io);
    if (d == nullptr) continue;
    if (const auto* stack = d->stack()) {
      const auto& c = stack->counters();
      for (const auto& info : dataplane::net::kNetCounterTable) {
        j[std::string(info.name)] = j[std::string(info.name)].get<std::uint64_t>() + c.*(info.field);
      }
    }
    for (const auto& [name, field] : kIoCounters) {
      j[name] = j[name].get<std::uint64_t>() + (d->counters().*field).load(std::memory_order_relaxed);
    }
  }
  return j;
}

}  // namespace sigrelay::control
