#include "sip/header_id.hpp"

#include <array>
#include <cstring>

#include "sip/chars.hpp"

namespace sigrelay::sip {
namespace {

struct NameEntry {
  std::string_view name;
  HeaderId id;
};

// Full names, canonical spelling, for header_name(). Recognising them is
// detail::classify_header_prefix()'s job (chars.hpp).
constexpr std::array<NameEntry, 31> kFullNames{{
    {"Via", HeaderId::via},
    {"Call-ID", HeaderId::call_id},
    {"Content-Length", HeaderId::content_length},
    {"From", HeaderId::from},
    {"To", HeaderId::to},
    {"Contact", HeaderId::contact},
    {"Supported", HeaderId::supported},
    {"Subject", HeaderId::subject},
    {"Content-Type", HeaderId::content_type},
    {"Content-Encoding", HeaderId::content_encoding},
    {"Event", HeaderId::event},
    {"Allow-Events", HeaderId::allow_events},
    {"Refer-To", HeaderId::refer_to},
    {"Session-Expires", HeaderId::session_expires},
    {"Referred-By", HeaderId::referred_by},
    {"Identity", HeaderId::identity},
    {"Accept-Contact", HeaderId::accept_contact},
    {"Reject-Contact", HeaderId::reject_contact},
    {"Request-Disposition", HeaderId::request_disposition},
    {"CSeq", HeaderId::cseq},
    {"Max-Forwards", HeaderId::max_forwards},
    {"Route", HeaderId::route},
    {"Record-Route", HeaderId::record_route},
    {"Require", HeaderId::require},
    {"Proxy-Require", HeaderId::proxy_require},
    {"P-Asserted-Identity", HeaderId::p_asserted_identity},
    {"Diversion", HeaderId::diversion},
    {"History-Info", HeaderId::history_info},
    {"Reason", HeaderId::reason},
    {"Expires", HeaderId::expires},
    {"", HeaderId::other},
}};

}  // namespace

HeaderId classify_header(std::string_view name) {
  // The matcher works on "name:" at the start of a header line, reading a
  // few whole words; a padded copy with the ':' appended gives it that, and
  // a match must then cover the whole name.
  constexpr auto kRead = static_cast<std::size_t>(detail::kHeaderPrefixRead);
  if (name.size() < 2) return name.size() == 1 ? detail::compact_header(name[0]) : HeaderId::other;
  if (name.size() >= kRead) return HeaderId::other;  // longer than any known name
  char line[kRead] = {};
  std::memcpy(line, name.data(), name.size());
  line[name.size()] = ':';
  std::size_t len = 0;
  const HeaderId id = detail::classify_header_prefix(line, len);
  return len == name.size() ? id : HeaderId::other;
}

std::string_view header_name(HeaderId id) {
  for (const auto& e : kFullNames) {
    if (e.id == id) return e.name;
  }
  return {};
}

}  // namespace sigrelay::sip
