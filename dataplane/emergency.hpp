// The emergency guard (DESIGN.md §1): an INVITE whose Request-URI names an
// emergency number never leaves the box. Switches write the same number many
// ways — "911", "+1911", "1-911", "tel:911;phone-context=+1", "%39%31%31" —
// so the user part is normalised before it is compared.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "sip/uri.hpp"

namespace sigrelay::dataplane {

class EmergencyNumbers {
 public:
  static constexpr std::size_t kMaxNumbers = 32;
  static constexpr std::size_t kMaxDigits = 15;  // E.164 maximum

  EmergencyNumbers() = default;
  // Numbers are digit strings ("911"); anything else is ignored (the config
  // loader rejects it before this point).
  explicit EmergencyNumbers(std::span<const std::string> numbers);

  // True when the URI's user part (sip:/sips:) or number (tel:), normalised,
  // is one of the numbers, with or without a leading country code 1.
  bool matches(const sip::Uri& uri) const;

  // The normalised digits of a user part: %-escapes decoded, parameters
  // (";...") dropped, '+' and visual separators (- . ( ) and space) removed.
  // Returns the digit count, or 0 when anything but digits remains or it
  // does not fit in `out`.
  static std::size_t normalize(std::string_view user, char* out, std::size_t cap);

 private:
  bool contains(std::string_view digits) const;

  std::array<std::array<char, kMaxDigits>, kMaxNumbers> numbers_{};
  std::array<std::uint8_t, kMaxNumbers> lengths_{};
  std::size_t count_ = 0;
};

}  // namespace sigrelay::dataplane
