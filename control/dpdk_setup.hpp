// The daemon's dpdk backend glue: the config turned into EAL/port options,
// the exception interface given our addresses, and one DpdkIo per sip worker
// with its L2-L4 settings.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/config.hpp"
#include "dataplane/datagram_io.hpp"
#include "dataplane/dpdk_port.hpp"

namespace sigrelay::control {

// Starts EAL and the ports and puts dataplane.address on the exception
// interface. nullptr with the reason on failure.
std::unique_ptr<dataplane::DpdkPort> start_dpdk(const Config& cfg, std::string& error);

// The packet I/O of sip worker `worker` (its queue on the port).
std::unique_ptr<dataplane::DatagramIo> make_dpdk_io(const Config& cfg, const dataplane::DpdkPort& port,
                                                    unsigned worker, std::string& error);

// The dpdk workers' L2-L4 and port counters, summed.
nlohmann::json dpdk_counters_json(const std::vector<const dataplane::DatagramIo*>& ios);

}  // namespace sigrelay::control
