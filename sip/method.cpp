#include "sip/method.hpp"

#include <array>
#include <cstring>

namespace sigrelay::sip {
namespace {
constexpr std::array<std::string_view, 15> kNames{
    "",        "INVITE",    "ACK",    "BYE",     "CANCEL", "OPTIONS", "REGISTER", "PRACK",
    "SUBSCRIBE", "NOTIFY",  "PUBLISH", "INFO",   "REFER",  "MESSAGE", "UPDATE"};

// Exact compare with a literal of the token's length (checked by the caller):
// a fixed-size memcmp that the compiler turns into a word compare or two.
template <std::size_t N>
bool is(std::string_view token, const char (&lit)[N]) {
  return std::memcmp(token.data(), lit, N - 1) == 0;
}
}  // namespace

Method classify_method(std::string_view token) {
  // Methods are case-sensitive, so the length and first byte pick the one
  // candidate; this runs for the request line and the CSeq of every message.
  const auto pick = [&](const auto& lit, Method m) { return is(token, lit) ? m : Method::unknown; };
  switch (token.size()) {
    case 3: return token[0] == 'A' ? pick("ACK", Method::ack) : pick("BYE", Method::bye);
    case 4: return pick("INFO", Method::info);
    case 5: return token[0] == 'P' ? pick("PRACK", Method::prack) : pick("REFER", Method::refer);
    case 6:
      switch (token[0]) {
        case 'I': return pick("INVITE", Method::invite);
        case 'C': return pick("CANCEL", Method::cancel);
        case 'N': return pick("NOTIFY", Method::notify);
        default: return pick("UPDATE", Method::update);
      }
    case 7:
      switch (token[0]) {
        case 'O': return pick("OPTIONS", Method::options);
        case 'P': return pick("PUBLISH", Method::publish);
        default: return pick("MESSAGE", Method::message);
      }
    case 8: return pick("REGISTER", Method::register_);
    case 9: return pick("SUBSCRIBE", Method::subscribe);
    default: return Method::unknown;
  }
}

std::string_view method_name(Method m) {
  const auto i = static_cast<std::size_t>(m);
  return i < kNames.size() ? kNames[i] : std::string_view{};
}

}  // namespace sigrelay::sip
