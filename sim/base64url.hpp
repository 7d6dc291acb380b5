// base64url without padding (RFC 4648 §5, as JWS uses it: RFC 7515 §2 and
// Appendix C). Decoding is strict: no padding, no whitespace, and the unused
// low bits of the last symbol must be zero, so one text has one meaning.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sigrelay::sim {

std::string base64url_encode(std::string_view bytes);

// nullopt when `text` is not canonical unpadded base64url.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace sigrelay::sim
