// Edits a parsed SIP message without copying it: the output is a list of
// segments that point either into the original bytes or at the few new bytes
// the edits produced. Nothing allocates; new text lives in a fixed scratch
// area inside the Rewriter, or in caller-owned memory where a call says so.
//
// Edits may be requested in any order; they are applied in message order.
// Every call either succeeds completely or leaves the output unchanged.
// Content-Length is kept right automatically (written when absent, updated
// in place when the body changes), so the output is valid on a stream
// transport even when the input came from a datagram without one.
// See docs/rewriter.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>

#include "sip/header_id.hpp"
#include "sip/message.hpp"

namespace sigrelay::sip {

// Stable outcome codes: values never change meaning once released.
enum class RewriteError : std::uint8_t {
  ok = 0,
  scratch_full,     // the new text does not fit in the scratch area
  too_many_edits,   // the edit table is full
  invalid_value,    // CR, LF, NUL or another control character in a value,
                    // a name that is not a token, an unusable Max-Forwards
  no_such_header,   // nothing to act on; the output is unchanged
  conflict,         // touches bytes another edit already changed, or
                    // Content-Length, which the rewriter owns
  not_a_request,    // a request-only edit on a response
};

// Short fixed name of the code: "scratch_full". Never allocates.
std::string_view to_string(RewriteError e);

// Same size and member layout as POSIX struct iovec (checked where
// <sys/uio.h> exists), so a segment list can go straight to writev/sendmsg.
struct Segment {
  const char* data;
  std::size_t len;
};

class Rewriter {
 public:
  static constexpr std::size_t kScratchBytes = 2048;
  static constexpr std::size_t kMaxEdits = 32;

  // `msg` must have parsed without error. It, its header array and the
  // bytes it views must outlive the Rewriter and every use of its output.
  explicit Rewriter(const Message& msg);
  explicit Rewriter(Message&&) = delete;  // the output would dangle

  // Output segments point into this object: it must stay where it is.
  Rewriter(const Rewriter&) = delete;
  Rewriter& operator=(const Rewriter&) = delete;

  // Inserts "Via: <via_value>" above the message's Via header fields
  // (RFC 3261 §16.6 step 8). Several calls keep their call order.
  RewriteError prepend_via(std::string_view via_value);

  // Removes the first via-parm (RFC 3261 §16.7 step 3): the whole header
  // field when it is alone in it, otherwise only that value and its comma.
  RewriteError remove_top_via();

  // RFC 3261 §16.6 step 3: decrements Max-Forwards, or inserts
  // "Max-Forwards: 70" when the request has none. A value of 0 is
  // invalid_value: answering 483 is the caller's job.
  RewriteError decrement_max_forwards();

  // Replaces the Request-URI. The URI is copied; it must be non-empty
  // printable ASCII without spaces (it is not otherwise parsed).
  RewriteError set_request_uri(std::string_view uri);

  // Inserts "<name>: <value>" above the first header field of the same name
  // (full or compact form), so a new Route/Record-Route/Identity value goes
  // on top; when there is none, right after the topmost run of Via header
  // fields. Several calls for one name keep their call order. A header
  // removed with remove_headers() still marks the spot, so remove-then-add
  // replaces in place. The value is copied into the scratch area.
  RewriteError add_header(std::string_view name, std::string_view value);

  // As add_header(), but the value is referenced, not copied: the caller
  // guarantees it outlives every use of the output. For large values such
  // as Identity that would otherwise exhaust the scratch area.
  RewriteError add_header_ref(std::string_view name, std::string_view value);

  // Removes every header field with this id (id must be a known header).
  // Removing a field twice is not an error.
  RewriteError remove_headers(HeaderId id);
  // The same by name (full or compact form, any case), for headers the
  // parser does not classify, e.g. a configured verification header.
  RewriteError remove_headers(std::string_view name);

  // Replaces the body; Content-Length follows. The body is referenced, not
  // copied: the caller keeps it alive. May be called again to replace it.
  RewriteError set_body(std::string_view body);

  // The output, in order. Valid until the next edit.
  std::span<const Segment> segments();
  std::size_t size() const { return size_; }
  // Copies the output into `out`; returns its size, or 0 if `cap` is too small.
  std::size_t flatten(char* out, std::size_t cap) const;

  std::size_t edit_count() const { return edit_count_; }
  std::size_t scratch_used() const { return scratch_used_; }

 private:
  static constexpr std::size_t kMaxPieces = 3;
  static constexpr std::size_t kMaxSegments = kMaxEdits * (kMaxPieces + 1) + 1;

  enum class EditKind : std::uint8_t { insert, remove, replace, body, content_length, max_forwards };

  // Replaces original bytes [pos, pos + cut) by the pieces, in order.
  // No member initializers: the table is not cleared on construction.
  struct Edit {
    std::uint32_t pos;
    std::uint32_t cut;
    EditKind kind;
    std::uint8_t piece_count;
    Segment pieces[kMaxPieces];
  };

  RewriteError add_header_impl(std::string_view name, std::string_view value, bool copy);
  template <typename Match>
  RewriteError remove_matching(Match match);

  std::uint32_t offset_of(std::string_view v) const;
  std::uint32_t line_start(const Header& h) const { return offset_of(h.line); }
  std::uint32_t line_end(const Header& h) const;
  std::uint32_t after_top_via_run() const;
  bool fits_between_edits(std::uint32_t pos, std::uint32_t cut) const;
  bool has_identical_removal(std::uint32_t pos, std::uint32_t cut) const;
  Edit* find_kind(EditKind kind);
  // Copies the parts, back to back, into the scratch area.
  const char* to_scratch(std::initializer_list<std::string_view> parts, std::size_t& len);
  // Places an edit; the caller has checked room and overlaps.
  void place(const Edit& e);
  bool content_length_needs_new_edit(std::uint32_t n);
  // Makes the output's Content-Length say n; the caller has made room for
  // one edit when content_length_needs_new_edit(n).
  void set_content_length(std::uint32_t n);

  const Message& msg_;
  const char* base_;
  std::uint32_t original_size_;
  std::uint32_t headers_start_;
  std::uint32_t headers_end_;   // where the empty line starts
  std::uint32_t body_pos_;
  std::size_t size_;
  const Header* content_length_header_ = nullptr;
  std::int64_t original_content_length_ = -1;  // -1: absent or unreadable

  Edit edits_[kMaxEdits];       // sorted by pos; equal positions in call order
  std::size_t edit_count_ = 0;
  char scratch_[kScratchBytes];
  std::size_t scratch_used_ = 0;
  char content_length_digits_[10];
  char max_forwards_digits_[10];
  Segment out_[kMaxSegments];
};

}  // namespace sigrelay::sip
