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
  // Dispatch on length and first letter so that at most two names are
  // compared: this runs for every header of every message.
  const auto is = [&](std::string_view full, HeaderId id) { return iequals(name, full) ? id : HeaderId::none; };
  HeaderId id = HeaderId::none;
  const char c = ascii_lower(name[0]);
  switch (name.size()) {
    case 2: id = is("To", HeaderId::to); break;
    case 3: id = is("Via", HeaderId::via); break;
    case 4: id = c == 'f' ? is("From", HeaderId::from) : is("CSeq", HeaderId::cseq); break;
    case 5:
      id = c == 'e' ? is("Event", HeaderId::event) : is("Route", HeaderId::route);
      break;
    case 6: id = is("Reason", HeaderId::reason); break;
    case 7:
      if (c == 'c') {
        id = ascii_lower(name[1]) == 'a' ? is("Call-ID", HeaderId::call_id) : is("Contact", HeaderId::contact);
      } else if (c == 's') {
        id = is("Subject", HeaderId::subject);
      } else if (c == 'r') {
        id = is("Require", HeaderId::require);
      } else {
        id = is("Expires", HeaderId::expires);
      }
      break;
    case 8:
      id = c == 'i' ? is("Identity", HeaderId::identity) : is("Refer-To", HeaderId::refer_to);
      break;
    case 9:
      id = c == 's' ? is("Supported", HeaderId::supported) : is("Diversion", HeaderId::diversion);
      break;
    case 11: id = is("Referred-By", HeaderId::referred_by); break;
    case 12:
      if (c == 'm') {
        id = is("Max-Forwards", HeaderId::max_forwards);
      } else if (c == 'r') {
        id = is("Record-Route", HeaderId::record_route);
      } else if (c == 'c') {
        id = is("Content-Type", HeaderId::content_type);
      } else if (c == 'a') {
        id = is("Allow-Events", HeaderId::allow_events);
      } else {
        id = is("History-Info", HeaderId::history_info);
      }
      break;
    case 13: id = is("Proxy-Require", HeaderId::proxy_require); break;
    case 14:
      if (c == 'c') {
        id = is("Content-Length", HeaderId::content_length);
      } else if (c == 'a') {
        id = is("Accept-Contact", HeaderId::accept_contact);
      } else {
        id = is("Reject-Contact", HeaderId::reject_contact);
      }
      break;
    case 15: id = is("Session-Expires", HeaderId::session_expires); break;
    case 16: id = is("Content-Encoding", HeaderId::content_encoding); break;
    case 19:
      id = c == 'p' ? is("P-Asserted-Identity", HeaderId::p_asserted_identity)
                    : is("Request-Disposition", HeaderId::request_disposition);
      break;
    default: break;
  }
  return id == HeaderId::none ? HeaderId::other : id;
}

std::string_view header_name(HeaderId id) {
  for (const auto& e : kFullNames) {
    if (e.id == id) return e.name;
  }
  return {};
}

}  // namespace sigrelay::sip
