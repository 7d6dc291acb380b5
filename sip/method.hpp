#pragma once

#include <cstdint>
#include <string_view>

namespace sigrelay::sip {

enum class Method : std::uint8_t {
  unknown = 0,  // an extension method: a valid token the relay does not know
  invite,
  ack,
  bye,
  cancel,
  options,
  register_,
  prack,
  subscribe,
  notify,
  publish,
  info,
  refer,
  message,
  update,
};

// Methods are case-sensitive (RFC 3261 §7.1): "invite" is an extension method.
Method classify_method(std::string_view token);
std::string_view method_name(Method m);

}  // namespace sigrelay::sip
