#include "sip/stream_framer.hpp"

#include <cstring>
#include <optional>

#include "sip/chars.hpp"
#include "sip/header_id.hpp"
#include "sip/header_values.hpp"

namespace sigrelay::sip {
namespace {

// Content-Length from a complete header section (CRLF line endings, folded
// lines allowed). Returns nullopt when absent, sets `bad` when malformed or
// given twice with different values.
std::optional<std::uint32_t> find_content_length(std::string_view headers, std::uint32_t max, bool& bad,
                                                 std::size_t& bad_offset) {
  std::optional<std::uint32_t> found;
  std::size_t pos = headers.find("\r\n");  // skip the start line
  while (pos != std::string_view::npos && pos + 2 < headers.size()) {
    const std::size_t line = pos + 2;
    // The field ends at a CRLF not followed by SP/HT.
    std::size_t end = headers.find("\r\n", line);
    while (end != std::string_view::npos && end + 2 < headers.size() && is_wsp(headers[end + 2])) {
      end = headers.find("\r\n", end + 2);
    }
    if (end == std::string_view::npos) end = headers.size();
    std::size_t i = line;
    while (i < end && is_token_char(headers[i])) ++i;
    const auto name = headers.substr(line, i - line);
    if (!name.empty() && (name.size() == 1 || name.size() == 14) &&
        classify_header(name) == HeaderId::content_length) {
      while (i < end && is_wsp(headers[i])) ++i;
      if (i < end && headers[i] == ':') {
        const auto value = parse_uint(headers.substr(i + 1, end - i - 1), max);
        if (!value || (found && *found != *value)) {
          bad = true;
          bad_offset = line;
          return std::nullopt;
        }
        found = value;
      }
    }
    pos = end;
  }
  return found;
}

}  // namespace

StreamFramer::Frame StreamFramer::frame_error(ParseError e, HeaderId h, std::size_t offset) {
  Frame f;
  f.kind = Kind::error;
  f.error.error = e;
  f.error.header = h;
  f.error.offset = static_cast<std::uint32_t>(offset);
  reset();
  return f;
}

StreamFramer::Frame StreamFramer::next(std::string_view data) {
  Frame f;
  if (data.empty()) return f;
  // A message starts with a method or "SIP/"; a stray LF is neither a
  // keepalive nor a start line, and skipping it would make the frame and
  // the parsed message disagree about where the message begins.
  if (total_ == 0 && data[0] == '\n') return frame_error(ParseError::bad_line_ending, HeaderId::none, 0);
  if (total_ == 0 && data[0] == '\r') {
    // Keepalives only ever appear between messages.
    if (data.size() < 2) return f;
    if (data[1] != '\n') return frame_error(ParseError::bad_line_ending, HeaderId::none, 0);
    if (data.size() >= 4 && data[2] == '\r' && data[3] == '\n') {
      f.kind = Kind::ping;
      f.length = 4;
      return f;
    }
    if (data.size() == 2 && !lone_crlf_is_pong_) return f;
    if (data.size() == 3 && data[2] == '\r') return f;
    f.kind = Kind::pong;
    f.length = 2;
    return f;
  }
  if (total_ == 0) {
    // Resume the search for CRLFCRLF three bytes back, in case it straddled reads.
    const std::size_t from = scanned_ >= 3 ? scanned_ - 3 : 0;
    const auto end = data.find("\r\n\r\n", from);
    if (end == std::string_view::npos) {
      scanned_ = data.size();
      if (data.size() > max_message_size_) {
        return frame_error(ParseError::message_too_large, HeaderId::none, max_message_size_);
      }
      return f;
    }
    const std::size_t header_len = end + 4;
    bool bad = false;
    std::size_t bad_offset = 0;
    const auto cl = find_content_length(data.substr(0, end + 2), 0xffffffffU, bad, bad_offset);
    if (bad) return frame_error(ParseError::invalid_header_value, HeaderId::content_length, bad_offset);
    if (!cl) return frame_error(ParseError::missing_header, HeaderId::content_length, 0);
    total_ = header_len + static_cast<std::size_t>(*cl);
    if (total_ > max_message_size_) {
      return frame_error(ParseError::message_too_large, HeaderId::none, max_message_size_);
    }
  }
  if (data.size() < total_) return f;
  f.kind = Kind::message;
  f.length = total_;
  reset();
  return f;
}

}  // namespace sigrelay::sip
