// Rewrite cost per message: what the relay does to each INVITE it forwards
// (our Via on top, Max-Forwards decremented) and to each response it relays
// back (top Via removed). Parsing is outside the timed region; producing the
// segment list and flattening it into one send buffer are inside.
#include <benchmark/benchmark.h>

#include "bench/sample_messages.hpp"
#include "sip/message.hpp"
#include "sip/response_builder.hpp"
#include "sip/rewriter.hpp"

namespace {

using namespace sigrelay;

constexpr std::string_view kOurVia =
    "SIP/2.0/TLS 203.0.113.5:5061;branch=z9hG4bK-sr1-0100002a0007d41b8c9e3f5a7b21";

void BM_RewriteInviteForUpstream(benchmark::State& state) {
  const auto bytes = bench::sample_invite();
  sip::MessageWithHeaders<64> parsed;
  if (!parsed.parse(bytes).ok()) state.SkipWithError("sample did not parse");
  char out[4096];
  for (auto _ : state) {
    sip::Rewriter rw(parsed.msg);
    auto e1 = rw.prepend_via(kOurVia);
    auto e2 = rw.decrement_max_forwards();
    const auto n = rw.flatten(out, sizeof out);
    benchmark::DoNotOptimize(e1);
    benchmark::DoNotOptimize(e2);
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
}

void BM_Rewrite302ForSwitch(benchmark::State& state) {
  const auto bytes = bench::sample_302();
  sip::MessageWithHeaders<64> parsed;
  if (!parsed.parse(bytes).ok()) state.SkipWithError("sample did not parse");
  char out[4096];
  for (auto _ : state) {
    sip::Rewriter rw(parsed.msg);
    auto e = rw.remove_top_via();
    const auto n = rw.flatten(out, sizeof out);
    benchmark::DoNotOptimize(e);
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
}

// The segments alone, as a writev/sendmsg caller uses them (no flatten copy).
void BM_RewriteInviteSegmentsOnly(benchmark::State& state) {
  const auto bytes = bench::sample_invite();
  sip::MessageWithHeaders<64> parsed;
  if (!parsed.parse(bytes).ok()) state.SkipWithError("sample did not parse");
  for (auto _ : state) {
    sip::Rewriter rw(parsed.msg);
    auto e1 = rw.prepend_via(kOurVia);
    auto e2 = rw.decrement_max_forwards();
    auto segs = rw.segments();
    benchmark::DoNotOptimize(e1);
    benchmark::DoNotOptimize(e2);
    benchmark::DoNotOptimize(segs.data());
  }
}

void BM_Build100Trying(benchmark::State& state) {
  const auto bytes = bench::sample_invite();
  sip::MessageWithHeaders<64> parsed;
  if (!parsed.parse(bytes).ok()) state.SkipWithError("sample did not parse");
  char out[2048];
  for (auto _ : state) {
    const auto n = sip::build_response(parsed.msg, 100, {}, {}, {}, out, sizeof out);
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
}

BENCHMARK(BM_RewriteInviteForUpstream);
BENCHMARK(BM_Rewrite302ForSwitch);
BENCHMARK(BM_RewriteInviteSegmentsOnly);
BENCHMARK(BM_Build100Trying);

}  // namespace
