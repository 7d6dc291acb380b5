#include "dataplane/kernel_interface.hpp"

#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sigrelay::dataplane {
namespace {

struct AddressRequest {
  nlmsghdr header;
  ifaddrmsg ifa;
  char attributes[64];
};

void put_attribute(AddressRequest& r, unsigned short type, const void* data, std::size_t len) {
  auto* a = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(&r) + NLMSG_ALIGN(r.header.nlmsg_len));
  a->rta_type = type;
  a->rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
  std::memcpy(RTA_DATA(a), data, len);
  r.header.nlmsg_len = static_cast<std::uint32_t>(NLMSG_ALIGN(r.header.nlmsg_len) + RTA_ALIGN(a->rta_len));
}

}  // namespace

bool add_interface_address(const std::string& ifname, const sockaddr_storage& ip, std::uint8_t prefix,
                           std::string& error) {
  const unsigned index = if_nametoindex(ifname.c_str());
  if (index == 0) {
    error = "no interface named " + ifname;
    return false;
  }
  AddressRequest r{};
  r.header.nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg));
  r.header.nlmsg_type = RTM_NEWADDR;
  r.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
  r.header.nlmsg_seq = 1;
  r.ifa.ifa_family = static_cast<unsigned char>(ip.ss_family);
  r.ifa.ifa_prefixlen = prefix;
  r.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  r.ifa.ifa_index = index;
  if (ip.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(ip).sin_addr;
    put_attribute(r, IFA_LOCAL, &a, sizeof a);
    put_attribute(r, IFA_ADDRESS, &a, sizeof a);
  } else {
    r.ifa.ifa_flags = IFA_F_NODAD;
    const auto& a = reinterpret_cast<const sockaddr_in6&>(ip).sin6_addr;
    put_attribute(r, IFA_LOCAL, &a, sizeof a);
    put_attribute(r, IFA_ADDRESS, &a, sizeof a);
  }

  const int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) {
    error = std::string("netlink socket: ") + std::strerror(errno);
    return false;
  }
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  bool ok = false;
  if (sendto(fd, &r, r.header.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
    error = std::string("netlink send: ") + std::strerror(errno);
  } else {
    char reply[512];
    const ssize_t n = recv(fd, reply, sizeof reply, 0);
    const auto* h = reinterpret_cast<const nlmsghdr*>(reply);
    if (n < static_cast<ssize_t>(sizeof(nlmsghdr)) || h->nlmsg_type != NLMSG_ERROR) {
      error = "netlink: no answer";
    } else {
      const int code = reinterpret_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
      if (code == 0 || code == -EEXIST) {
        ok = true;
      } else {
        error = std::string("adding the address: ") + std::strerror(-code);
      }
    }
  }
  close(fd);
  return ok;
}

}  // namespace sigrelay::dataplane
