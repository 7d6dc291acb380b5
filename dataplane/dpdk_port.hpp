// The DPDK side of the appliance before any packet moves: EAL from the
// operator's argument string, the switch-facing port (one RX/TX queue pair
// per sip worker, RSS across them, descriptor counts, checksum offloads
// when the PMD has them), one mempool per queue, and the kernel exception
// port (net_tap) that gives the kernel everything that is not UDP SIP.
//
// One DpdkPort per process; it outlives the sip workers and tears the EAL
// down last.
#pragma once

#include <rte_ether.h>
#include <sched.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct rte_mempool;

namespace sigrelay::dataplane {

struct DpdkOptions {
  std::string eal;          // EAL arguments as one string, e.g. "-l 0-1 --no-huge -m 512 --vdev=..."
  std::string port;         // device name (e.g. net_af_packet0, 0000:03:00.0); empty = the first port
  std::string exception;    // kernel interface for the exception path; empty = none (non-SIP dropped)
  unsigned queues = 1;      // = sip workers
  std::uint16_t rx_descriptors = 1024;
  std::uint16_t tx_descriptors = 1024;
  std::uint32_t mbufs_per_queue = 8191;  // a power of two minus one is what rte_mempool likes
  std::uint16_t mbuf_data = 2048;        // data room after the headroom
  std::uint16_t mtu = 1500;
};

// Splits an EAL argument string at white space; single and double quotes
// group words. Returns false on an unterminated quote.
bool split_arguments(const std::string& text, std::vector<std::string>& out);

class DpdkPort {
 public:
  // Initialises the EAL (once per process) and starts the ports. On failure
  // returns nullptr with the reason, naming the option at fault.
  static std::unique_ptr<DpdkPort> start(const DpdkOptions& options, std::string& error);
  ~DpdkPort();
  DpdkPort(const DpdkPort&) = delete;
  DpdkPort& operator=(const DpdkPort&) = delete;

  std::uint16_t port() const { return port_; }
  std::optional<std::uint16_t> exception_port() const { return tap_; }
  const std::string& exception_interface() const { return tap_name_; }
  const rte_ether_addr& mac() const { return mac_; }
  std::string port_name() const;
  unsigned queues() const { return options_.queues; }
  std::uint16_t mtu() const { return options_.mtu; }
  rte_mempool* pool(unsigned queue) const { return pools_[queue]; }
  // The EAL worker lcores the sip workers run on, one per queue.
  const std::vector<unsigned>& worker_lcores() const { return lcores_; }
  bool tx_ip_checksum_offload() const { return tx_ip_cksum_; }
  bool tx_udp_checksum_offload() const { return tx_udp_cksum_; }

  // Bytes in each mbuf's private area: a Packet header (packet.hpp) lives there.
  static std::uint16_t private_size();

  // Runs fn(queue) on each worker lcore; wait() joins them.
  void launch(int (*fn)(void*), std::vector<void*> args);
  void wait();

 private:
  DpdkPort() = default;
  bool setup_port(std::string& error);
  bool setup_exception(std::string& error);

  DpdkOptions options_;
  std::uint16_t port_ = 0;
  std::optional<std::uint16_t> tap_;
  std::string tap_name_;
  rte_ether_addr mac_{};
  std::vector<rte_mempool*> pools_;
  std::vector<unsigned> lcores_;
  bool tx_ip_cksum_ = false;
  bool tx_udp_cksum_ = false;
  bool started_ = false;
};

}  // namespace sigrelay::dataplane
