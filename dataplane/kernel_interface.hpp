// Addresses on a kernel network interface through rtnetlink: the exception
// path's tap interface carries the same addresses as the DPDK port, so the
// kernel's TCP/TLS listeners and management services answer on them.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace sigrelay::dataplane {

// Adds ip/prefix to the interface (IPv6 without duplicate address
// detection: the address is ours by configuration). An address that is
// already there is not an error.
bool add_interface_address(const std::string& ifname, const sockaddr_storage& ip, std::uint8_t prefix,
                           std::string& error);

}  // namespace sigrelay::dataplane
