#include "sim/numbers.hpp"

#include "sip/header_values.hpp"

namespace sigrelay::sim {

std::string normalize_number(std::string_view user_part) {
  std::string decoded(user_part.size(), '\0');
  const int n = sip::unescape(user_part, decoded.data(), decoded.size());
  if (n < 0) {
    decoded.assign(user_part);
  } else {
    decoded.resize(static_cast<std::size_t>(n));
  }
  // user=phone user parts carry tel parameters after ';' (RFC 3261 §19.1.6).
  if (const auto semi = decoded.find(';'); semi != std::string::npos) decoded.resize(semi);
  std::string out;
  out.reserve(decoded.size());
  for (std::size_t i = 0; i < decoded.size(); ++i) {
    const char c = decoded[i];
    if (c == '+' && i == 0) continue;
    if (c == '-' || c == '.' || c == '(' || c == ')') continue;
    out += c;
  }
  return out;
}

std::string uri_number(const sip::Uri& uri) {
  switch (uri.scheme) {
    case sip::UriScheme::sip:
    case sip::UriScheme::sips:
    case sip::UriScheme::tel:
      return normalize_number(uri.user);
    case sip::UriScheme::other:
      break;
  }
  return {};
}

std::string called_number(const sip::Message& request) { return uri_number(request.request_uri); }

std::string calling_number(const sip::Message& request) {
  if (const sip::Header* pai = request.find(sip::HeaderId::p_asserted_identity)) {
    sip::NameAddrList list(pai->value);
    sip::NameAddr first;
    if (list.next(first) && !first.star) return uri_number(first.uri);
  }
  return uri_number(request.from.uri);
}

}  // namespace sigrelay::sim
