// A socket address as operators read it: "192.0.2.10:5060" or
// "[2001:db8::10]:5060". For ready lines, logs and messages.
#pragma once

#include <sys/socket.h>

#include <string>

namespace sigrelay::dataplane {

std::string address_text(const sockaddr_storage& a);

}  // namespace sigrelay::dataplane
