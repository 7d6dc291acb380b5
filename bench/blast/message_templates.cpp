#include "bench/blast/message_templates.hpp"

#include <cstring>

namespace sigrelay::blast {

namespace {

constexpr char kHex[] = "0123456789abcdef";

std::string hex(std::uint64_t v, std::size_t digits) {
  std::string s(digits, '0');
  put_hex(v, digits, s.data());
  return s;
}

// Appends a placeholder for the sequence number and remembers where it is.
void add_seq(std::string& s, std::uint32_t& offset) {
  offset = static_cast<std::uint32_t>(s.size());
  s.append(kSeqDigits, '0');
}

std::string host_port(std::string_view host, std::uint16_t port) {
  std::string s(host);
  s += ':';
  s += std::to_string(port);
  return s;
}

std::string request_uri(const TemplateParams& p) {
  std::string s = "sip:";
  s += p.number;
  s += '@';
  s += host_port(p.target_host, p.target_port);
  s += ";user=phone";
  return s;
}

// SDP as a switch offers it: G.711 both laws, G.729 and RFC 4733 events.
std::string sdp(const TemplateParams& p) {
  // The SDP address is written without brackets (RFC 4566 §5.7).
  std::string_view addr = p.local_host;
  if (p.ipv6 && addr.size() >= 2) addr = addr.substr(1, addr.size() - 2);
  const std::string in = p.ipv6 ? "IN IP6 " : "IN IP4 ";
  std::string s = "v=0\r\no=blast 3912284561 3912284561 " + in + std::string(addr) +
                  "\r\ns=-\r\nc=" + in + std::string(addr) +
                  "\r\nt=0 0\r\n"
                  "m=audio 31844 RTP/AVP 0 8 18 101\r\n"
                  "a=rtpmap:0 PCMU/8000\r\n"
                  "a=rtpmap:8 PCMA/8000\r\n"
                  "a=rtpmap:18 G729/8000\r\n"
                  "a=fmtp:18 annexb=no\r\n"
                  "a=rtpmap:101 telephone-event/8000\r\n"
                  "a=fmtp:101 0-15\r\n"
                  "a=ptime:20\r\n"
                  "a=sendrecv\r\n";
  // Padding as a[ttribute] lines of at most 80 bytes, exactly body_pad bytes.
  std::size_t left = p.body_pad;
  while (left > 0) {
    std::size_t line = left;
    if (line > 80) line = left - 80 >= kMinPad ? 80 : left - kMinPad;
    s += "a=x-pad:";
    s.append(line - kMinPad, 'x');
    s += "\r\n";
    left -= line;
  }
  return s;
}

std::string via_prefix(const TemplateParams& p) {
  return "Via: SIP/2.0/UDP " + host_port(p.local_host, p.local_port) + ";branch=z9hG4bKb" +
         hex(p.run_id, 8) + hex(p.thread, 2);
}

std::string from_prefix(const TemplateParams& p) {
  return "From: \"sigrelay-blast\" <sip:blast@" + host_port(p.local_host, p.local_port) +
         ">;tag=" + hex(p.run_id, 8) + hex(p.thread, 2);
}

std::string call_id_prefix(const TemplateParams& p) {
  return "Call-ID: " + hex(p.run_id, 8) + "-" + hex(p.thread, 2) + "-";
}

std::string check(const TemplateParams& p) {
  if (!valid_user_part(p.number)) return "the number must be letters, digits and + - . _ ~";
  if (p.thread > 255) return "at most 256 threads";
  if (p.body_pad != 0 && p.body_pad < kMinPad)
    return "--body-bytes must be 0 or at least " + std::to_string(kMinPad);
  return {};
}

}  // namespace

void put_hex(std::uint64_t v, std::size_t digits, char* out) {
  for (std::size_t i = digits; i-- > 0;) {
    out[i] = kHex[v & 0xf];
    v >>= 4;
  }
}

bool valid_user_part(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '+' || c == '-' || c == '.' || c == '_' || c == '~';
    if (!ok) return false;
  }
  return true;
}

std::string InviteTemplate::build(const TemplateParams& p) {
  if (std::string e = check(p); !e.empty()) return e;
  const std::string body = sdp(p);
  const std::string ruri = request_uri(p);
  std::string& s = text_;
  s.clear();
  s += "INVITE " + ruri + " SIP/2.0\r\n";
  s += via_prefix(p);
  add_seq(s, seq_offsets_[0]);
  s += ";rport\r\n";
  s += "Max-Forwards: 70\r\n";
  s += from_prefix(p);
  add_seq(s, seq_offsets_[1]);
  s += "\r\n";
  s += "To: <" + ruri + ">\r\n";
  s += call_id_prefix(p);
  add_seq(s, seq_offsets_[2]);
  s += "@" + std::string(p.local_host) + "\r\n";
  s += "CSeq: 1 INVITE\r\n";
  s += "Contact: <sip:blast@" + host_port(p.local_host, p.local_port) + ";transport=udp>\r\n";
  s += "P-Asserted-Identity: \"sigrelay-blast\" <sip:+13125550199@" + std::string(p.local_host) +
       ";user=phone>\r\n";
  s += "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO, REFER, NOTIFY\r\n";
  s += "Supported: timer, replaces\r\n";
  s += "Session-Expires: 1800;refresher=uac\r\n";
  s += "Min-SE: 90\r\n";
  s += "User-Agent: sigrelay-blast/0.1\r\n";
  s += "Content-Type: application/sdp\r\n";
  s += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  s += body;
  body_size_ = body.size();
  if (s.size() > kMaxDatagram) return "the INVITE would exceed " + std::to_string(kMaxDatagram) + " bytes";
  return {};
}

std::string AckTemplate::build(const TemplateParams& p) {
  if (std::string e = check(p); !e.empty()) return e;
  request_line_ = "ACK " + request_uri(p) + " SIP/2.0\r\n";
  std::string& s = head_;
  s.clear();
  s += via_prefix(p);
  add_seq(s, seq_offsets_[0]);
  branch_end_ = s.size();
  s += ";rport\r\n";
  s += "Max-Forwards: 70\r\n";
  s += from_prefix(p);
  add_seq(s, seq_offsets_[1]);
  s += "\r\n";
  s += call_id_prefix(p);
  add_seq(s, seq_offsets_[2]);
  s += "@" + std::string(p.local_host) + "\r\n";
  s += "CSeq: 1 ACK\r\n";
  return {};
}

std::size_t AckTemplate::write(std::uint64_t seq, std::string_view to_value, bool two_xx,
                               std::string_view contact_uri, std::span<char> out) const {
  static constexpr std::string_view kTo = "To: ";
  static constexpr std::string_view kTail = "\r\nContent-Length: 0\r\n\r\n";
  static constexpr std::string_view kNewBranch = "a";  // a 2xx ACK is its own transaction
  const bool retarget = two_xx && !contact_uri.empty();
  const std::size_t line = retarget ? 4 + contact_uri.size() + 10 : request_line_.size();
  const std::size_t need = line + head_.size() + (two_xx ? kNewBranch.size() : 0) + kTo.size() +
                           to_value.size() + kTail.size();
  if (need > out.size()) return 0;
  char* w = out.data();
  auto put = [&w](std::string_view v) {
    std::memcpy(w, v.data(), v.size());
    w += v.size();
  };
  if (retarget) {
    put("ACK ");
    put(contact_uri);
    put(" SIP/2.0\r\n");
  } else {
    put(request_line_);
  }
  char* head = w;
  const std::string_view h = head_;
  put(h.substr(0, branch_end_));
  if (two_xx) put(kNewBranch);
  put(h.substr(branch_end_));
  const std::size_t shift = two_xx ? kNewBranch.size() : 0;
  put_hex(seq, kSeqDigits, head + seq_offsets_[0]);
  put_hex(seq, kSeqDigits, head + seq_offsets_[1] + shift);
  put_hex(seq, kSeqDigits, head + seq_offsets_[2] + shift);
  put(kTo);
  put(to_value);
  put(kTail);
  return static_cast<std::size_t>(w - out.data());
}

CallIdMatch decode_call_id(std::string_view call_id, std::uint32_t run_id, unsigned thread,
                           std::uint64_t& seq) {
  // "RRRRRRRR-tt-ssssssss@..."
  constexpr std::size_t kLen = 8 + 1 + 2 + 1 + kSeqDigits;
  if (call_id.size() <= kLen || call_id[8] != '-' || call_id[11] != '-' || call_id[kLen] != '@')
    return CallIdMatch::foreign;
  std::uint64_t v[3] = {0, 0, 0};
  const std::size_t starts[3] = {0, 9, 12};
  const std::size_t lens[3] = {8, 2, kSeqDigits};
  for (int f = 0; f < 3; ++f) {
    for (std::size_t i = 0; i < lens[f]; ++i) {
      const char c = call_id[starts[f] + i];
      int d;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else return CallIdMatch::foreign;
      v[f] = v[f] << 4 | static_cast<unsigned>(d);
    }
  }
  if (v[0] != run_id) return CallIdMatch::foreign;
  if (v[1] != thread) return CallIdMatch::other_thread;
  seq = v[2];
  return CallIdMatch::ours;
}

}  // namespace sigrelay::blast
