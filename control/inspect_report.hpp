// What sigrelay-inspect prints: how the relay's parser sees a message.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

namespace sigrelay::control {

enum class InspectFraming { datagram, stream };

// One JSON object per message found in `bytes`. A datagram file holds one
// message; a stream file may hold several (and keepalives, which are skipped).
std::vector<nlohmann::json> inspect_bytes(std::string_view bytes, InspectFraming framing);

}  // namespace sigrelay::control
