// Whole-message parsing: the header section split into fields
// (sip/field_split.hpp, which also finds the start line's end), the start
// line, then the values the relay relies on.
#include "sip/message.hpp"

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "sip/chars.hpp"
#include "sip/field_split.hpp"

// Cost, in instructions per parse_message() of the samples in
// bench/sample_messages.hpp, counted with callgrind (repeatable on a shared
// machine, unlike wall time), g++ 12 -O3 (meson release), x86-64 with AVX2:
//   INVITE with SDP (1049 bytes):  14,587 at first; 5,970 full depth, 4,361 relay depth
//   302 with Identity (1148 bytes): 15,857 at first; 7,229 full depth, 4,135 relay depth
// About 2,000 of the INVITE's are the header split (sip/field_split.hpp,
// ~70 per line plus the line index); docs/benchmarks.md has the rest.
// Command: bench/run-sip-bench.sh (bench/sip_instruction_loop under
// callgrind, per parse = difference between two loop counts).

namespace sigrelay::sip {

namespace {

using detail::skip;
using detail::FirstError;
using detail::Fields;
using detail::header_bit;
using detail::Split;
using detail::split_message;

std::string_view span(const char* begin, const char* end) {
  return {begin, static_cast<std::size_t>(end - begin)};
}

ParseResult fail(ParseError e, std::size_t offset, HeaderId h = HeaderId::none) {
  ParseResult r;
  r.error = e;
  r.header = h;
  r.offset = static_cast<std::uint32_t>(offset);
  return r;
}

bool parse_version(std::string_view v, bool& supported) {
  // SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT; the literal is case-insensitive.
  if (v.size() == 7 && detail::Folded("sip/2.0").matches(v.data())) {
    supported = true;
    return true;
  }
  if (v.size() < 7 || !detail::Folded("sip/").matches(v.data())) return false;
  const auto rest = v.substr(4);
  const auto dot = rest.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == rest.size()) return false;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (i != dot && !is_digit(rest[i])) return false;
  }
  supported = rest == "2.0";
  return true;
}

// Request-Line = Method SP Request-URI SP SIP-Version
ParseError parse_request_line(std::string_view line, Message& m, const ParseOptions& opts, bool& version_ok) {
  version_ok = false;
  // A method is a token, so the first SP ends it unless something else does first.
  const char* end = line.data() + line.size();
  const char* sp1 = skip<detail::kToken>(line.data(), end);
  if (sp1 == end || *sp1 != ' ') {
    // Something not a token comes before the first SP (if there is one).
    const auto* sp = static_cast<const char*>(std::memchr(sp1, ' ', static_cast<std::size_t>(end - sp1)));
    if (sp == nullptr) return ParseError::bad_start_line;
    m.method = span(line.data(), sp);
    return ParseError::bad_method;
  }
  m.method = span(line.data(), sp1);
  if (m.method.empty()) return ParseError::bad_method;
  m.method_id = classify_method(m.method);
  const char* uri_start = sp1 + 1;
  if (opts.allow_extra_request_line_spaces) {
    while (uri_start < end && *uri_start == ' ') ++uri_start;
    while (end > line.data() && end[-1] == ' ') --end;
  }
  if (uri_start >= end) return ParseError::bad_start_line;
  // No part of a URI holds SP: a valid URI ends right at the SP before the
  // version, and parsing it first saves looking for that SP.
  const char* sp2 = detail::parse_uri_prefix(uri_start, end, m.request_uri);
  const bool uri_ok = sp2 != nullptr && sp2 != end && *sp2 == ' ';
  if (!uri_ok) {
    detail::reset(m.request_uri);
    sp2 = static_cast<const char*>(std::memchr(uri_start, ' ', static_cast<std::size_t>(end - uri_start)));
    if (sp2 == nullptr) return ParseError::bad_start_line;
  }
  m.request_uri_text = span(uri_start, sp2);
  const char* version_start = sp2 + 1;
  if (opts.allow_extra_request_line_spaces) {
    while (version_start < end && *version_start == ' ') ++version_start;
  }
  m.version = span(version_start, end);
  bool supported = false;
  if (!parse_version(m.version, supported)) {
    detail::reset(m.request_uri);  // the version is checked first
    // A URI never contains a space, so extra or trailing spaces land here.
    return m.request_uri_text.empty() || m.version.find(' ') != std::string_view::npos || m.version.empty()
               ? ParseError::bad_start_line
               : ParseError::bad_sip_version;
  }
  version_ok = true;
  if (!uri_ok) {
    m.request_uri.text = m.request_uri_text;  // as parse_uri() leaves a URI it rejects
    return ParseError::bad_request_uri;
  }
  if (!supported) return ParseError::unsupported_sip_version;
  return ParseError::ok;
}

// Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
ParseError parse_status_line(std::string_view line, Message& m) {
  // "SIP/2.0 " is the usual start; the first SP ends the version.
  const auto sp1 = line.size() > 7 && line[7] == ' ' && detail::Folded("sip/2.0").matches(line.data())
                       ? 7
                       : line.find(' ');
  if (sp1 == std::string_view::npos) return ParseError::bad_start_line;
  m.version = line.substr(0, sp1);
  bool supported = false;
  if (!parse_version(m.version, supported)) return ParseError::bad_sip_version;
  const auto rest = line.substr(sp1 + 1);
  if (rest.size() < 4 || rest[3] != ' ' || !is_digit(rest[0]) || !is_digit(rest[1]) || !is_digit(rest[2])) {
    // Also catches codes longer than three digits (RFC 4475 §3.1.2.19) and "200" with no SP.
    return ParseError::bad_status_code;
  }
  m.status = static_cast<std::uint16_t>((rest[0] - '0') * 100 + (rest[1] - '0') * 10 + (rest[2] - '0'));
  if (m.status < 100 || m.status > 699) return ParseError::bad_status_code;
  m.reason = rest.substr(4);
  const char* reason_end = m.reason.data() + m.reason.size();
  if (skip<detail::kReasonChar>(m.reason.data(), reason_end) != reason_end) return ParseError::bad_reason_phrase;
  if (!supported) return ParseError::unsupported_sip_version;
  return ParseError::ok;
}

// The key headers, in the order their absence is reported.
constexpr HeaderId kRequired[] = {HeaderId::via, HeaderId::from, HeaderId::to, HeaderId::call_id,
                                  HeaderId::cseq};
constexpr std::uint64_t kRequiredMask = header_bit(HeaderId::via) | header_bit(HeaderId::from) |
                                        header_bit(HeaderId::to) | header_bit(HeaderId::call_id) |
                                        header_bit(HeaderId::cseq);

// The CSeq names the request's method. classify_method() knows names
// exactly (methods are case-sensitive), so known ids decide without a compare.
bool same_method(const CSeq& cseq, const Message& m) {
  if (cseq.method_id != Method::unknown || m.method_id != Method::unknown) return cseq.method_id == m.method_id;
  return cseq.method == m.method;
}

// Via: every via-parm of every Via header must parse; the first is kept in
// m.top_via (parsed in place, later ones go through a scratch Via) and all
// are counted. Returns whether there is a top via.
bool parse_vias(const Fields& f, const char* base, const char* end, Message& m, FirstError& notes, bool all) {
  const Header* first = f.get(HeaderId::via);
  if (first == nullptr) return false;
  if (!all) {
    // Relay depth: the top via-parm only; the rest is relayed unread.
    ViaList list(first->value, end);
    if (list.next(m.top_via)) {
      m.via_count = 1;
      return true;
    }
    detail::reset(m.top_via);
    notes.note(ParseError::invalid_header_value, static_cast<std::size_t>(first->line.data() - base), HeaderId::via);
    return false;
  }
  Via scratch;
  for (const Header* h = first; h < f.end_of_fields(); ++h) {
    if (h->id != HeaderId::via) continue;
    ViaList list(h->value, end);
    while (list.next(m.via_count == 0 ? m.top_via : scratch)) ++m.via_count;
    if (list.error()) {
      if (m.via_count == 0) detail::reset(m.top_via);
      notes.note(ParseError::invalid_header_value, static_cast<std::size_t>(h->line.data() - base), HeaderId::via);
      break;
    }
  }
  return m.via_count > 0;
}

// Contact: every header must hold a valid list of name-addrs (or "*").
void check_contacts(const Fields& f, const char* base, const char* end, FirstError& notes) {
  const Header* first = f.get(HeaderId::contact);
  if (first == nullptr) return;
  NameAddr scratch;
  for (const Header* h = first; h < f.end_of_fields(); ++h) {
    if (h->id != HeaderId::contact) continue;
    NameAddrList list(h->value, /*allow_star=*/true, end);
    while (list.next(scratch)) {
    }
    if (list.error()) {
      notes.note(ParseError::invalid_header_value, static_cast<std::size_t>(h->line.data() - base), HeaderId::contact);
      break;
    }
  }
}

// The four large parts of a Message (800 of its 1,000 bytes) are written
// whole by the parse, or put back to their defaults; clearing the whole
// Message up front cost 25-38 ns here, measured alone (stores are what a
// clear costs).
// So the rest is cleared first and these parts only where the parse did not
// reach them; Written says which it reached.
struct Written {
  bool request_uri = false;
  // Each of these is parsed (written whole, or reset when invalid) exactly
  // when its header is present and the parse gets to the header values.
  bool top_via = false;
  bool from = false;
  bool to = false;
};

template <class Member>
constexpr std::size_t end_of(std::size_t offset) {
  return offset + sizeof(Member);
}

void reset_outside_large_parts(Message& m) {
  static constexpr Message kEmpty{};
  static_assert(std::is_standard_layout_v<Message> && std::is_trivially_copyable_v<Message>);
  constexpr std::size_t uri_at = offsetof(Message, request_uri);
  constexpr std::size_t uri_end = end_of<Uri>(uri_at);
  constexpr std::size_t via_at = offsetof(Message, top_via);
  constexpr std::size_t via_end = end_of<Via>(via_at);
  constexpr std::size_t from_at = offsetof(Message, from);
  constexpr std::size_t to_end = end_of<NameAddr>(offsetof(Message, to));
  static_assert(uri_end <= via_at && via_end <= from_at && offsetof(Message, to) == end_of<NameAddr>(from_at));
  auto* dst = reinterpret_cast<unsigned char*>(&m);
  const auto* src = reinterpret_cast<const unsigned char*>(&kEmpty);
  std::memcpy(dst, src, uri_at);
  std::memcpy(dst + uri_end, src + uri_end, via_at - uri_end);
  std::memcpy(dst + via_end, src + via_end, from_at - via_end);
  std::memcpy(dst + to_end, src + to_end, sizeof(Message) - to_end);
}

}  // namespace

const Header* Message::find(HeaderId id) const {
  for (const auto& h : headers) {
    if (h.id == id) return &h;
  }
  return nullptr;
}

const Header* Message::find(std::string_view name) const {
  const HeaderId id = classify_header(name);
  if (id != HeaderId::other) return find(id);
  for (const auto& h : headers) {
    if (h.id == HeaderId::other && iequals(h.name, name)) return &h;
  }
  return nullptr;
}

namespace {

ParseResult parse_message_into(std::string_view bytes, Message& m, std::span<Header> storage,
                               const ParseOptions& opts, Written& written) {
  if (bytes.size() > opts.max_message_size) return fail(ParseError::message_too_large, opts.max_message_size);

  const char* const base = bytes.data();
  const char* const end = base + bytes.size();
  const auto offset = [base](const char* p) { return static_cast<std::size_t>(p - base); };

  // Leading CRLFs are keepalive residue (RFC 3261 §7.5); skip them.
  const char* p = base;
  while (p < end && (*p == '\r' || *p == '\n')) ++p;
  if (p == end) return fail(ParseError::empty, bytes.size());
  const char* const msg_start = p;

  // One pass finds the start line's end and splits the header fields
  // (sip/field_split.hpp); the start line's faults still come first.
  Fields fields;
  fields.storage = storage;
  Split split;
  split_message(base, p, end, opts.allow_bare_lf, fields, split);
  const char* const nl = split.start_line_nl;
  if (nl == nullptr) return fail(ParseError::missing_header_terminator, bytes.size());
  if (nl[-1] != '\r' && !opts.allow_bare_lf) return fail(ParseError::bad_line_ending, offset(nl));
  const auto start_line = span(p, nl[-1] == '\r' ? nl - 1 : nl);  // p is no CR or LF: nl > p

  FirstError first_error;
  bool start_line_usable = false;  // enough of it to answer
  if (start_line.size() >= 4 && detail::Folded("sip/").matches(start_line.data())) {
    m.is_request = false;
    const auto e = parse_status_line(start_line, m);
    if (e != ParseError::ok) return fail(e, offset(p));
  } else {
    m.is_request = true;
    bool version_ok = false;
    const auto e = parse_request_line(start_line, m, opts, version_ok);
    // It wrote the Request-URI unless it stopped before it; then, as on
    // every bad_start_line, the URI holds its defaults.
    written.request_uri = e != ParseError::bad_start_line && e != ParseError::bad_method;
    if (e != ParseError::ok) {
      if (e == ParseError::bad_start_line || e == ParseError::bad_method) return fail(e, offset(p));
      first_error.note(e, offset(p));
    }
    start_line_usable = version_ok || e == ParseError::bad_request_uri;
  }

  // Header fields.
  p = nl + 1;
  m.header_block = span(p, p);
  if (!split.failure.ok()) return split.failure;
  if (split.notes.error != ParseError::ok) first_error.note(split.notes.error, split.notes.offset, split.notes.header);
  m.headers = storage.first(fields.count);
  m.header_block = span(p, fields.end);
  if (!fields.terminated) return fail(ParseError::missing_header_terminator, bytes.size());
  p = fields.end;

  const auto get = [&fields](HeaderId id) { return fields.get(id); };
  const auto offset_of = [&](const Header& h) { return offset(h.line.data()); };

  // Mandatory headers (RFC 3261 §8.1.1); Max-Forwards may be absent, a proxy
  // then adds it (§16.6 step 3).
  const bool all_present = (fields.seen & kRequiredMask) == kRequiredMask;
  if (!all_present) {
    for (HeaderId id : kRequired) {
      if (get(id) == nullptr) first_error.note(ParseError::missing_header, offset(msg_start), id);
    }
  }

  written.top_via = fields.get(HeaderId::via) != nullptr;
  written.from = fields.get(HeaderId::from) != nullptr;
  written.to = fields.get(HeaderId::to) != nullptr;
  const bool full = opts.depth == ParseDepth::full;
  const bool top_via_ok = parse_vias(fields, base, end, m, first_error, full);
  // A request is answerable once its start line and the headers that a
  // response copies are there (RFC 3261 §8.2.6).
  ParseResult result;
  result.respondable = m.is_request && start_line_usable && all_present && top_via_ok;

  const auto name_addr = [full, end](std::string_view v, NameAddr& out) {
    return full ? detail::parse_name_addr_within(v, out, false, end) : detail::bound_name_addr(v, out, end);
  };
  if (const Header* h = get(HeaderId::from); h && !name_addr(h->value, m.from)) {
    first_error.note(ParseError::invalid_header_value, offset_of(*h), HeaderId::from);
  }
  if (const Header* h = get(HeaderId::to); h && !name_addr(h->value, m.to)) {
    first_error.note(ParseError::invalid_header_value, offset_of(*h), HeaderId::to);
  }
  if (const Header* h = get(HeaderId::call_id)) {
    if (detail::valid_call_id_within(h->value, end)) {
      m.call_id = h->value;
    } else {
      first_error.note(ParseError::invalid_header_value, offset_of(*h), HeaderId::call_id);
    }
  }
  if (const Header* h = get(HeaderId::cseq)) {
    if (!parse_cseq(h->value, m.cseq)) {
      first_error.note(ParseError::invalid_header_value, offset_of(*h), HeaderId::cseq);
    } else if (m.is_request && !same_method(m.cseq, m)) {
      first_error.note(ParseError::cseq_method_mismatch, offset_of(*h), HeaderId::cseq);
    }
  }
  if (const Header* h = get(HeaderId::max_forwards)) {
    if (const auto v = parse_uint(h->value, 255)) {
      m.max_forwards = static_cast<int>(*v);
    } else {
      first_error.note(ParseError::invalid_header_value, offset_of(*h), HeaderId::max_forwards);
    }
  }
  if (full) check_contacts(fields, base, end, first_error);

  // Body (RFC 3261 §18.3): Content-Length bytes after the empty line.
  const auto available = static_cast<std::size_t>(end - p);
  if (const Header* h = get(HeaderId::content_length)) {
    if (const auto v = parse_uint(h->value, opts.max_message_size)) {
      m.content_length = *v;
      m.has_content_length = true;
    } else {
      first_error.note(ParseError::invalid_header_value, offset_of(*h), HeaderId::content_length);
    }
  } else if (!opts.datagram) {
    first_error.note(ParseError::missing_header, offset(msg_start), HeaderId::content_length);
  }
  std::size_t body_len = available;
  if (m.has_content_length) {
    if (m.content_length > available) {
      first_error.note(ParseError::content_length_exceeds_datagram, offset(p), HeaderId::content_length);
    } else {
      body_len = m.content_length;  // datagram bytes past the body are ignored
    }
  }
  m.body = span(p, p + body_len);
  m.bytes = span(msg_start, p + body_len);

  result.error = first_error.error;
  result.offset = static_cast<std::uint32_t>(first_error.offset);
  result.header = first_error.header;
  return result;
}

}  // namespace

ParseResult parse_message(std::string_view bytes, Message& m, std::span<Header> storage, const ParseOptions& opts) {
  reset_outside_large_parts(m);
  Written written;
  const ParseResult r = parse_message_into(bytes, m, storage, opts, written);
  if (!written.request_uri) detail::reset(m.request_uri);
  if (!written.top_via) detail::reset(m.top_via);
  if (!written.from) detail::reset(m.from);
  if (!written.to) detail::reset(m.to);
  return r;
}

}  // namespace sigrelay::sip
