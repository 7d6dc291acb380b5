// Whole-message parsing: the start line, then the header section split into
// fields a line at a time, then the values the relay relies on.
#include "sip/message.hpp"

#include <bit>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "sip/chars.hpp"

// Cost, in instructions per parse_message() of the samples in
// bench/sample_messages.hpp, counted with callgrind (repeatable on a shared
// machine, unlike wall time), g++ 12 -O3 (meson release), x86-64:
//   INVITE with SDP (1049 bytes):  14,587 before this layout; 6,599 full depth, 5,195 relay depth
//   302 with Identity (1148 bytes): 15,857 before;            8,062 full depth, 5,195 relay depth
// The split of the 16 header lines and the match of their names is about
// 2,100 of the INVITE's; docs/benchmarks.md has the rest of the breakdown.
// Command: bench/run-sip-bench.sh (bench/sip_instruction_loop under
// callgrind, per parse = difference between two loop counts).

namespace sigrelay::sip {

namespace {

using detail::skip;

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

// Finds the line ends ('\n') of the header section in order, a 64-byte
// block at a time: a few vector compares build a bitmask of the '\n'
// positions, and each line then costs a bit scan instead of a memchr call.
// Never reads past `end`: a last partial block is copied.
class NewlineFinder {
 public:
  NewlineFinder(const char* begin, const char* end) : block_(begin), end_(end) { load(); }

  // The next '\n' after the one returned last (the first from `begin`), or nullptr.
  const char* next() {
    while (mask_ == 0) {
      block_ += 64;
      if (block_ >= end_) return nullptr;
      load();
    }
    const char* nl = block_ + std::countr_zero(mask_);
    mask_ &= mask_ - 1;
    return nl;
  }

  // The first CR not followed by LF in the blocks scanned so far, or nullptr.
  // A bare CR is no line ending in RFC 3261 and must not be relayed: the
  // caller rejects it when it lies inside the header section.
  const char* bare_cr() const { return bare_cr_; }

 private:
  // The '\n' and '\r' bitmasks of the block at block_; the CR check for the
  // block's last byte waits for the next block's first byte.
  void load() {
    if (end_ - block_ >= 64) {
      scan(block_);
    } else {
      load_tail();
    }
  }
  // The last, partial block goes through a zero-padded copy (zeros are
  // neither '\n' nor '\r'); apart, so that full blocks do not clear it.
  [[gnu::noinline]] void load_tail() {
    char tail[64] = {};
    if (end_ > block_) std::memcpy(tail, block_, static_cast<std::size_t>(end_ - block_));
    scan(tail);
  }
  [[gnu::always_inline]] void scan(const char* src) {
    const char* p = block_;
    mask_ = mask64(src, '\n');
    const std::uint64_t cr = mask64(src, '\r');
    if (cr_at_end_ && (mask_ & 1) == 0 && bare_cr_ == nullptr) bare_cr_ = p - 1;
    cr_at_end_ = (cr >> 63) != 0;
    const std::uint64_t bare = cr & ~(mask_ >> 1) & ~(1ULL << 63);
    if (bare != 0 && bare_cr_ == nullptr) bare_cr_ = p + std::countr_zero(bare);
  }

#if defined(__SSE2__)
  static std::uint64_t mask16(const char* p, char c) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c))));
  }
  static std::uint64_t mask64(const char* p, char c) {
    return mask16(p, c) | mask16(p + 16, c) << 16 | mask16(p + 32, c) << 32 | mask16(p + 48, c) << 48;
  }
#else
  static std::uint64_t mask64(const char* p, char c) {
    std::uint64_t m = 0;
    for (int i = 0; i < 64; ++i) m |= static_cast<std::uint64_t>(p[i] == c) << i;
    return m;
  }
#endif

  const char* block_;
  const char* end_;
  std::uint64_t mask_ = 0;
  const char* bare_cr_ = nullptr;
  bool cr_at_end_ = false;
};

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

constexpr std::uint64_t bit(HeaderId id) { return std::uint64_t{1} << static_cast<unsigned>(id); }
static_assert(static_cast<unsigned>(HeaderId::count_) <= 64, "header ids must fit the bitmasks below");

// The key headers, in the order their absence is reported.
constexpr HeaderId kRequired[] = {HeaderId::via, HeaderId::from, HeaderId::to, HeaderId::call_id,
                                  HeaderId::cseq};
constexpr std::uint64_t kRequiredMask =
    bit(HeaderId::via) | bit(HeaderId::from) | bit(HeaderId::to) | bit(HeaderId::call_id) | bit(HeaderId::cseq);
constexpr std::uint64_t kSingleValued = bit(HeaderId::call_id) | bit(HeaderId::cseq) | bit(HeaderId::from) |
                                        bit(HeaderId::to) | bit(HeaderId::max_forwards) |
                                        bit(HeaderId::content_length);

// The first error noted wins; parsing goes on so that a request with a bad
// header can still be answered.
struct FirstError {
  ParseError error = ParseError::ok;
  std::size_t offset = 0;
  HeaderId header = HeaderId::none;
  void note(ParseError e, std::size_t off, HeaderId h = HeaderId::none) {
    if (error == ParseError::ok) {
      error = e;
      offset = off;
      header = h;
    }
  }
};

// The header fields found, and where the first one of each id is.
struct Fields {
  std::span<Header> storage;
  std::size_t count = 0;
  std::uint64_t seen = 0;  // the ids that occur; first[] is valid for those only
  std::size_t first[static_cast<std::size_t>(HeaderId::count_)];
  std::size_t last[static_cast<std::size_t>(HeaderId::count_)];  // valid where `seen` is set
  const char* end = nullptr;  // past the last field line (past the empty line when complete)
  bool terminated = false;    // the empty line was found

  const Header* get(HeaderId id) const {
    return (seen & bit(id)) == 0 ? nullptr : &storage[first[static_cast<std::size_t>(id)]];
  }
  const Header* last_of(HeaderId id) const { return &storage[last[static_cast<std::size_t>(id)]]; }
};

// A header line whose next line starts with SP/HT continues there (a fold);
// extends nl and content_end over the continuation lines.
[[gnu::always_inline]] inline ParseError unfold(NewlineFinder& lines, const char* end, const ParseOptions& opts, const char*& nl,
                  const char*& content_end, const char*& error_at) {
  while (nl + 1 < end && is_wsp(nl[1])) {
    const char* next = lines.next();
    if (next == nullptr) return ParseError::missing_header_terminator;
    if (next[-1] == '\r') {  // never nl + 1: that is SP or HT
      content_end = next - 1;
    } else if (opts.allow_bare_lf) {
      content_end = next;
    } else {
      error_at = next;
      return ParseError::bad_line_ending;
    }
    nl = next;
  }
  return ParseError::ok;
}

// The name of the header field on the line at p, and the ':' after it (or
// nullptr when there is no valid name and colon), with the name's id. Known
// names written "Name:" are matched a word at a time where 24 bytes remain;
// anything else is scanned a byte at a time.
[[gnu::always_inline]] inline const char* field_name(const char* p, const char* end, const char* content_end, HeaderId& id,
                              const char*& name_end) {
  const bool prefix_tried = end - p >= detail::kHeaderPrefixRead;
  if (prefix_tried) {
    std::size_t len = 0;
    id = detail::classify_header_prefix(p, len);
    if (id != HeaderId::other) {
      name_end = p + len;
      return name_end;
    }
  }
  name_end = skip<detail::kToken>(p, content_end);
  const char* colon = skip<detail::kWsp>(name_end, content_end);
  if (name_end == p || colon == content_end || *colon != ':') return nullptr;
  // The prefix match already said "not a known name" for a name directly
  // followed by ':', which is all classify_header() would check.
  id = prefix_tried && colon == name_end ? HeaderId::other : classify_header(span(p, name_end));
  return colon;
}

// The value after the colon: without the whitespace (folds included) that
// follows the colon and without trailing SP/HT. *content_end is CR or LF,
// so the usual single SP needs no bounds check.
[[gnu::always_inline]] inline std::string_view field_value(const char* colon, const char* content_end) {
  const char* value = colon + 1;
  if (*value == ' ') ++value;
  if (is_lws(*value)) value = skip<detail::kLws>(value, content_end);
  const char* value_end = content_end;
  while (value_end > value && is_wsp(value_end[-1])) --value_end;
  return span(value, value_end);
}

// Splits the header fields, from p (after the start line) through the empty
// line, into f.storage: name HCOLON value, folded lines included. Returns a
// failure that ends parsing at once; a missing empty line is reported by the
// caller (f.terminated stays false).
ParseResult split_fields(const char* base, const char* p, const char* end, const ParseOptions& opts, Fields& f,
                         FirstError& notes) {
  const auto at = [base](const char* x) { return static_cast<std::size_t>(x - base); };
  // Locals, not f's members: the compiler cannot keep those in registers
  // across the stores into the Header array.
  NewlineFinder lines(p, end);
  const bool allow_bare_lf = opts.allow_bare_lf;
  std::size_t count = 0;
  std::uint64_t seen = 0;
  Header* const storage = f.storage.data();
  const std::size_t capacity = f.storage.size();
  const auto done = [&](const char* after, bool terminated) {
    f.count = count;
    f.seen = seen;
    f.end = after;
    f.terminated = terminated;
    return ParseResult{};
  };
  for (;; ++count) {  // ends at the empty line, or when no line end is left
    const char* nl = lines.next();
    if (nl == nullptr) break;
    const char* content_end = nl;
    if (nl > p && nl[-1] == '\r') {
      --content_end;
    } else if (!allow_bare_lf) {
      return fail(ParseError::bad_line_ending, at(nl));
    }
    if (content_end == p) {  // the empty line
      if (const char* cr = lines.bare_cr(); cr != nullptr && cr < nl) return fail(ParseError::bad_line_ending, at(cr));
      return done(nl + 1, true);
    }
    // A line starting with SP/HT continues the one before it: unfold() below
    // took those, so only the first header line can start that way.
    if (count == 0 && is_wsp(*p)) return fail(ParseError::bad_header_line, at(p));  // continuation of nothing
    if (nl + 1 < end && is_wsp(nl[1])) {
      const char* error_at = end;
      if (const auto e = unfold(lines, end, opts, nl, content_end, error_at); e != ParseError::ok) {
        return fail(e, at(error_at));
      }
    }
    HeaderId id = HeaderId::other;
    const char* name_end = nullptr;
    const char* colon = field_name(p, end, content_end, id, name_end);
    if (colon == nullptr) return fail(ParseError::bad_header_line, at(p));
    const std::string_view value = field_value(colon, content_end);
    if (count == capacity) return fail(ParseError::too_many_headers, at(p));
    Header& h = storage[count];
    h.name = span(p, name_end);
    h.value = value;
    h.line = span(p, nl + 1);
    h.id = id;
    if ((seen & bit(id)) == 0) {
      seen |= bit(id);
      f.first[static_cast<std::size_t>(id)] = count;
    } else if ((kSingleValued & bit(id)) != 0) {
      notes.note(ParseError::duplicate_header, at(p), id);
    }
    f.last[static_cast<std::size_t>(id)] = count;
    p = nl + 1;
  }
  return done(p, false);
}

// Via: every via-parm of every Via header must parse; the first is kept in
// m.top_via (parsed in place, later ones go through a scratch Via) and all
// are counted. Returns whether there is a top via.
bool parse_vias(const Fields& f, const char* base, Message& m, FirstError& notes, bool all) {
  const Header* first = f.get(HeaderId::via);
  if (first == nullptr) return false;
  if (!all) {
    // Relay depth: the top via-parm only; the rest is relayed unread.
    ViaList list(first->value);
    if (list.next(m.top_via)) {
      m.via_count = 1;
      return true;
    }
    detail::reset(m.top_via);
    notes.note(ParseError::invalid_header_value, static_cast<std::size_t>(first->line.data() - base), HeaderId::via);
    return false;
  }
  Via scratch;
  for (const Header* h = first; h <= f.last_of(HeaderId::via); ++h) {
    if (h->id != HeaderId::via) continue;
    ViaList list(h->value);
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
void check_contacts(const Fields& f, const char* base, FirstError& notes) {
  const Header* first = f.get(HeaderId::contact);
  if (first == nullptr) return;
  NameAddr scratch;
  for (const Header* h = first; h <= f.last_of(HeaderId::contact); ++h) {
    if (h->id != HeaderId::contact) continue;
    NameAddrList list(h->value, /*allow_star=*/true);
    while (list.next(scratch)) {
    }
    if (list.error()) {
      notes.note(ParseError::invalid_header_value, static_cast<std::size_t>(h->line.data() - base), HeaderId::contact);
      break;
    }
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
  detail::reset(m);
  if (bytes.size() > opts.max_message_size) return fail(ParseError::message_too_large, opts.max_message_size);

  const char* const base = bytes.data();
  const char* const end = base + bytes.size();
  const auto offset = [base](const char* p) { return static_cast<std::size_t>(p - base); };

  // Leading CRLFs are keepalive residue (RFC 3261 §7.5); skip them.
  const char* p = base;
  while (p < end && (*p == '\r' || *p == '\n')) ++p;
  if (p == end) return fail(ParseError::empty, bytes.size());
  const char* const msg_start = p;

  const auto* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
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
    if (e != ParseError::ok) {
      if (e == ParseError::bad_start_line || e == ParseError::bad_method) return fail(e, offset(p));
      first_error.note(e, offset(p));
    }
    start_line_usable = version_ok || e == ParseError::bad_request_uri;
  }

  // Header fields.
  p = nl + 1;
  m.header_block = span(p, p);
  Fields fields;
  fields.storage = storage;
  if (const auto r = split_fields(base, p, end, opts, fields, first_error); !r.ok()) return r;
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

  const bool full = opts.depth == ParseDepth::full;
  const bool top_via_ok = parse_vias(fields, base, m, first_error, full);
  // A request is answerable once its start line and the headers that a
  // response copies are there (RFC 3261 §8.2.6).
  ParseResult result;
  result.respondable = m.is_request && start_line_usable && all_present && top_via_ok;

  const auto name_addr = [full](std::string_view v, NameAddr& out) {
    return full ? parse_name_addr(v, out) : detail::bound_name_addr(v, out);
  };
  if (const Header* h = get(HeaderId::from); h && !name_addr(h->value, m.from)) {
    first_error.note(ParseError::invalid_header_value, offset_of(*h), HeaderId::from);
  }
  if (const Header* h = get(HeaderId::to); h && !name_addr(h->value, m.to)) {
    first_error.note(ParseError::invalid_header_value, offset_of(*h), HeaderId::to);
  }
  if (const Header* h = get(HeaderId::call_id)) {
    if (valid_call_id(h->value)) {
      m.call_id = h->value;
    } else {
      first_error.note(ParseError::invalid_header_value, offset_of(*h), HeaderId::call_id);
    }
  }
  if (const Header* h = get(HeaderId::cseq)) {
    if (!parse_cseq(h->value, m.cseq)) {
      first_error.note(ParseError::invalid_header_value, offset_of(*h), HeaderId::cseq);
    } else if (m.is_request && m.cseq.method != m.method) {
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
  if (full) check_contacts(fields, base, first_error);

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

}  // namespace sigrelay::sip
