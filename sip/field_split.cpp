// The baseline copy of split_message() (SSE2 on x86-64, plain C++
// elsewhere) and the choice, once, of the copy this CPU runs.
#include "sip/field_split.hpp"

#include <bit>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "sip/chars.hpp"

namespace sigrelay::sip::detail {

namespace baseline {
#define SIGRELAY_SPLIT_FN
#define SIGRELAY_SPLIT_AVX2 0
#include "sip/field_split_impl.hpp"
#undef SIGRELAY_SPLIT_AVX2
#undef SIGRELAY_SPLIT_FN
}  // namespace baseline

namespace {

SplitFn split_for(SplitIsa isa) {
#if defined(__x86_64__)
  if (isa == SplitIsa::avx2) return &avx2::split_message;
#endif
  (void)isa;
  return &baseline::split_message;
}

SplitIsa best_isa() { return isa_supported(SplitIsa::avx2) ? SplitIsa::avx2 : SplitIsa::baseline; }

// The first parse lands here, picks the copy for this CPU, and every later
// one goes straight to that copy: the CPU is asked once, not per parse.
void choose_and_split(const char* base, const char* msg, const char* end, bool allow_bare_lf, Fields& f,
                      Split& out) {
  const SplitFn fn = split_for(best_isa());
  g_split_message.store(fn, std::memory_order_relaxed);
  fn(base, msg, end, allow_bare_lf, f, out);
}

}  // namespace

constinit std::atomic<SplitFn> g_split_message{&choose_and_split};

bool isa_supported(SplitIsa isa) {
  if (isa == SplitIsa::baseline) return true;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  // The AVX2 copy also uses BMI1 (tzcnt); every AVX2 CPU has it, but ask.
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi");
#else
  return false;
#endif
}

SplitIsa split_isa() {
  SplitFn fn = g_split_message.load(std::memory_order_relaxed);
  if (fn == &choose_and_split) {
    fn = split_for(best_isa());
    g_split_message.store(fn, std::memory_order_relaxed);
  }
  return fn == &baseline::split_message ? SplitIsa::baseline : SplitIsa::avx2;
}

bool use_split_isa(SplitIsa isa) {
  if (!isa_supported(isa)) return false;
  g_split_message.store(split_for(isa), std::memory_order_relaxed);
  return true;
}

}  // namespace sigrelay::sip::detail
