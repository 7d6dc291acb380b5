// The framing half of parse_message(): where the start line ends, and the
// header fields split into name, value and line, through the empty line.
// It is the part that touches every byte of the header section, so it is
// compiled once per instruction set (field_split.cpp: SSE2, which every
// x86-64 CPU has, or plain C++ elsewhere; field_split_avx2.cpp: AVX2) and
// the copy to run is chosen once, on the first parse, from what the CPU
// supports. Internal to sip/; tests may force a copy with use_split_isa().
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "sip/message.hpp"

namespace sigrelay::sip::detail {

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

constexpr std::uint64_t header_bit(HeaderId id) { return std::uint64_t{1} << static_cast<unsigned>(id); }
static_assert(static_cast<unsigned>(HeaderId::count_) <= 64, "header ids must fit a 64-bit mask");

// Headers that may occur once only (RFC 3261 §7.3.1 and §20): a second one
// is a duplicate_header fault.
constexpr std::uint64_t kSingleValuedHeaders =
    header_bit(HeaderId::call_id) | header_bit(HeaderId::cseq) | header_bit(HeaderId::from) |
    header_bit(HeaderId::to) | header_bit(HeaderId::max_forwards) | header_bit(HeaderId::content_length);

inline std::string_view span_of(const char* begin, const char* end) {
  return {begin, static_cast<std::size_t>(end - begin)};
}

// The header fields found, and where the first one of each id is.
struct Fields {
  std::span<Header> storage;
  std::size_t count = 0;
  std::uint64_t seen = 0;  // the ids that occur; first[] is valid for those only
  const Header* first[static_cast<std::size_t>(HeaderId::count_)];
  const char* headers = nullptr;  // the first header line (after the start line)
  const char* end = nullptr;      // past the last field line (past the empty line when complete)
  bool terminated = false;        // the empty line was found

  const Header* get(HeaderId id) const {
    return (seen & header_bit(id)) == 0 ? nullptr : first[static_cast<std::size_t>(id)];
  }
  const Header* end_of_fields() const { return storage.data() + count; }
};

// What split_message() reports besides the fields.
struct Split {
  const char* start_line_nl = nullptr;  // the '\n' that ends the start line; nullptr: none
  ParseResult failure;                  // not ok: a fault in the header section that ends parsing
  FirstError notes;                     // the first non-fatal fault in the header section
};

// Finds the end of the start line at msg (which is no CR or LF), then
// splits the header fields after it into f.storage, folded lines included.
// Never reads outside [base, end). The caller checks the start line first:
// its faults come before those of the header section.
using SplitFn = void (*)(const char* base, const char* msg, const char* end, bool allow_bare_lf, Fields& f,
                         Split& out);

enum class SplitIsa : std::uint8_t {
  baseline,  // SSE2 on x86-64, plain C++ elsewhere
  avx2,
};

namespace baseline {
void split_message(const char* base, const char* msg, const char* end, bool allow_bare_lf, Fields& f, Split& out);
}
namespace avx2 {
// Present on x86-64 builds only; run it only where isa_supported(SplitIsa::avx2).
void split_message(const char* base, const char* msg, const char* end, bool allow_bare_lf, Fields& f, Split& out);
}

bool isa_supported(SplitIsa isa);
// The copy in use (choosing it now if no parse has yet).
SplitIsa split_isa();
// Makes every later parse use `isa`; false (and no change) when the CPU
// lacks it. For tests and benchmarks; not meant to be called during parses.
bool use_split_isa(SplitIsa isa);

// The copy chosen for this CPU; a relaxed load is a plain load on x86-64.
extern std::atomic<SplitFn> g_split_message;

inline void split_message(const char* base, const char* msg, const char* end, bool allow_bare_lf, Fields& f,
                          Split& out) {
  g_split_message.load(std::memory_order_relaxed)(base, msg, end, allow_bare_lf, f, out);
}

}  // namespace sigrelay::sip::detail
