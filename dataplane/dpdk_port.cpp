#include "dataplane/dpdk_port.hpp"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "dataplane/packet.hpp"

namespace sigrelay::dataplane {
namespace {

constexpr const char* kTapDriver = "net_tap_sigrelay";

std::string rte_error() { return rte_strerror(rte_errno); }

bool uses_driver(const std::vector<std::string>& args, std::string_view driver) {
  for (const auto& a : args) {
    if (a.find(driver) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

bool split_arguments(const std::string& text, std::vector<std::string>& out) {
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (const char c : text) {
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else {
        word += c;
      }
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) out.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote != 0) return false;
  if (in_word) out.push_back(word);
  return true;
}

std::uint16_t DpdkPort::private_size() {
  return static_cast<std::uint16_t>(RTE_ALIGN_CEIL(sizeof(Packet), RTE_MBUF_PRIV_ALIGN));
}

std::unique_ptr<DpdkPort> DpdkPort::start(const DpdkOptions& options, std::string& error) {
  std::unique_ptr<DpdkPort> p(new DpdkPort());
  p->options_ = options;

  std::vector<std::string> args{"sigrelay"};
  if (!split_arguments(options.eal, args)) {
    error = "dataplane.eal: unterminated quote";
    return nullptr;
  }
  if (!options.exception.empty() && !uses_driver(args, kTapDriver)) {
    args.push_back(std::string("--vdev=") + kTapDriver + ",iface=" + options.exception);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  // EAL pins this thread to the main lcore; the tls workers and the control
  // loop started later inherit that. Remember what we had, and give them
  // every CPU except the sip workers' afterwards.
  cpu_set_t before;
  CPU_ZERO(&before);
  pthread_getaffinity_np(pthread_self(), sizeof before, &before);

  if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
    error = "dataplane.eal: EAL initialisation failed: " + rte_error() +
            " (root is needed; check the lcore list, memory and --vdev options)";
    return nullptr;
  }
  p->started_ = true;

  unsigned lcore = 0;
  RTE_LCORE_FOREACH_WORKER(lcore) {
    if (p->lcores_.size() < options.queues) p->lcores_.push_back(lcore);
  }
  if (p->lcores_.size() < options.queues) {
    error = "dataplane.eal: the lcore list gives " + std::to_string(p->lcores_.size()) +
            " worker lcore(s) besides the main one; dataplane.workers = " + std::to_string(options.queues) +
            " needs one each (e.g. -l 0-" + std::to_string(options.queues) + ")";
    return nullptr;
  }
  cpu_set_t rest = before;
  for (const unsigned l : p->lcores_) {
    const rte_cpuset_t set = rte_lcore_cpuset(l);
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) CPU_CLR(cpu, &rest);
    }
  }
  pthread_setaffinity_np(pthread_self(), sizeof(cpu_set_t), CPU_COUNT(&rest) > 0 ? &rest : &before);

  if (!p->setup_port(error)) return nullptr;
  if (!options.exception.empty() && !p->setup_exception(error)) return nullptr;
  return p;
}

std::string DpdkPort::port_name() const {
  char name[RTE_ETH_NAME_MAX_LEN] = "?";
  rte_eth_dev_get_name_by_port(port_, name);
  return name;
}

bool DpdkPort::setup_port(std::string& error) {
  // Which port: the named one, or the first that is not our tap.
  if (!options_.port.empty()) {
    if (rte_eth_dev_get_port_by_name(options_.port.c_str(), &port_) != 0) {
      error = "dataplane.port: no DPDK port named '" + options_.port + "' (give its vdev in dataplane.eal, or bind the NIC)";
      return false;
    }
  } else {
    bool found = false;
    std::uint16_t id = 0;
    RTE_ETH_FOREACH_DEV(id) {
      char name[RTE_ETH_NAME_MAX_LEN] = "";
      rte_eth_dev_get_name_by_port(id, name);
      if (std::strncmp(name, kTapDriver, std::strlen(kTapDriver)) == 0) continue;
      port_ = id;
      found = true;
      break;
    }
    if (!found) {
      error = "dataplane.eal: no DPDK port found (no bound NIC and no --vdev)";
      return false;
    }
  }

  rte_eth_dev_info info{};
  if (rte_eth_dev_info_get(port_, &info) != 0) {
    error = "dataplane.port: cannot read device info of " + port_name();
    return false;
  }
  const unsigned q = options_.queues;
  if (q > info.max_rx_queues || q > info.max_tx_queues) {
    error = "dataplane.workers: port " + port_name() + " has " + std::to_string(info.max_rx_queues) + " RX / " +
            std::to_string(info.max_tx_queues) + " TX queues, " + std::to_string(q) + " needed";
    return false;
  }

  rte_eth_conf conf{};
  if (q > 1) {
    // Spread switches across workers by address and port; fragments carry
    // no ports and hash on addresses only, so one datagram's fragments stay
    // on one queue.
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf =
        (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
    if (conf.rx_adv_conf.rss_conf.rss_hf == 0) conf.rxmode.mq_mode = RTE_ETH_MQ_RX_NONE;
  }
  const std::uint64_t rx_cksum = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
  if ((info.rx_offload_capa & rx_cksum) == rx_cksum) conf.rxmode.offloads |= rx_cksum;
  if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
  if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) {
    conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
    tx_ip_cksum_ = true;
  }
  if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) {
    conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
    tx_udp_cksum_ = true;
  }
  if (rte_eth_dev_configure(port_, static_cast<std::uint16_t>(q), static_cast<std::uint16_t>(q), &conf) != 0) {
    error = "dataplane.port: cannot configure " + port_name() + ": " + rte_error();
    return false;
  }
  std::uint16_t rxd = options_.rx_descriptors;
  std::uint16_t txd = options_.tx_descriptors;
  rte_eth_dev_adjust_nb_rx_tx_desc(port_, &rxd, &txd);
  // Not every PMD can change its MTU (af_packet follows the kernel
  // interface): what it keeps is what we fragment to.
  rte_eth_dev_set_mtu(port_, options_.mtu);
  std::uint16_t mtu = 0;
  if (rte_eth_dev_get_mtu(port_, &mtu) == 0 && mtu != 0) options_.mtu = std::min(options_.mtu, mtu);

  const int socket = rte_eth_dev_socket_id(port_);
  const unsigned socket_id = socket < 0 ? SOCKET_ID_ANY : static_cast<unsigned>(socket);
  for (unsigned i = 0; i < q; ++i) {
    const std::string name = "sr_pool_" + std::to_string(i);
    rte_mempool* mp = rte_pktmbuf_pool_create(name.c_str(), options_.mbufs_per_queue, 256, private_size(),
                                              static_cast<std::uint16_t>(options_.mbuf_data + RTE_PKTMBUF_HEADROOM),
                                              static_cast<int>(socket_id));
    if (mp == nullptr) {
      error = "dataplane.mbufs: cannot create a pool of " + std::to_string(options_.mbufs_per_queue) +
              " mbufs for queue " + std::to_string(i) + ": " + rte_error() + " (more memory in dataplane.eal -m, or fewer mbufs)";
      return false;
    }
    pools_.push_back(mp);
    rte_eth_rxconf rxconf = info.default_rxconf;
    rxconf.offloads = conf.rxmode.offloads;
    if (rte_eth_rx_queue_setup(port_, static_cast<std::uint16_t>(i), rxd, socket_id, &rxconf, mp) != 0) {
      error = "dataplane.rx_descriptors: RX queue " + std::to_string(i) + " setup failed: " + rte_error();
      return false;
    }
    rte_eth_txconf txconf = info.default_txconf;
    txconf.offloads = conf.txmode.offloads;
    if (rte_eth_tx_queue_setup(port_, static_cast<std::uint16_t>(i), txd, socket_id, &txconf) != 0) {
      error = "dataplane.tx_descriptors: TX queue " + std::to_string(i) + " setup failed: " + rte_error();
      return false;
    }
  }
  if (rte_eth_dev_start(port_) != 0) {
    error = "dataplane.port: cannot start " + port_name() + ": " + rte_error();
    return false;
  }
  rte_eth_macaddr_get(port_, &mac_);
  // IPv6 neighbour discovery uses solicited-node multicast.
  rte_eth_allmulticast_enable(port_);
  return true;
}

bool DpdkPort::setup_exception(std::string& error) {
  std::uint16_t id = 0;
  bool found = false;
  RTE_ETH_FOREACH_DEV(id) {
    char name[RTE_ETH_NAME_MAX_LEN] = "";
    rte_eth_dev_get_name_by_port(id, name);
    if (std::strncmp(name, kTapDriver, std::strlen(kTapDriver)) == 0) {
      found = true;
      break;
    }
  }
  if (!found) {
    error = "dataplane.exception: the tap port for '" + options_.exception + "' was not created";
    return false;
  }
  tap_ = id;
  tap_name_ = options_.exception;
  const unsigned q = options_.queues;
  rte_eth_conf conf{};
  if (rte_eth_dev_configure(id, static_cast<std::uint16_t>(q), static_cast<std::uint16_t>(q), &conf) != 0) {
    error = "dataplane.exception: cannot configure the tap port: " + rte_error();
    return false;
  }
  const int socket = rte_eth_dev_socket_id(id);
  const unsigned socket_id = socket < 0 ? SOCKET_ID_ANY : static_cast<unsigned>(socket);
  for (unsigned i = 0; i < q; ++i) {
    if (rte_eth_rx_queue_setup(id, static_cast<std::uint16_t>(i), 512, socket_id, nullptr, pools_[i]) != 0 ||
        rte_eth_tx_queue_setup(id, static_cast<std::uint16_t>(i), 512, socket_id, nullptr) != 0) {
      error = "dataplane.exception: tap queue setup failed: " + rte_error();
      return false;
    }
  }
  // The kernel answers on the wire through us, so it must use the port's MAC.
  if (rte_eth_dev_default_mac_addr_set(id, &mac_) != 0) {
    error = "dataplane.exception: cannot give " + tap_name_ + " the port's MAC address: " + rte_error();
    return false;
  }
  rte_eth_dev_set_mtu(id, options_.mtu);
  if (rte_eth_dev_start(id) != 0) {
    error = "dataplane.exception: cannot start the tap port: " + rte_error();
    return false;
  }
  rte_eth_dev_set_link_up(id);
  return true;
}

void DpdkPort::launch(int (*fn)(void*), std::vector<void*> args) {
  for (std::size_t i = 0; i < lcores_.size() && i < args.size(); ++i) {
    rte_eal_remote_launch(fn, args[i], lcores_[i]);
  }
}

void DpdkPort::wait() { rte_eal_mp_wait_lcore(); }

DpdkPort::~DpdkPort() {
  if (!started_) return;
  rte_eal_mp_wait_lcore();
  std::uint16_t id = 0;
  RTE_ETH_FOREACH_DEV(id) {
    rte_eth_dev_stop(id);
    rte_eth_dev_close(id);
  }
  for (auto* mp : pools_) rte_mempool_free(mp);
  rte_eal_cleanup();
}

}  // namespace sigrelay::dataplane
