// Responses the relay generates itself (100 Trying, 400, 483, 503, ...),
// built as RFC 3261 §8.2.6 says: Via, From, To, Call-ID and CSeq copied from
// the request, a To tag added where required, Content-Length: 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "sip/message.hpp"

namespace sigrelay::sip {

struct ExtraHeader {
  std::string_view name;   // a token
  std::string_view value;  // no control characters except HTAB
};

// The RFC 3261 §21 reason phrase of the codes sigrelay sends; empty for others.
std::string_view default_reason_phrase(std::uint16_t code);

// Writes the response to `req` into out[0, cap) and returns its size, or 0
// when it does not fit or cannot be built: code outside 100..699, a reason
// or extra header with control characters, a request without Via, From,
// To, Call-ID or CSeq, or a To tag needed but `to_tag` empty or not a token.
//
// Only req.headers is read, so this also answers a request that failed to
// parse but is ParseResult::respondable (e.g. with 400 or 505).
// An empty `reason` picks default_reason_phrase(code), or a phrase for the
// code's class when the code has none. The To tag is added to every
// response but 100 when the request's To has none (RFC 3261 §8.2.6.2).
// A 100 also copies Timestamp (§8.2.6.1). Header names are copied as
// written; folded values are unfolded.
std::size_t build_response(const Message& req, std::uint16_t code, std::string_view reason,
                           std::string_view to_tag, std::span<const ExtraHeader> extra, char* out,
                           std::size_t cap);

}  // namespace sigrelay::sip
