// Parser cost per message (Google Benchmark). docs/benchmarks.md records the
// figures and the command that produced them.
#include <benchmark/benchmark.h>

#include "bench/sample_messages.hpp"
#include "sip/message.hpp"
#include "sip/stream_framer.hpp"

namespace {

using namespace sigrelay;

void parse_loop(benchmark::State& state, const std::string& bytes) {
  sip::Header storage[64];
  sip::Message m;
  for (auto _ : state) {
    auto r = sip::parse_message(bytes, m, storage);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(m);
    if (!r.ok()) state.SkipWithError("sample message did not parse");
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
  state.counters["msg_bytes"] = static_cast<double>(bytes.size());
}

void BM_ParseInvite(benchmark::State& state) { parse_loop(state, bench::sample_invite()); }
void BM_Parse302WithIdentity(benchmark::State& state) { parse_loop(state, bench::sample_302()); }

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
BENCHMARK(BM_FrameInviteOnStream);

}  // namespace
