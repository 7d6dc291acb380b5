#include "sip/header_id.hpp"

#include <array>

#include "sip/chars.hpp"

namespace sigrelay::sip {
namespace {

struct NameEntry {
  std::string_view name;
  HeaderId id;
};

// Full names, canonical spelling. Looked up by length first, then compared
// case-insensitively: a handful of comparisons at most per header.
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

// Compact forms (RFC 3261 §7.3.3 and the extensions that define one).
constexpr HeaderId compact(char c) {
  switch (ascii_lower(c)) {
    case 'v': return HeaderId::via;
    case 'i': return HeaderId::call_id;
    case 'l': return HeaderId::content_length;
    case 'f': return HeaderId::from;
    case 't': return HeaderId::to;
    case 'm': return HeaderId::contact;
    case 'k': return HeaderId::supported;
    case 's': return HeaderId::subject;
    case 'c': return HeaderId::content_type;
    case 'e': return HeaderId::content_encoding;
    case 'o': return HeaderId::event;
    case 'u': return HeaderId::allow_events;
    case 'r': return HeaderId::refer_to;
    case 'x': return HeaderId::session_expires;
    case 'b': return HeaderId::referred_by;
    case 'y': return HeaderId::identity;
    case 'a': return HeaderId::accept_contact;
    case 'j': return HeaderId::reject_contact;
    case 'd': return HeaderId::request_disposition;
    default: return HeaderId::other;
  }
}

}  // namespace

HeaderId classify_header(std::string_view name) {
  if (name.size() == 1) return compact(name[0]);
  for (const auto& e : kFullNames) {
    if (e.name.size() == name.size() && iequals(e.name, name)) return e.id;
  }
  return HeaderId::other;
}

std::string_view header_name(HeaderId id) {
  for (const auto& e : kFullNames) {
    if (e.id == id) return e.name;
  }
  return {};
}

}  // namespace sigrelay::sip
