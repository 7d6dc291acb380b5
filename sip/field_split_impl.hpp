// The body of split_message() (sip/field_split.hpp), compiled once per
// instruction set. Not an ordinary header: field_split.cpp and
// field_split_avx2.cpp include it inside a namespace of their own, after
// every header it needs, with SIGRELAY_SPLIT_FN defined as the target
// attribute of that copy and SIGRELAY_SPLIT_AVX2 as 1 or 0. Every function
// here carries SIGRELAY_SPLIT_FN, so that the AVX2 copy never runs on a CPU
// without AVX2 (the namespaces keep the copies apart for the linker).
// Lambdas do not inherit target attributes: there are none here.

// Bit i of nl (cr) set when byte i of the 64 at src is '\n' ('\r').
SIGRELAY_SPLIT_FN inline void line_end_masks(const char* src, std::uint64_t& nl, std::uint64_t& cr) {
#if SIGRELAY_SPLIT_AVX2
  const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 32));
  // From memory: kept in registers, the constants would be rebuilt for
  // every block by the compiler (the line loop needs those registers).
  alignas(32) static constexpr char kLf[32] = {'\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n',
                                               '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n',
                                               '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n', '\n'};
  alignas(32) static constexpr char kCr[32] = {'\r', '\r', '\r', '\r', '\r', '\r', '\r', '\r', '\r', '\r', '\r',
                                               '\r', '\r', '\r', '\r', '\r', '\r', '\r', '\r', '\r', '\r', '\r',
                                               '\r', '\r', '\r', '\r', '\r', '\r', '\r', '\r', '\r', '\r'};
  const __m256i lf = _mm256_load_si256(reinterpret_cast<const __m256i*>(kLf));
  const __m256i cr_byte = _mm256_load_si256(reinterpret_cast<const __m256i*>(kCr));
  nl = static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, lf))) |
       std::uint64_t{static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, lf)))} << 32;
  cr = static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, cr_byte))) |
       std::uint64_t{static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, cr_byte)))} << 32;
#elif defined(__SSE2__)
  const __m128i lf = _mm_set1_epi8('\n');
  const __m128i cr_byte = _mm_set1_epi8('\r');
  nl = 0;
  cr = 0;
  for (int i = 0; i < 4; ++i) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16 * i));
    nl |= std::uint64_t{static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, lf)))} << (16 * i);
    cr |= std::uint64_t{static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, cr_byte)))} << (16 * i);
  }
#else
  nl = 0;
  cr = 0;
  for (int i = 0; i < 64; ++i) {
    nl |= std::uint64_t{src[i] == '\n'} << i;
    cr |= std::uint64_t{src[i] == '\r'} << i;
  }
#endif
}

struct LineEndMasks {
  std::uint64_t nl;
  std::uint64_t cr;
};

// The masks of the last, partial block, through a zero-padded copy (zero is
// neither '\n' nor '\r'), so nothing past `end` is read. Out of line, and
// returning by value, so that the full-block path keeps its state in registers.
[[gnu::noinline]] SIGRELAY_SPLIT_FN inline LineEndMasks tail_masks(const char* block, const char* end) {
  char tail[64] = {};
  std::memcpy(tail, block, static_cast<std::size_t>(end - block));
  LineEndMasks m;
  line_end_masks(tail, m.nl, m.cr);
  return m;
}

// The '\n's from `begin` on, in order, found 64 bytes at a time: each line
// then costs a bit scan. Also notes, for free, whether any CR was followed
// by something other than LF; where exactly is worked out only then.
class LineIndex {
 public:
  SIGRELAY_SPLIT_FN LineIndex(const char* begin, const char* end) : block_(begin), end_(end) { load(end - begin); }

  // The next '\n', or nullptr when there is none before `end`.
  SIGRELAY_SPLIT_FN const char* next() {
    while (nl_ == 0) {
      const std::ptrdiff_t left = end_ - block_;
      if (left <= 64) return nullptr;
      block_ += 64;
      load(left - 64);
    }
    const char* at = block_ + std::countr_zero(nl_);
    nl_ &= nl_ - 1;
    return at;
  }

  // False when every CR in the bytes scanned so far is followed by LF.
  bool maybe_bare_cr() const { return bare_ != 0; }

 private:
  // The masks of the block at block_, which has `left` bytes after it.
  SIGRELAY_SPLIT_FN void load(std::ptrdiff_t left) {
    std::uint64_t cr = 0;
    if (left >= 64) {
      line_end_masks(block_, nl_, cr);
    } else {
      const LineEndMasks m = tail_masks(block_, end_);
      nl_ = m.nl;
      cr = m.cr;
    }
    bare_ |= ((cr << 1) | cr_carry_) & ~nl_;  // positions right after a CR that hold no LF
    cr_carry_ = cr >> 63;
  }

  const char* block_;
  const char* end_;
  std::uint64_t nl_ = 0;
  std::uint64_t bare_ = 0;
  std::uint64_t cr_carry_ = 0;
};

// The end of the run of token characters at p, which ends at content_end at
// the latest (*content_end is CR or LF). Header names are short: one vector
// test usually covers them, reading at most 16 bytes below `end`.
SIGRELAY_SPLIT_FN inline const char* token_end(const char* p, const char* content_end, const char* end) {
#if SIGRELAY_SPLIT_AVX2
  if (end - p >= 16) {
    const unsigned outside = class_misses16<kToken>(p);
    if (outside != 0) return p + std::countr_zero(outside);
    return skip<kToken>(p + 16, content_end);
  }
#elif defined(__SSE2__)
  if (end - p >= 16) {
    const auto n = static_cast<unsigned>(std::countr_zero(~alnum_mask16<true>(p)));
    if (n == 16) return skip<kToken>(p + 16, content_end);
    return has(p[n], kToken) ? skip<kToken>(p + n + 1, content_end) : p + n;
  }
#endif
  (void)end;
  return skip<kToken>(p, content_end);
}

// The ParseResult of a fault that ends parsing.
inline ParseResult split_failure(ParseError e, const char* base, const char* at) {
  ParseResult r;
  r.error = e;
  r.offset = static_cast<std::uint32_t>(at - base);
  return r;
}

// The first CR in [p, nl) not followed by LF, or nullptr. Only run when
// LineIndex saw one somewhere: a bare CR is no line ending in RFC 3261 and
// must not be relayed.
inline const char* first_bare_cr(const char* p, const char* nl) {
  for (; p < nl; ++p) {
    if (*p == '\r' && p[1] != '\n') return p;
  }
  return nullptr;
}

// See split_message() in sip/field_split.hpp.
SIGRELAY_SPLIT_FN void split_message(const char* base, const char* msg, const char* end, bool allow_bare_lf,
                                     Fields& f, Split& out) {
  LineIndex lines(msg, end);
  const char* nl = lines.next();
  out.start_line_nl = nl;
  if (nl == nullptr) return;
  const char* p = nl + 1;
  const char* const headers = p;
  f.headers = headers;
  // Locals, not f's members: the compiler cannot keep those in registers
  // across the stores into the Header array.
  std::uint64_t seen = 0;
  Header* h = f.storage.data();
  Header* const h_end = h + f.storage.size();
  bool terminated = false;
  // A line starting with SP/HT continues the one before it: the fold below
  // takes those, so only the first header line can start that way, and
  // that continues nothing. Its line ending is judged first.
  if (p < end && is_wsp(*p)) [[unlikely]] {
    nl = lines.next();
    if (nl != nullptr) {
      const bool bad_end = nl[-1] != '\r' && !allow_bare_lf;
      out.failure = split_failure(bad_end ? ParseError::bad_line_ending : ParseError::bad_header_line, base,
                                  bad_end ? nl : p);
      return;
    }
  }
  for (;;) {  // ends at the empty line, or when no line end is left
    nl = lines.next();
    if (nl == nullptr) break;
    // nl[-1] is readable: the start line's '\n' at least precedes it.
    const char* content_end = nl;
    if (nl[-1] == '\r') {
      --content_end;
    } else if (!allow_bare_lf) {
      out.failure = split_failure(ParseError::bad_line_ending, base, nl);
      return;
    }
    if (content_end == p) {  // the empty line
      if (lines.maybe_bare_cr()) {
        if (const char* cr = first_bare_cr(headers, nl); cr != nullptr) {
          out.failure = split_failure(ParseError::bad_line_ending, base, cr);
          return;
        }
      }
      p = nl + 1;
      terminated = true;
      break;
    }
    if (nl + 1 < end && is_wsp(nl[1])) [[unlikely]] {
      // Folded: the field goes on over the lines that start with SP/HT.
      do {
        const char* next = lines.next();
        if (next == nullptr) {
          out.failure = split_failure(ParseError::missing_header_terminator, base, end);
          return;
        }
        if (next[-1] == '\r') {  // never nl + 1: that is SP or HT
          content_end = next - 1;
        } else if (allow_bare_lf) {
          content_end = next;
        } else {
          out.failure = split_failure(ParseError::bad_line_ending, base, next);
          return;
        }
        nl = next;
      } while (nl + 1 < end && is_wsp(nl[1]));
    }
    // The name: known names written "Name:" are matched a word at a time
    // where 24 bytes remain; anything else is scanned.
    HeaderId id = HeaderId::other;
    const char* name_end = nullptr;
    const char* colon = nullptr;
    const bool prefix_tried = end - p >= kHeaderPrefixRead;
    std::size_t len = 0;
    if (prefix_tried && (id = classify_header_prefix(p, len)) != HeaderId::other) {
      name_end = p + len;
      colon = name_end;
    } else {
      name_end = token_end(p, content_end, end);
      colon = name_end;
      if (is_wsp(*colon)) colon = skip<kWsp>(colon, content_end);
      if (name_end == p || *colon != ':') {  // *content_end is CR or LF, never ':'
        out.failure = split_failure(ParseError::bad_header_line, base, p);
        return;
      }
      // The prefix match already said "not a known name" for a name directly
      // followed by ':', which is all classify_header() would check.
      id = prefix_tried && colon == name_end ? HeaderId::other : classify_header(span_of(p, name_end));
    }
    // The value, without the whitespace (folds included) after the colon
    // and without trailing SP/HT. *content_end is CR or LF, so the usual
    // single SP needs no bounds check.
    const char* value = colon + 1;
    if (*value == ' ') ++value;
    if (is_lws(*value)) value = skip<kLws>(value, content_end);
    const char* value_end = content_end;
    while (value_end > value && is_wsp(value_end[-1])) --value_end;
    if (h == h_end) {
      out.failure = split_failure(ParseError::too_many_headers, base, p);
      return;
    }
    h->name = span_of(p, name_end);
    h->value = span_of(value, value_end);
    h->line = span_of(p, nl + 1);
    h->id = id;
    const std::uint64_t b = header_bit(id);
    if ((seen & b) == 0) {
      seen |= b;
      f.first[static_cast<std::size_t>(id)] = h;
    } else if ((kSingleValuedHeaders & b) != 0) {
      out.notes.note(ParseError::duplicate_header, static_cast<std::size_t>(p - base), id);
    }
    ++h;
    p = nl + 1;
  }
  f.count = static_cast<std::size_t>(h - f.storage.data());
  f.seen = seen;
  f.end = p;
  f.terminated = terminated;
}
