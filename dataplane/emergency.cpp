#include "dataplane/emergency.hpp"

#include <cstring>

namespace sigrelay::dataplane {

EmergencyNumbers::EmergencyNumbers(std::span<const std::string> numbers) {
  for (const auto& n : numbers) {
    if (count_ == kMaxNumbers || n.empty() || n.size() > kMaxDigits) continue;
    bool digits = true;
    for (char c : n) digits = digits && c >= '0' && c <= '9';
    if (!digits) continue;
    std::memcpy(numbers_[count_].data(), n.data(), n.size());
    lengths_[count_] = static_cast<std::uint8_t>(n.size());
    ++count_;
  }
}

std::size_t EmergencyNumbers::normalize(std::string_view user, char* out, std::size_t cap) {
  const auto semi = user.find(';');
  if (semi != std::string_view::npos) user = user.substr(0, semi);
  std::size_t n = 0;
  for (std::size_t i = 0; i < user.size(); ++i) {
    char c = user[i];
    if (c == '%') {
      if (i + 2 >= user.size()) return 0;
      const auto hex = [](char h) {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      const int hi = hex(user[i + 1]);
      const int lo = hex(user[i + 2]);
      if (hi < 0 || lo < 0) return 0;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '+' || c == '-' || c == '.' || c == '(' || c == ')' || c == ' ') continue;
    if (c < '0' || c > '9' || n == cap) return 0;
    out[n++] = c;
  }
  return n;
}

bool EmergencyNumbers::contains(std::string_view digits) const {
  for (std::size_t i = 0; i < count_; ++i) {
    if (digits == std::string_view(numbers_[i].data(), lengths_[i])) return true;
  }
  return false;
}

bool EmergencyNumbers::matches(const sip::Uri& uri) const {
  if (count_ == 0 || !uri.has_user) return false;
  if (uri.scheme == sip::UriScheme::other) return false;
  char digits[kMaxDigits + 1];
  const std::size_t n = normalize(uri.user, digits, sizeof digits);
  if (n == 0) return false;
  const std::string_view d(digits, n);
  if (contains(d)) return true;
  // North American dialling: "1" country code in front ("+1911", "1911").
  return d.size() > 1 && d[0] == '1' && contains(d.substr(1));
}

}  // namespace sigrelay::dataplane
