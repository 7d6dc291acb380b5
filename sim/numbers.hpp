// Telephone numbers as the simulated service sees them: the called number
// from the Request-URI, the calling number from P-Asserted-Identity or From.
// Both are brought to one form so that rules and PASSporT claims compare
// like with like (RFC 8224 §8.3: no leading '+', no visual separators).
#pragma once

#include <string>
#include <string_view>

#include "sip/message.hpp"
#include "sip/uri.hpp"

namespace sigrelay::sim {

// %-escapes decoded, user parameters (";npdi", ";rn=...") cut off, a
// leading '+' and the RFC 3966 visual separators "-.()" removed. Anything
// else is kept as it is, so "alice" stays "alice". A malformed escape
// leaves the text undecoded rather than losing the number.
std::string normalize_number(std::string_view user_part);

// The number of a sip:/sips: user part or a tel: subscriber; empty for
// other schemes and URIs without a user.
std::string uri_number(const sip::Uri& uri);

// Request-URI user part, normalized.
std::string called_number(const sip::Message& request);

// The first P-Asserted-Identity (RFC 3325) when present and parseable,
// otherwise From; normalized.
std::string calling_number(const sip::Message& request);

}  // namespace sigrelay::sim
