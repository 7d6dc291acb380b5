// Parser cost per message (Google Benchmark). docs/benchmarks.md records the
// figures and the command that produced them.
#include <benchmark/benchmark.h>

#include "bench/sample_messages.hpp"
#include "sip/field_split.hpp"
#include "sip/message.hpp"
#include "sip/stream_framer.hpp"

namespace {

using namespace sigrelay;

void parse_loop(benchmark::State& state, const std::string& bytes, sip::ParseDepth depth = sip::ParseDepth::full) {
  sip::Header storage[64];
  sip::Message m;
  sip::ParseOptions opts;
  opts.depth = depth;
  for (auto _ : state) {
    auto r = sip::parse_message(bytes, m, storage, opts);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(m);
    if (!r.ok()) state.SkipWithError("sample message did not parse");
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
  state.counters["msg_bytes"] = static_cast<double>(bytes.size());
}

void BM_ParseInvite(benchmark::State& state) { parse_loop(state, bench::sample_invite()); }
void BM_Parse302WithIdentity(benchmark::State& state) { parse_loop(state, bench::sample_302()); }
// What the relay's own workers ask for (ParseDepth::relay, docs/sip-parser.md).
void BM_ParseInviteRelayDepth(benchmark::State& state) {
  parse_loop(state, bench::sample_invite(), sip::ParseDepth::relay);
}
void BM_Parse302RelayDepth(benchmark::State& state) { parse_loop(state, bench::sample_302(), sip::ParseDepth::relay); }

// The same with the header split forced to its baseline copy (SSE2; what a
// CPU without AVX2 runs, sip/field_split.hpp).
void parse_loop_baseline(benchmark::State& state, const std::string& bytes, sip::ParseDepth depth) {
  const auto chosen = sip::detail::split_isa();
  sip::detail::use_split_isa(sip::detail::SplitIsa::baseline);
  parse_loop(state, bytes, depth);
  sip::detail::use_split_isa(chosen);
}
void BM_ParseInviteRelayDepthBaselineSplit(benchmark::State& state) {
  parse_loop_baseline(state, bench::sample_invite(), sip::ParseDepth::relay);
}
void BM_Parse302RelayDepthBaselineSplit(benchmark::State& state) {
  parse_loop_baseline(state, bench::sample_302(), sip::ParseDepth::relay);
}

void BM_FrameInviteOnStream(benchmark::State& state) {
  const auto bytes = bench::sample_invite();
  for (auto _ : state) {
    sip::StreamFramer framer;
    auto f = framer.next(bytes);
    benchmark::DoNotOptimize(f);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
}

BENCHMARK(BM_ParseInvite);
BENCHMARK(BM_Parse302WithIdentity);
BENCHMARK(BM_ParseInviteRelayDepth);
BENCHMARK(BM_Parse302RelayDepth);
BENCHMARK(BM_ParseInviteRelayDepthBaselineSplit);
BENCHMARK(BM_Parse302RelayDepthBaselineSplit);
BENCHMARK(BM_FrameInviteOnStream);

}  // namespace
