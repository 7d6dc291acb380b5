// libFuzzer target: the stream framer fed the input in chunks whose sizes
// come from the input itself. Invariants: frames never exceed what is
// buffered, framing the same bytes in one piece or in chunks gives the same
// frames, and every message frame parses as a stream message or fails cleanly.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "sip/message.hpp"
#include "sip/stream_framer.hpp"

namespace {

using namespace sigrelay::sip;

void require(bool ok) {
  if (!ok) std::abort();
}

struct Outcome {
  std::vector<std::string> frames;  // kind letter + bytes
  bool error = false;
};

Outcome run(std::string_view input, std::size_t chunk) {
  Outcome out;
  StreamFramer framer(4096);
  std::string buffered;
  std::size_t fed = 0;
  while (fed < input.size() && !out.error) {
    const std::size_t n = std::min(chunk, input.size() - fed);
    buffered.append(input.substr(fed, n));
    fed += n;
    while (true) {
      const auto f = framer.next(buffered);
      if (f.kind == StreamFramer::Kind::need_more) break;
      if (f.kind == StreamFramer::Kind::error) {
        out.error = true;
        break;
      }
      require(f.length > 0 && f.length <= buffered.size());
      const char tag = f.kind == StreamFramer::Kind::message ? 'm' : (f.kind == StreamFramer::Kind::ping ? 'i' : 'o');
      out.frames.push_back(tag + buffered.substr(0, f.length));
      if (f.kind == StreamFramer::Kind::message) {
        static Header storage[64];
        Message m;
        ParseOptions opts;
        opts.datagram = false;
        const auto r = parse_message(std::string_view(buffered).substr(0, f.length), m, storage, opts);
        if (r.ok()) require(m.bytes.size() == f.length);
      }
      buffered.erase(0, f.length);
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 64;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto whole = run(input, input.size() + 1);
  const auto pieces = run(input, chunk);
  // Chunking never changes the frames that complete before an error. (A lone
  // CRLF at a chunk end waits for more on the server side, so the sequences match.)
  if (!whole.error && !pieces.error) require(whole.frames == pieces.frames);
  return 0;
}
