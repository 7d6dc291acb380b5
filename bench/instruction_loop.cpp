// Runs one operation N times, for instruction counting under callgrind:
//   valgrind --tool=callgrind sip_instruction_loop parse-invite 2000
// (parse-*-relay parse at ParseDepth::relay, the others at full depth;
// a "-baseline" suffix forces the header split's baseline copy, see
// sip/field_split.hpp)
// (the difference between two N gives the cost of one operation, free of
// start-up). bench/run-sip-bench.sh does exactly that.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "bench/sample_messages.hpp"
#include "sip/field_split.hpp"
#include "sip/message.hpp"
#include "sip/rewriter.hpp"

int main(int argc, char** argv) {
  using namespace sigrelay;
  if (argc != 3) {
    std::fprintf(stderr,
                 "usage: %s parse-invite|parse-302|parse-invite-relay|parse-302-relay|rewrite-invite|rewrite-302"
                 "[-baseline] N\n",
                 argv[0]);
    return 2;
  }
  std::string_view op = argv[1];
  if (op.ends_with("-baseline")) {
    op.remove_suffix(9);
    sip::detail::use_split_isa(sip::detail::SplitIsa::baseline);
  }
  const long n = std::atol(argv[2]);
  const std::string invite = bench::sample_invite();
  const std::string redirect = bench::sample_302();
  const std::string& bytes = op.find("invite") != std::string_view::npos ? invite : redirect;
  sip::ParseOptions opts;
  if (op.ends_with("-relay")) opts.depth = sip::ParseDepth::relay;
  sip::MessageWithHeaders<64> parsed;
  if (!parsed.parse(bytes).ok()) return 1;
  char out[4096];
  std::size_t sink = 0;
  for (long i = 0; i < n; ++i) {
    if (op.starts_with("parse")) {
      sink += parsed.parse(bytes, opts).ok();
    } else {
      sip::Rewriter rw(parsed.msg);
      if (op == "rewrite-invite") {
        rw.prepend_via("SIP/2.0/TLS 203.0.113.5:5061;branch=z9hG4bK-sr1-0100002a0007d41b8c9e3f5a7b21");
        rw.decrement_max_forwards();
      } else {
        rw.remove_top_via();
      }
      sink += rw.flatten(out, sizeof out);
    }
  }
  std::printf("%zu\n", sink);
  return 0;
}
