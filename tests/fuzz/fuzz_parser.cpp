// libFuzzer target: the datagram and stream parsers on arbitrary bytes.
// Checks invariants, not just "no crash": views stay inside the input,
// counts agree, and a valid stream message has exactly its Content-Length body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sip/message.hpp"
#include "sip/uri.hpp"

namespace {

using namespace sigrelay::sip;

void require(bool ok) {
  if (!ok) std::abort();
}

bool inside(std::string_view outer, std::string_view inner) {
  if (inner.empty()) return true;
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

void check(std::string_view input, const Message& m, const ParseResult& r, bool datagram) {
  require(inside(input, m.bytes));
  require(inside(input, m.body));
  require(inside(input, m.call_id));
  require(inside(input, m.request_uri_text));
  require(inside(input, m.top_via.branch));
  for (const auto& h : m.headers) {
    require(inside(input, h.line));
    require(inside(h.line, h.name));
    require(inside(h.line, h.value));
  }
  if (r.ok()) {
    require(!m.headers.empty());
    require(m.via_count >= 1);
    require(!m.call_id.empty());
    if (m.has_content_length) require(m.body.size() == m.content_length);
    if (!datagram) require(m.has_content_length);
    if (m.is_request) require(m.cseq.method == m.method);
  }
  if (r.respondable) require(m.is_request);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  static Header storage[64];
  for (const bool datagram : {true, false}) {
    ParseOptions opts;
    opts.datagram = datagram;
    opts.allow_bare_lf = !datagram;  // exercise the leniencies on one pass
    opts.allow_extra_request_line_spaces = !datagram;
    Message m;
    const auto r = parse_message(input, m, storage, opts);
    check(input, m, r, datagram);
  }
  Uri uri;
  if (parse_uri(input, uri)) {
    require(inside(input, uri.user));
    require(inside(input, uri.host));
    require(inside(input, uri.params));
  }
  (void)find_param(input, "tag");
  return 0;
}
