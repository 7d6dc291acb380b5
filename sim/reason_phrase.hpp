// Reason phrases for the answers the simulated service gives: RFC 3261 §21
// plus the later codes a call-analytics service uses (607 Unwanted, RFC 8197;
// 608 Rejected, RFC 8688). The phrase is informative only: peers act on the code.
#pragma once

#include <cstdint>
#include <string_view>

namespace sigrelay::sim {

// Empty for codes without a registered phrase.
std::string_view reason_phrase(std::uint16_t code);

}  // namespace sigrelay::sim
