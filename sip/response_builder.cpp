#include "sip/response_builder.hpp"

#include <cstring>

#include "sip/chars.hpp"

namespace sigrelay::sip {

namespace {

bool valid_text(std::string_view v) {
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

std::string_view class_reason_phrase(std::uint16_t code) {
  switch (code / 100) {
    case 1: return "Provisional";
    case 2: return "Success";
    case 3: return "Redirection";
    case 4: return "Request Failure";
    case 5: return "Server Failure";
    default: return "Global Failure";
  }
}

// Whether a To/From value carries a ;tag header parameter. Header params
// follow the closing '>' of a name-addr, or the first ';' of a bare
// addr-spec (which cannot hold URI parameters, RFC 3261 §20.10).
bool has_tag_param(std::string_view value) {
  bool quoted = false;
  bool in_angle = false;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
      continue;
    }
    if (c == '"') {
      quoted = true;
    } else if (c == '<') {
      in_angle = true;
    } else if (c == '>') {
      in_angle = false;
    } else if (c == ';' && !in_angle) {
      std::size_t j = i + 1;
      while (j < value.size() && (is_wsp(value[j]) || value[j] == '\r' || value[j] == '\n')) ++j;
      std::size_t end = j;
      while (end < value.size() && is_token_char(value[end])) ++end;
      if (iequals(value.substr(j, end - j), "tag")) return true;
    }
  }
  return false;
}

class Writer {
 public:
  Writer(char* out, std::size_t cap) : out_(out), cap_(cap) {}
  void put(std::string_view s) {
    if (s.size() > cap_ - len_) {
      overflow_ = true;
      return;
    }
    std::memcpy(out_ + len_, s.data(), s.size());
    len_ += s.size();
  }
  // A folded value becomes one line: each CR and LF of a fold turns into a
  // space, which RFC 3261 §7.3.1 makes equivalent.
  void put_unfolded(std::string_view s) {
    if (s.size() > cap_ - len_) {
      overflow_ = true;
      return;
    }
    for (char c : s) out_[len_++] = (c == '\r' || c == '\n') ? ' ' : c;
  }
  void put_header(const Header& h) {
    put(h.name);
    put(": ");
    put_unfolded(h.value);
    put("\r\n");
  }
  std::size_t result() const { return overflow_ ? 0 : len_; }

 private:
  char* out_;
  std::size_t cap_;
  std::size_t len_ = 0;
  bool overflow_ = false;
};

const Header* first_with(const Message& req, HeaderId id) {
  for (const Header& h : req.headers) {
    if (h.id == id) return &h;
  }
  return nullptr;
}

}  // namespace

std::string_view default_reason_phrase(std::uint16_t code) {
  // RFC 3261 §21 and the extensions a carrier network sees (RFC 4412, 6086,
  // 8197, 8688).
  switch (code) {
    case 100: return "Trying";
    case 180: return "Ringing";
    case 181: return "Call Is Being Forwarded";
    case 182: return "Queued";
    case 183: return "Session Progress";
    case 199: return "Early Dialog Terminated";
    case 200: return "OK";
    case 202: return "Accepted";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Moved Temporarily";
    case 305: return "Use Proxy";
    case 380: return "Alternative Service";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 410: return "Gone";
    case 413: return "Request Entity Too Large";
    case 414: return "Request-URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Unsupported URI Scheme";
    case 420: return "Bad Extension";
    case 421: return "Extension Required";
    case 423: return "Interval Too Brief";
    case 480: return "Temporarily Unavailable";
    case 481: return "Call/Transaction Does Not Exist";
    case 482: return "Loop Detected";
    case 483: return "Too Many Hops";
    case 484: return "Address Incomplete";
    case 485: return "Ambiguous";
    case 486: return "Busy Here";
    case 487: return "Request Terminated";
    case 488: return "Not Acceptable Here";
    case 491: return "Request Pending";
    case 493: return "Undecipherable";
    case 500: return "Server Internal Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Server Time-out";
    case 505: return "Version Not Supported";
    case 513: return "Message Too Large";
    case 600: return "Busy Everywhere";
    case 603: return "Decline";
    case 604: return "Does Not Exist Anywhere";
    case 606: return "Not Acceptable";
    case 607: return "Unwanted";
    case 608: return "Rejected";
    default: return {};
  }
}

std::size_t build_response(const Message& req, std::uint16_t code, std::string_view reason,
                           std::string_view to_tag, std::span<const ExtraHeader> extra, char* out,
                           std::size_t cap) {
  if (code < 100 || code > 699) return 0;
  if (reason.empty()) reason = default_reason_phrase(code);
  if (reason.empty()) reason = class_reason_phrase(code);
  if (!valid_text(reason)) return 0;
  for (const ExtraHeader& x : extra) {
    if (!is_token(x.name) || !valid_text(x.value)) return 0;
  }
  const Header* from = first_with(req, HeaderId::from);
  const Header* to = first_with(req, HeaderId::to);
  const Header* call_id = first_with(req, HeaderId::call_id);
  const Header* cseq = first_with(req, HeaderId::cseq);
  if (first_with(req, HeaderId::via) == nullptr || from == nullptr || to == nullptr ||
      call_id == nullptr || cseq == nullptr) {
    return 0;
  }
  const bool add_tag = code != 100 && !has_tag_param(to->value);
  if (add_tag && !is_token(to_tag)) return 0;

  Writer w(out, cap);
  const char digits[3] = {static_cast<char>('0' + code / 100),
                          static_cast<char>('0' + code / 10 % 10),
                          static_cast<char>('0' + code % 10)};
  w.put("SIP/2.0 ");
  w.put({digits, 3});
  w.put(" ");
  w.put(reason);
  w.put("\r\n");
  for (const Header& h : req.headers) {
    if (h.id == HeaderId::via) w.put_header(h);
  }
  w.put_header(*from);
  if (add_tag) {
    w.put(to->name);
    w.put(": ");
    w.put_unfolded(to->value);
    w.put(";tag=");
    w.put(to_tag);
    w.put("\r\n");
  } else {
    w.put_header(*to);
  }
  w.put_header(*call_id);
  w.put_header(*cseq);
  if (code == 100) {
    for (const Header& h : req.headers) {
      if (h.id == HeaderId::other && iequals(h.name, "Timestamp")) {
        w.put_header(h);
        break;
      }
    }
  }
  for (const ExtraHeader& x : extra) {
    w.put(x.name);
    w.put(": ");
    w.put(x.value);
    w.put("\r\n");
  }
  w.put("Content-Length: 0\r\n\r\n");
  return w.result();
}

}  // namespace sigrelay::sip
