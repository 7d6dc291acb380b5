#include "sip/rewriter.hpp"

#include <algorithm>
#include <cstring>

#include "sip/chars.hpp"

#if __has_include(<sys/uio.h>)
#include <sys/uio.h>
#include <cstddef>
// Lets the dataplane hand segments() to writev/sendmsg without a copy.
static_assert(sizeof(sigrelay::sip::Segment) == sizeof(struct iovec));
static_assert(offsetof(sigrelay::sip::Segment, data) == offsetof(struct iovec, iov_base));
static_assert(offsetof(sigrelay::sip::Segment, len) == offsetof(struct iovec, iov_len));
#endif

namespace sigrelay::sip {

namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kMaxForwards70 = "Max-Forwards: 70\r\n";
constexpr std::string_view kContentLengthName = "Content-Length: ";

// Header values may carry HTAB and UTF-8 but no control characters: a CR
// or LF would let a copied value smuggle in a header of its own.
bool valid_header_value(std::string_view v) {
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

// A Request-URI sits between two single spaces on the request line.
bool valid_request_uri(std::string_view v) {
  if (v.empty()) return false;
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
  }
  return true;
}

// 1*DIGIT, leading zeros allowed; -1 when not a number that fits 32 bits.
std::int64_t read_decimal(std::string_view v) {
  if (v.empty()) return -1;
  std::int64_t n = 0;
  for (char c : v) {
    if (!is_digit(c)) return -1;
    n = n * 10 + (c - '0');
    if (n > 0xffffffffLL) return -1;
  }
  return n;
}

std::size_t write_decimal(std::uint32_t n, char* out) {
  char tmp[10];
  std::size_t len = 0;
  do {
    tmp[len++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0);
  for (std::size_t i = 0; i < len; ++i) out[i] = tmp[len - 1 - i];
  return len;
}

// Where the second via-parm of a Via value starts, or npos when the first
// is alone. Commas inside quoted parameter values do not separate values.
std::size_t second_via_parm(std::string_view value) {
  bool quoted = false;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      std::size_t j = i + 1;
      while (j < value.size() && (is_wsp(value[j]) || value[j] == '\r' || value[j] == '\n')) ++j;
      return j < value.size() ? j : std::string_view::npos;
    }
  }
  return std::string_view::npos;
}

// Two edits collide when either changes bytes strictly inside the other's
// cut; touching at a boundary is fine (an insertion before a removed line).
bool crosses(std::uint32_t a_pos, std::uint32_t a_cut, std::uint32_t b_pos, std::uint32_t b_cut) {
  if (a_cut == 0 && b_cut == 0) return false;
  if (a_cut == 0) return b_pos < a_pos && a_pos < b_pos + b_cut;
  if (b_cut == 0) return a_pos < b_pos && b_pos < a_pos + a_cut;
  return a_pos < b_pos + b_cut && b_pos < a_pos + a_cut;
}

}  // namespace

std::string_view to_string(RewriteError e) {
  switch (e) {
    case RewriteError::ok: return "ok";
    case RewriteError::scratch_full: return "scratch_full";
    case RewriteError::too_many_edits: return "too_many_edits";
    case RewriteError::invalid_value: return "invalid_value";
    case RewriteError::no_such_header: return "no_such_header";
    case RewriteError::conflict: return "conflict";
    case RewriteError::not_a_request: return "not_a_request";
  }
  return "unknown";
}

Rewriter::Rewriter(const Message& msg)
    : msg_(msg),
      base_(msg.bytes.data()),
      original_size_(static_cast<std::uint32_t>(msg.bytes.size())),
      size_(msg.bytes.size()) {
  // The body is the tail of msg.bytes, whatever the transport.
  body_pos_ = original_size_ - static_cast<std::uint32_t>(msg.body.size());
  if (msg.headers.empty()) {
    headers_start_ = headers_end_ = body_pos_;
  } else {
    headers_start_ = line_start(msg.headers.front());
    headers_end_ = line_end(msg.headers.back());
  }
  for (const Header& h : msg.headers) {
    if (h.id == HeaderId::content_length) {
      content_length_header_ = &h;
      original_content_length_ = read_decimal(h.value);
      break;
    }
  }
  // The table is empty, so there is room for this edit.
  set_content_length(static_cast<std::uint32_t>(msg.body.size()));
}

std::uint32_t Rewriter::offset_of(std::string_view v) const {
  return static_cast<std::uint32_t>(v.data() - base_);
}

std::uint32_t Rewriter::line_end(const Header& h) const {
  return offset_of(h.line) + static_cast<std::uint32_t>(h.line.size());
}

std::uint32_t Rewriter::after_top_via_run() const {
  const auto headers = msg_.headers;
  std::size_t i = 0;
  while (i < headers.size() && headers[i].id != HeaderId::via) ++i;
  if (i == headers.size()) return headers_start_;
  while (i + 1 < headers.size() && headers[i + 1].id == HeaderId::via) ++i;
  return line_end(headers[i]);
}

bool Rewriter::fits_between_edits(std::uint32_t pos, std::uint32_t cut) const {
  for (std::size_t i = 0; i < edit_count_; ++i) {
    if (crosses(pos, cut, edits_[i].pos, edits_[i].cut)) return false;
  }
  return true;
}

bool Rewriter::has_identical_removal(std::uint32_t pos, std::uint32_t cut) const {
  for (std::size_t i = 0; i < edit_count_; ++i) {
    const Edit& e = edits_[i];
    if (e.kind == EditKind::remove && e.pos == pos && e.cut == cut) return true;
  }
  return false;
}

Rewriter::Edit* Rewriter::find_kind(EditKind kind) {
  for (std::size_t i = 0; i < edit_count_; ++i) {
    if (edits_[i].kind == kind) return &edits_[i];
  }
  return nullptr;
}

const char* Rewriter::to_scratch(std::initializer_list<std::string_view> parts, std::size_t& len) {
  len = 0;
  for (std::string_view p : parts) len += p.size();
  if (len > kScratchBytes - scratch_used_) return nullptr;
  char* start = scratch_ + scratch_used_;
  char* w = start;
  for (std::string_view p : parts) {
    std::memcpy(w, p.data(), p.size());
    w += p.size();
  }
  scratch_used_ += len;
  return start;
}

void Rewriter::place(const Edit& e) {
  // Keep the table sorted by position; an edit goes after others at the
  // same position, so insertions at one spot come out in call order.
  std::size_t i = edit_count_;
  while (i > 0 && edits_[i - 1].pos > e.pos) {
    edits_[i] = edits_[i - 1];
    --i;
  }
  edits_[i] = e;
  ++edit_count_;
  size_ -= e.cut;
  for (std::size_t k = 0; k < e.piece_count; ++k) size_ += e.pieces[k].len;
}

bool Rewriter::content_length_needs_new_edit(std::uint32_t n) {
  if (find_kind(EditKind::content_length) != nullptr) return false;
  return content_length_header_ == nullptr || original_content_length_ != n;
}

void Rewriter::set_content_length(std::uint32_t n) {
  const std::size_t len = write_decimal(n, content_length_digits_);
  const Segment digits{content_length_digits_, len};
  if (Edit* e = find_kind(EditKind::content_length)) {
    Segment& piece = e->pieces[e->cut == 0 ? 1 : 0];
    size_ = size_ - piece.len + len;
    piece = digits;
    return;
  }
  if (content_length_header_ == nullptr) {
    Edit e{};
    e.pos = headers_end_;
    e.kind = EditKind::content_length;
    e.piece_count = 3;
    e.pieces[0] = {kContentLengthName.data(), kContentLengthName.size()};
    e.pieces[1] = digits;
    e.pieces[2] = {kCrlf.data(), kCrlf.size()};
    place(e);
  } else if (original_content_length_ != n) {
    // Only the digits change, so the name keeps its written form ("l" or
    // "Content-Length") and its place.
    Edit e{};
    e.pos = offset_of(content_length_header_->value);
    e.cut = static_cast<std::uint32_t>(content_length_header_->value.size());
    e.kind = EditKind::content_length;
    e.piece_count = 1;
    e.pieces[0] = digits;
    place(e);
  }
}

RewriteError Rewriter::prepend_via(std::string_view via_value) {
  const bool blank = via_value.find_first_not_of(" \t") == std::string_view::npos;
  if (blank || !valid_header_value(via_value)) {
    return RewriteError::invalid_value;
  }
  std::uint32_t pos = headers_start_;
  for (const Header& h : msg_.headers) {
    if (h.id == HeaderId::via) {
      pos = line_start(h);
      break;
    }
  }
  if (edit_count_ == kMaxEdits) return RewriteError::too_many_edits;
  if (!fits_between_edits(pos, 0)) return RewriteError::conflict;
  Edit e{};
  e.pos = pos;
  e.kind = EditKind::insert;
  e.piece_count = 1;
  e.pieces[0].data = to_scratch({"Via: ", via_value, kCrlf}, e.pieces[0].len);
  if (e.pieces[0].data == nullptr) return RewriteError::scratch_full;
  place(e);
  return RewriteError::ok;
}

RewriteError Rewriter::remove_top_via() {
  const Header* via = nullptr;
  for (const Header& h : msg_.headers) {
    if (h.id == HeaderId::via) {
      via = &h;
      break;
    }
  }
  if (via == nullptr) return RewriteError::no_such_header;
  Edit e{};
  e.kind = EditKind::remove;
  const std::size_t next = second_via_parm(via->value);
  if (next == std::string_view::npos) {
    e.pos = line_start(*via);
    e.cut = static_cast<std::uint32_t>(via->line.size());
  } else {
    // "Via: a, b" becomes "Via: b": the name and its colon stay.
    e.pos = offset_of(via->value);
    e.cut = static_cast<std::uint32_t>(next);
  }
  if (edit_count_ == kMaxEdits) return RewriteError::too_many_edits;
  if (!fits_between_edits(e.pos, e.cut)) return RewriteError::conflict;
  place(e);
  return RewriteError::ok;
}

RewriteError Rewriter::decrement_max_forwards() {
  if (!msg_.is_request) return RewriteError::not_a_request;
  if (find_kind(EditKind::max_forwards) != nullptr) return RewriteError::conflict;
  const Header* mf = nullptr;
  for (const Header& h : msg_.headers) {
    if (h.id == HeaderId::max_forwards) {
      mf = &h;
      break;
    }
  }
  Edit e{};
  if (mf == nullptr) {
    e.pos = after_top_via_run();
    e.kind = EditKind::max_forwards;
    e.piece_count = 1;
    e.pieces[0] = {kMaxForwards70.data(), kMaxForwards70.size()};
  } else {
    const std::int64_t n = read_decimal(mf->value);
    if (n <= 0) return RewriteError::invalid_value;
    e.pos = offset_of(mf->value);
    e.cut = static_cast<std::uint32_t>(mf->value.size());
    e.kind = EditKind::max_forwards;
    e.piece_count = 1;
    // Written as a plain number: "0068" becomes "67".
    e.pieces[0] = {max_forwards_digits_,
                   write_decimal(static_cast<std::uint32_t>(n - 1), max_forwards_digits_)};
  }
  if (edit_count_ == kMaxEdits) return RewriteError::too_many_edits;
  if (!fits_between_edits(e.pos, e.cut)) return RewriteError::conflict;
  place(e);
  return RewriteError::ok;
}

RewriteError Rewriter::set_request_uri(std::string_view uri) {
  if (!msg_.is_request) return RewriteError::not_a_request;
  if (!valid_request_uri(uri)) return RewriteError::invalid_value;
  Edit e{};
  e.pos = offset_of(msg_.request_uri_text);
  e.cut = static_cast<std::uint32_t>(msg_.request_uri_text.size());
  e.kind = EditKind::replace;
  e.piece_count = 1;
  if (edit_count_ == kMaxEdits) return RewriteError::too_many_edits;
  if (!fits_between_edits(e.pos, e.cut)) return RewriteError::conflict;
  e.pieces[0].data = to_scratch({uri}, e.pieces[0].len);
  if (e.pieces[0].data == nullptr) return RewriteError::scratch_full;
  place(e);
  return RewriteError::ok;
}

RewriteError Rewriter::add_header(std::string_view name, std::string_view value) {
  return add_header_impl(name, value, true);
}

RewriteError Rewriter::add_header_ref(std::string_view name, std::string_view value) {
  return add_header_impl(name, value, false);
}

RewriteError Rewriter::add_header_impl(std::string_view name, std::string_view value, bool copy) {
  if (!is_token(name) || !valid_header_value(value)) return RewriteError::invalid_value;
  const HeaderId id = classify_header(name);
  if (id == HeaderId::content_length) return RewriteError::conflict;
  std::uint32_t pos = after_top_via_run();
  for (const Header& h : msg_.headers) {
    const bool same = id == HeaderId::other ? (h.id == HeaderId::other && iequals(h.name, name))
                                            : h.id == id;
    if (same) {
      pos = line_start(h);
      break;
    }
  }
  if (edit_count_ == kMaxEdits) return RewriteError::too_many_edits;
  if (!fits_between_edits(pos, 0)) return RewriteError::conflict;
  Edit e{};
  e.pos = pos;
  e.kind = EditKind::insert;
  if (copy) {
    e.piece_count = 1;
    e.pieces[0].data = to_scratch({name, ": ", value, kCrlf}, e.pieces[0].len);
  } else {
    e.piece_count = 3;
    e.pieces[0].data = to_scratch({name, ": "}, e.pieces[0].len);
    e.pieces[1] = {value.data(), value.size()};
    e.pieces[2] = {kCrlf.data(), kCrlf.size()};
  }
  if (e.pieces[0].data == nullptr) return RewriteError::scratch_full;
  place(e);
  return RewriteError::ok;
}

template <typename Match>
RewriteError Rewriter::remove_matching(Match match) {
  std::size_t found = 0;
  std::size_t fresh = 0;
  for (const Header& h : msg_.headers) {
    if (!match(h)) continue;
    ++found;
    const std::uint32_t pos = line_start(h);
    const auto cut = static_cast<std::uint32_t>(h.line.size());
    if (has_identical_removal(pos, cut)) continue;
    if (!fits_between_edits(pos, cut)) return RewriteError::conflict;
    ++fresh;
  }
  if (found == 0) return RewriteError::no_such_header;
  if (fresh > kMaxEdits - edit_count_) return RewriteError::too_many_edits;
  for (const Header& h : msg_.headers) {
    if (!match(h)) continue;
    Edit e{};
    e.pos = line_start(h);
    e.cut = static_cast<std::uint32_t>(h.line.size());
    e.kind = EditKind::remove;
    if (!has_identical_removal(e.pos, e.cut)) place(e);
  }
  return RewriteError::ok;
}

RewriteError Rewriter::remove_headers(HeaderId id) {
  if (id == HeaderId::none || id == HeaderId::other || id >= HeaderId::count_) {
    return RewriteError::invalid_value;
  }
  if (id == HeaderId::content_length) return RewriteError::conflict;
  return remove_matching([id](const Header& h) { return h.id == id; });
}

RewriteError Rewriter::remove_headers(std::string_view name) {
  if (!is_token(name)) return RewriteError::invalid_value;
  const HeaderId id = classify_header(name);
  if (id != HeaderId::other) return remove_headers(id);
  return remove_matching(
      [name](const Header& h) { return h.id == HeaderId::other && iequals(h.name, name); });
}

RewriteError Rewriter::set_body(std::string_view body) {
  if (body.size() > 0xffffffffULL) return RewriteError::invalid_value;
  const auto n = static_cast<std::uint32_t>(body.size());
  Edit* existing = find_kind(EditKind::body);
  const std::size_t needed = (existing == nullptr ? 1 : 0) + (content_length_needs_new_edit(n) ? 1 : 0);
  if (needed > kMaxEdits - edit_count_) return RewriteError::too_many_edits;
  if (existing != nullptr) {
    size_ = size_ - existing->pieces[0].len + body.size();
    existing->pieces[0] = {body.data(), body.size()};
  } else {
    Edit e{};
    e.pos = body_pos_;
    e.cut = original_size_ - body_pos_;
    e.kind = EditKind::body;
    e.piece_count = 1;
    e.pieces[0] = {body.data(), body.size()};
    place(e);
  }
  set_content_length(n);
  return RewriteError::ok;
}

std::span<const Segment> Rewriter::segments() {
  std::size_t count = 0;
  auto push = [&](const char* p, std::size_t len) {
    if (len == 0) return;
    if (count > 0 && out_[count - 1].data + out_[count - 1].len == p) {
      out_[count - 1].len += len;
    } else {
      out_[count++] = {p, len};
    }
  };
  std::uint32_t cursor = 0;
  for (std::size_t i = 0; i < edit_count_; ++i) {
    const Edit& e = edits_[i];
    if (e.pos > cursor) push(base_ + cursor, e.pos - cursor);
    for (std::size_t k = 0; k < e.piece_count; ++k) push(e.pieces[k].data, e.pieces[k].len);
    cursor = std::max(cursor, e.pos + e.cut);
  }
  push(base_ + cursor, original_size_ - cursor);
  return {out_, count};
}

std::size_t Rewriter::flatten(char* out, std::size_t cap) const {
  if (cap < size_) return 0;
  char* w = out;
  auto put = [&w](const char* p, std::size_t len) {
    if (len == 0) return;
    std::memcpy(w, p, len);
    w += len;
  };
  std::uint32_t cursor = 0;
  for (std::size_t i = 0; i < edit_count_; ++i) {
    const Edit& e = edits_[i];
    if (e.pos > cursor) put(base_ + cursor, e.pos - cursor);
    for (std::size_t k = 0; k < e.piece_count; ++k) put(e.pieces[k].data, e.pieces[k].len);
    cursor = std::max(cursor, e.pos + e.cut);
  }
  put(base_ + cursor, original_size_ - cursor);
  return static_cast<std::size_t>(w - out);
}

}  // namespace sigrelay::sip
