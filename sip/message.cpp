#include "sip/message.hpp"

#include <cstring>

#include "sip/chars.hpp"

namespace sigrelay::sip {
namespace {

ParseResult fail(ParseError e, std::size_t offset, HeaderId h = HeaderId::none) {
  ParseResult r;
  r.error = e;
  r.header = h;
  r.offset = static_cast<std::uint32_t>(offset);
  return r;
}

// Finds the end of the line starting at `pos`: returns the index of the
// terminating '\n' (or npos), and sets content_end to the index past the
// line's last content byte (before CR).
std::size_t line_end(std::string_view s, std::size_t pos, std::size_t& content_end, bool allow_bare_lf,
                     bool& bad_ending) {
  const void* nl = std::memchr(s.data() + pos, '\n', s.size() - pos);
  if (nl == nullptr) return std::string_view::npos;
  const auto idx = static_cast<std::size_t>(static_cast<const char*>(nl) - s.data());
  if (idx > pos && s[idx - 1] == '\r') {
    content_end = idx - 1;
  } else {
    content_end = idx;
    bad_ending = !allow_bare_lf;
  }
  return idx;
}

bool parse_version(std::string_view v, bool& supported) {
  // SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT; the literal is case-insensitive.
  if (v.size() < 7 || !iequals(v.substr(0, 4), "SIP/")) return false;
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
  const auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return ParseError::bad_start_line;
  m.method = line.substr(0, sp1);
  if (!is_token(m.method)) return ParseError::bad_method;
  m.method_id = classify_method(m.method);
  std::size_t uri_start = sp1 + 1;
  if (opts.allow_extra_request_line_spaces) {
    while (uri_start < line.size() && line[uri_start] == ' ') ++uri_start;
    while (!line.empty() && line.back() == ' ') line.remove_suffix(1);
  }
  const auto sp2 = line.find(' ', uri_start);
  if (sp2 == std::string_view::npos) return ParseError::bad_start_line;
  m.request_uri_text = line.substr(uri_start, sp2 - uri_start);
  std::size_t version_start = sp2 + 1;
  if (opts.allow_extra_request_line_spaces) {
    while (version_start < line.size() && line[version_start] == ' ') ++version_start;
  }
  m.version = line.substr(version_start);
  bool supported = false;
  if (!parse_version(m.version, supported)) {
    // A URI never contains a space, so extra or trailing spaces land here.
    return m.request_uri_text.empty() || m.version.find(' ') != std::string_view::npos || m.version.empty()
               ? ParseError::bad_start_line
               : ParseError::bad_sip_version;
  }
  version_ok = true;
  if (!parse_uri(m.request_uri_text, m.request_uri)) return ParseError::bad_request_uri;
  if (!supported) return ParseError::unsupported_sip_version;
  return ParseError::ok;
}

// Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
ParseError parse_status_line(std::string_view line, Message& m) {
  const auto sp1 = line.find(' ');
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
  for (char c : m.reason) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return ParseError::bad_reason_phrase;
  }
  if (!supported) return ParseError::unsupported_sip_version;
  return ParseError::ok;
}

// The key headers, in the order their absence is reported.
constexpr HeaderId kRequired[] = {HeaderId::via, HeaderId::from, HeaderId::to, HeaderId::call_id,
                                  HeaderId::cseq};

constexpr bool single_valued(HeaderId id) {
  switch (id) {
    case HeaderId::call_id:
    case HeaderId::cseq:
    case HeaderId::from:
    case HeaderId::to:
    case HeaderId::max_forwards:
    case HeaderId::content_length:
      return true;
    default:
      return false;
  }
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

ParseResult parse_message(std::string_view bytes, Message& m, std::span<Header> storage, const ParseOptions& opts) {
  m = Message{};
  if (bytes.size() > opts.max_message_size) return fail(ParseError::message_too_large, opts.max_message_size);

  // Leading CRLFs are keepalive residue (RFC 3261 §7.5); skip them.
  std::size_t pos = 0;
  while (pos < bytes.size() && (bytes[pos] == '\r' || bytes[pos] == '\n')) ++pos;
  if (pos == bytes.size()) return fail(ParseError::empty, pos);
  const std::size_t msg_start = pos;

  bool bad_ending = false;
  std::size_t content_end = 0;
  std::size_t nl = line_end(bytes, pos, content_end, opts.allow_bare_lf, bad_ending);
  if (nl == std::string_view::npos) return fail(ParseError::missing_header_terminator, bytes.size());
  if (bad_ending) return fail(ParseError::bad_line_ending, nl);
  const auto start_line = bytes.substr(pos, content_end - pos);

  ParseError first_error = ParseError::ok;
  std::size_t first_error_offset = 0;
  HeaderId first_error_header = HeaderId::none;
  const auto note = [&](ParseError e, std::size_t off, HeaderId h = HeaderId::none) {
    if (first_error == ParseError::ok) {
      first_error = e;
      first_error_offset = off;
      first_error_header = h;
    }
  };

  bool start_line_usable = false;  // enough of it to answer
  if (start_line.size() >= 4 && iequals(start_line.substr(0, 4), "SIP/")) {
    m.is_request = false;
    const auto e = parse_status_line(start_line, m);
    if (e != ParseError::ok) return fail(e, pos);
  } else {
    m.is_request = true;
    bool version_ok = false;
    const auto e = parse_request_line(start_line, m, opts, version_ok);
    if (e != ParseError::ok) {
      if (e == ParseError::bad_start_line || e == ParseError::bad_method) return fail(e, pos);
      note(e, pos);
    }
    start_line_usable = version_ok || e == ParseError::bad_request_uri;
  }

  // Header fields: name HCOLON value, with folded continuation lines.
  std::size_t count = 0;
  int first_index[static_cast<std::size_t>(HeaderId::count_)];
  for (auto& v : first_index) v = -1;
  pos = nl + 1;
  m.header_block = bytes.substr(pos, 0);
  const std::size_t headers_start = pos;
  bool terminated = false;
  while (pos < bytes.size()) {
    nl = line_end(bytes, pos, content_end, opts.allow_bare_lf, bad_ending);
    if (nl == std::string_view::npos) break;
    if (bad_ending) return fail(ParseError::bad_line_ending, nl);
    if (content_end == pos) {  // the empty line
      pos = nl + 1;
      terminated = true;
      break;
    }
    const std::size_t line_start = pos;
    if (is_wsp(bytes[pos])) return fail(ParseError::bad_header_line, pos);  // continuation of nothing
    // Extend over folded continuation lines.
    while (nl + 1 < bytes.size() && is_wsp(bytes[nl + 1])) {
      const std::size_t next = line_end(bytes, nl + 1, content_end, opts.allow_bare_lf, bad_ending);
      if (next == std::string_view::npos) return fail(ParseError::missing_header_terminator, bytes.size());
      if (bad_ending) return fail(ParseError::bad_line_ending, next);
      nl = next;
    }
    std::size_t i = line_start;
    while (i < content_end && is_token_char(bytes[i])) ++i;
    const auto name = bytes.substr(line_start, i - line_start);
    while (i < content_end && is_wsp(bytes[i])) ++i;
    if (name.empty() || i >= content_end || bytes[i] != ':') return fail(ParseError::bad_header_line, line_start);
    ++i;
    std::size_t value_end = content_end;
    while (i < value_end && (is_wsp(bytes[i]) || bytes[i] == '\r' || bytes[i] == '\n')) ++i;
    while (value_end > i && is_wsp(bytes[value_end - 1])) --value_end;
    if (count == storage.size()) return fail(ParseError::too_many_headers, line_start);
    Header& h = storage[count];
    h.name = name;
    h.value = bytes.substr(i, value_end - i);
    h.line = bytes.substr(line_start, nl + 1 - line_start);
    h.id = classify_header(name);
    const auto slot = static_cast<std::size_t>(h.id);
    if (first_index[slot] < 0) {
      first_index[slot] = static_cast<int>(count);
    } else if (single_valued(h.id)) {
      note(ParseError::duplicate_header, line_start, h.id);
    }
    ++count;
    pos = nl + 1;
  }
  m.headers = storage.first(count);
  m.header_block = bytes.substr(headers_start, pos - headers_start);
  if (!terminated) return fail(ParseError::missing_header_terminator, bytes.size());

  const auto get = [&](HeaderId id) -> const Header* {
    const int idx = first_index[static_cast<std::size_t>(id)];
    return idx < 0 ? nullptr : &storage[static_cast<std::size_t>(idx)];
  };
  const auto offset_of = [&](const Header* h) {
    return static_cast<std::size_t>(h->line.data() - bytes.data());
  };

  // Mandatory headers (RFC 3261 §8.1.1); Max-Forwards may be absent, a proxy
  // then adds it (§16.6 step 3).
  bool all_present = true;
  for (HeaderId id : kRequired) {
    if (get(id) == nullptr) {
      note(ParseError::missing_header, msg_start, id);
      all_present = false;
    }
  }

  // Via: every via-parm of every Via header must parse; the first is kept.
  bool top_via_ok = false;
  for (std::size_t k = 0; k < count; ++k) {
    const Header& h = storage[k];
    if (h.id != HeaderId::via) continue;
    ViaList list(h.value);
    Via v;
    while (list.next(v)) {
      if (m.via_count == 0) {
        m.top_via = v;
        top_via_ok = true;
      }
      ++m.via_count;
    }
    if (list.error()) {
      note(ParseError::invalid_header_value, offset_of(&h), HeaderId::via);
      break;
    }
  }
  // A request is answerable once its start line and the headers that a
  // response copies are there (RFC 3261 §8.2.6).
  ParseResult result;
  result.respondable = m.is_request && start_line_usable && all_present && top_via_ok;

  if (const Header* h = get(HeaderId::from); h && !parse_name_addr(h->value, m.from)) {
    note(ParseError::invalid_header_value, offset_of(h), HeaderId::from);
  }
  if (const Header* h = get(HeaderId::to); h && !parse_name_addr(h->value, m.to)) {
    note(ParseError::invalid_header_value, offset_of(h), HeaderId::to);
  }
  if (const Header* h = get(HeaderId::call_id)) {
    if (valid_call_id(h->value)) {
      m.call_id = h->value;
    } else {
      note(ParseError::invalid_header_value, offset_of(h), HeaderId::call_id);
    }
  }
  if (const Header* h = get(HeaderId::cseq)) {
    if (!parse_cseq(h->value, m.cseq)) {
      note(ParseError::invalid_header_value, offset_of(h), HeaderId::cseq);
    } else if (m.is_request && m.cseq.method != m.method) {
      note(ParseError::cseq_method_mismatch, offset_of(h), HeaderId::cseq);
    }
  }
  if (const Header* h = get(HeaderId::max_forwards)) {
    if (const auto v = parse_uint(h->value, 255)) {
      m.max_forwards = static_cast<int>(*v);
    } else {
      note(ParseError::invalid_header_value, offset_of(h), HeaderId::max_forwards);
    }
  }
  for (std::size_t k = 0; k < count; ++k) {
    const Header& h = storage[k];
    if (h.id != HeaderId::contact) continue;
    NameAddrList list(h.value, /*allow_star=*/true);
    NameAddr na;
    while (list.next(na)) {
    }
    if (list.error()) {
      note(ParseError::invalid_header_value, offset_of(&h), HeaderId::contact);
      break;
    }
  }

  // Body (RFC 3261 §18.3): Content-Length bytes after the empty line.
  const std::size_t available = bytes.size() - pos;
  if (const Header* h = get(HeaderId::content_length)) {
    if (const auto v = parse_uint(h->value, opts.max_message_size)) {
      m.content_length = *v;
      m.has_content_length = true;
    } else {
      note(ParseError::invalid_header_value, offset_of(h), HeaderId::content_length);
    }
  } else if (!opts.datagram) {
    note(ParseError::missing_header, msg_start, HeaderId::content_length);
  }
  std::size_t body_len = available;
  if (m.has_content_length) {
    if (m.content_length > available) {
      note(ParseError::content_length_exceeds_datagram, pos, HeaderId::content_length);
    } else {
      body_len = m.content_length;  // datagram bytes past the body are ignored
    }
  }
  m.body = bytes.substr(pos, body_len);
  m.bytes = bytes.substr(msg_start, pos + body_len - msg_start);

  result.error = first_error;
  result.offset = static_cast<std::uint32_t>(first_error_offset);
  result.header = first_error_header;
  return result;
}

}  // namespace sigrelay::sip
