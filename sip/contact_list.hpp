// The Contacts of a 3xx response as the targets in-line mode tries in turn
// (RFC 3261 §16.5: a proxy may recurse on a redirect; §8.1.3.4 and §20.10:
// the targets go in q-value order). Pure: no allocation, no I/O.
//
// The message may come from a relay-depth parse (sip/message.hpp), where
// Contact values are only split into header fields, never checked: every
// entry is parsed and validated here, and a bad one costs only itself.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "sip/message.hpp"
#include "sip/uri.hpp"

namespace sigrelay::sip {

inline constexpr std::size_t kMaxContactTargets = 16;

struct ContactTarget {
  std::string_view uri_text;  // the URI as written, without <>, a view into the message
  Uri uri;                    // fully parsed; scheme is sip or sips
  std::uint16_t q = 1000;     // q-value times 1000; 1000 when absent
  std::uint8_t order = 0;     // position among the message's Contact entries (0-based, 255 caps it)
};

struct ContactSet {
  std::array<ContactTarget, kMaxContactTargets> items;  // items[0, count) are valid
  std::size_t count = 0;
  // Entries left out: unparseable, "*", a bad q, or a scheme other than sip/sips.
  std::size_t skipped_invalid = 0;
  // Valid entries that did not fit: the lowest q-values, the latest in the message among equals.
  std::size_t dropped_over_limit = 0;
};

// Every Contact header of `m` (full name or compact "m", several headers,
// comma-separated values), highest q first; equal q keep message order.
// Never fails: what cannot be used is counted in the set.
ContactSet collect_contacts(const Message& m);

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) (RFC 3261
// §25.1), as thousandths: "0.5" -> 500, "1" -> 1000. No surrounding
// whitespace; anything else is nullopt.
std::optional<std::uint16_t> parse_qvalue(std::string_view v);

}  // namespace sigrelay::sip
