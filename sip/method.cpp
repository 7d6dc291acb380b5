#include "sip/method.hpp"

#include <array>

namespace sigrelay::sip {
namespace {
constexpr std::array<std::string_view, 15> kNames{
    "",        "INVITE",    "ACK",    "BYE",     "CANCEL", "OPTIONS", "REGISTER", "PRACK",
    "SUBSCRIBE", "NOTIFY",  "PUBLISH", "INFO",   "REFER",  "MESSAGE", "UPDATE"};
}  // namespace

Method classify_method(std::string_view token) {
  // The common case first: INVITE and ACK dominate a relay's traffic.
  for (std::size_t i = 1; i < kNames.size(); ++i) {
    if (kNames[i] == token) return static_cast<Method>(i);
  }
  return Method::unknown;
}

std::string_view method_name(Method m) {
  const auto i = static_cast<std::size_t>(m);
  return i < kNames.size() ? kNames[i] : std::string_view{};
}

}  // namespace sigrelay::sip
