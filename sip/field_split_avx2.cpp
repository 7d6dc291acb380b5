// The AVX2 copy of split_message(): 32-byte compares find the line ends and
// a nibble lookup (vpshufb) tests 16 bytes of a header name at once. Only
// run where the CPU has AVX2 (field_split.cpp asks it once).
#include "sip/field_split.hpp"

#if defined(__x86_64__)
#include <immintrin.h>

#include <bit>
#include <cstring>

#include "sip/chars.hpp"

namespace sigrelay::sip::detail::avx2 {

#define SIGRELAY_SPLIT_FN [[gnu::target("avx2,bmi")]]
#define SIGRELAY_SPLIT_AVX2 1

// Bit i set when byte i of the 16 at p is not in `cls`.
template <std::uint32_t cls>
SIGRELAY_SPLIT_FN inline unsigned class_misses16(const char* p) {
  static_assert(ascii_only(cls), "a nibble lookup covers ASCII classes only");
  static constexpr NibbleTable kTable = nibble_table(cls);
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i nibble = _mm_set1_epi8(0x0f);
  const __m128i low = _mm_and_si128(v, nibble);
  const __m128i high = _mm_and_si128(_mm_srli_epi16(v, 4), nibble);
  const __m128i in = _mm_and_si128(_mm_shuffle_epi8(_mm_load_si128(reinterpret_cast<const __m128i*>(kTable.lo)), low),
                                   _mm_shuffle_epi8(_mm_load_si128(reinterpret_cast<const __m128i*>(kTable.hi)), high));
  return static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(in, _mm_setzero_si128())));
}

#include "sip/field_split_impl.hpp"

#undef SIGRELAY_SPLIT_AVX2
#undef SIGRELAY_SPLIT_FN

}  // namespace sigrelay::sip::detail::avx2
#endif
