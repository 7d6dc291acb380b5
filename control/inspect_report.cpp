#include "control/inspect_report.hpp"

#include <string>

#include "sip/message.hpp"
#include "sip/stream_framer.hpp"

namespace sigrelay::control {
namespace {

using nlohmann::json;
using sigrelay::sip::Message;
using sigrelay::sip::ParseResult;

std::string str(std::string_view v) { return std::string(v); }

json describe_message(const Message& m, const ParseResult& r, std::size_t header_count) {
  json j;
  j["verdict"] = r.ok() ? "valid" : "invalid";
  if (!r.ok()) {
    j["reason"] = sip::describe(r);
    j["error"] = str(sip::to_string(r.error));
    j["error_offset"] = r.offset;
    j["respondable"] = r.respondable;
  }
  if (m.version.empty() && m.method.empty()) return j;  // start line never parsed
  j["kind"] = m.is_request ? "request" : "response";
  if (m.is_request) {
    j["method"] = str(m.method);
    j["request_uri"] = str(m.request_uri_text);
    if (m.request_uri.has_user) j["request_uri_user"] = str(m.request_uri.user);
  } else {
    j["status"] = m.status;
    j["reason_phrase"] = str(m.reason);
  }
  if (!m.call_id.empty()) j["call_id"] = str(m.call_id);
  if (!m.cseq.method.empty()) j["cseq"] = {{"number", m.cseq.number}, {"method", str(m.cseq.method)}};
  if (m.via_count > 0) {
    j["via_count"] = m.via_count;
    if (m.top_via.has_branch) j["top_via_branch"] = str(m.top_via.branch);
  }
  if (m.from.has_tag) j["from_tag"] = str(m.from.tag);
  if (m.to.has_tag) j["to_tag"] = str(m.to.tag);
  if (m.has_content_length) j["content_length"] = m.content_length;
  j["body_length"] = m.body.size();
  if (m.max_forwards >= 0) j["max_forwards"] = m.max_forwards;
  j["header_count"] = header_count;
  return j;
}

json inspect_one(std::string_view bytes, bool datagram) {
  sip::MessageWithHeaders<128> parsed;
  sip::ParseOptions opts;
  opts.datagram = datagram;
  const auto r = parsed.parse(bytes, opts);
  return describe_message(parsed.msg, r, parsed.msg.headers.size());
}

}  // namespace

std::vector<json> inspect_bytes(std::string_view bytes, InspectFraming framing) {
  std::vector<json> out;
  if (framing == InspectFraming::datagram) {
    out.push_back(inspect_one(bytes, true));
    return out;
  }
  sip::StreamFramer framer(65535, /*lone_crlf_is_pong=*/true);
  std::size_t offset = 0;
  while (offset < bytes.size()) {
    const auto rest = bytes.substr(offset);
    const auto f = framer.next(rest);
    switch (f.kind) {
      case sip::StreamFramer::Kind::message: {
        json j = inspect_one(rest.substr(0, f.length), false);
        j["stream_offset"] = offset;
        out.push_back(std::move(j));
        offset += f.length;
        break;
      }
      case sip::StreamFramer::Kind::ping:
      case sip::StreamFramer::Kind::pong:
        offset += f.length;
        break;
      case sip::StreamFramer::Kind::need_more: {
        json j;
        j["verdict"] = "invalid";
        j["reason"] = "stream ends inside a message (" + std::to_string(rest.size()) + " bytes left)";
        j["error"] = "truncated";
        j["stream_offset"] = offset;
        out.push_back(std::move(j));
        return out;
      }
      case sip::StreamFramer::Kind::error: {
        json j;
        j["verdict"] = "invalid";
        j["reason"] = sip::describe(f.error);
        j["error"] = str(sip::to_string(f.error.error));
        j["stream_offset"] = offset;
        out.push_back(std::move(j));
        return out;
      }
    }
  }
  return out;
}

}  // namespace sigrelay::control
