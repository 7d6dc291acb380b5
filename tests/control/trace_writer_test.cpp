// The call-trace writer, judged by a reader we did not write: tshark must
// decode every message as SIP, with the addresses, ports, TCP sequence
// numbers (RFC 9293 §3.4: each segment's number follows the previous one's
// last byte) and checksums (RFC 768, RFC 791, RFC 8200 §8.1) of a real
// packet. Addresses are from the documentation ranges (RFC 5737, RFC 3849);
// IPv4-mapped IPv6 is RFC 4291 §2.5.5.2.
#include "control/trace_writer.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace sigrelay::control {
namespace {

namespace fs = std::filesystem;

sockaddr_storage sock4(const char* text, std::uint16_t port) {
  sockaddr_storage ss{};
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET, text, &sin.sin_addr), 1) << text;
  std::memcpy(&ss, &sin, sizeof sin);
  return ss;
}

sockaddr_storage sock6(const char* text, std::uint16_t port) {
  sockaddr_storage ss{};
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET6, text, &sin6.sin6_addr), 1) << text;
  std::memcpy(&ss, &sin6, sizeof sin6);
  return ss;
}

// A request or response with a correct Content-Length (RFC 3261 §20.14),
// which SIP over TCP needs to find the message's end.
std::string sip_message(const std::string& start_line, const std::string& call_id,
                        const std::string& cseq, const std::string& body = "") {
  std::string m = start_line + "\r\n";
  m += "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK" + call_id.substr(0, 6) + "\r\n";
  m += "Max-Forwards: 70\r\n";
  m += "From: <sip:+15551230001@192.0.2.10>;tag=1928301774\r\n";
  m += "To: <sip:+15551230002@198.51.100.20>\r\n";
  m += "Call-ID: " + call_id + "\r\n";
  m += "CSeq: " + cseq + "\r\n";
  if (!body.empty()) m += "Content-Type: application/sdp\r\n";
  m += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  return m + body;
}

const std::string kSdp =
    "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    "m=audio 49170 RTP/AVP 0\r\n";

TraceRecord make_record(std::int64_t us, sockaddr_storage src, sockaddr_storage dst,
                        TraceTransport transport, bool sent, const std::string& bytes) {
  TraceRecord r;
  r.timestamp_us = us;
  r.src = src;
  r.dst = dst;
  r.transport = transport;
  r.sent = sent;
  r.bytes = bytes;
  return r;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "trace_writer_test.XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Our trace files in dir, in name order (which is creation order).
std::vector<std::string> trace_files(const std::string& dir, const std::string& base) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(base + ".", 0) == 0 && name.size() > 5 &&
        name.compare(name.size() - 5, 5, ".pcap") == 0) {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool have_tshark() { return std::system("tshark --version >/dev/null 2>&1") == 0; }

// Runs tshark over file and returns one row of fields per packet.
std::vector<std::vector<std::string>> tshark_fields(const std::string& file,
                                                    const std::vector<std::string>& fields) {
  std::string cmd = "tshark -n -r '" + file +
                    "' -d tcp.port==5061,sip"
                    " -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE"
                    " -o tcp.check_checksum:TRUE -T fields -E separator=/t -E occurrence=f";
  for (const auto& f : fields) cmd += " -e " + f;
  cmd += " 2>/dev/null";
  std::vector<std::vector<std::string>> rows;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    ADD_FAILURE() << "cannot run " << cmd;
    return rows;
  }
  std::string text;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << cmd;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<std::string> row;
    std::size_t start = 0;
    for (;;) {
      const std::size_t tab = line.find('\t', start);
      row.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    row.resize(fields.size());
    rows.push_back(row);
  }
  return rows;
}

TraceLimits roomy_limits() {
  TraceLimits l;
  l.max_bytes = 64ULL << 20;
  l.max_age = std::chrono::nanoseconds(0);
  l.max_files = 4;
  l.queue_bytes = 1U << 20;
  return l;
}

constexpr std::int64_t kT0 = 1700000000000000;  // 2023-11-14T22:13:20Z, in microseconds

// --- what tshark sees ------------------------------------------------------

TEST(TraceWriter, TsharkDecodesEveryLegAsSip) {
  if (!have_tshark()) GTEST_SKIP() << "tshark not installed (scripts/setup-deps.sh installs it)";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string prefix = dir.path() + "/calls";

  const std::string udp_invite =
      sip_message("INVITE sip:+15551230002@198.51.100.20 SIP/2.0", "udp-call-1@192.0.2.10",
                  "1 INVITE", kSdp);
  const std::string udp_ok =
      sip_message("SIP/2.0 200 OK", "udp-call-1@192.0.2.10", "1 INVITE", kSdp);
  const std::string tls_invite = sip_message(
      "INVITE sip:+15551230002@sip.example.com;transport=tls SIP/2.0", "tls-call-2@2001:db8::10",
      "1 INVITE", kSdp);
  const std::string tls_trying =
      sip_message("SIP/2.0 100 Trying", "tls-call-2@2001:db8::10", "1 INVITE");
  const std::string tls_cancel = sip_message(
      "CANCEL sip:+15551230002@sip.example.com;transport=tls SIP/2.0", "tls-call-2@2001:db8::10",
      "1 CANCEL");
  const std::string tcp4_options =
      sip_message("OPTIONS sip:203.0.113.5 SIP/2.0", "tcp4-call-3@192.0.2.10", "7 OPTIONS");
  const std::string tcp6_register = sip_message("REGISTER sip:[2001:db8::30] SIP/2.0",
                                                "tcp6-call-4@2001:db8::10", "2 REGISTER");
  const std::string mapped_notify =
      sip_message("NOTIFY sip:192.0.2.40 SIP/2.0", "mapped-call-5@192.0.2.30", "3 NOTIFY");

  const auto a4 = sock4("192.0.2.10", 5060);
  const auto b4 = sock4("198.51.100.20", 5060);
  const auto a6_tls = sock6("2001:db8::10", 40001);
  const auto b6_tls = sock6("2001:db8::20", 5061);
  const auto a4_tcp = sock4("192.0.2.10", 40002);
  const auto c4_tcp = sock4("203.0.113.5", 5060);
  const auto a6_tcp = sock6("2001:db8::10", 40003);
  const auto c6_tcp = sock6("2001:db8::30", 5060);
  const auto mapped = sock6("::ffff:192.0.2.30", 5062);
  const auto d4 = sock4("192.0.2.40", 5060);

  TraceWriter w;
  EXPECT_FALSE(w.enabled());
  std::string error;
  ASSERT_EQ(w.start(prefix, roomy_limits(), error), TraceError::ok) << error;
  EXPECT_TRUE(w.enabled());
  const TraceRecord records[] = {
      make_record(kT0 + 1, a4, b4, TraceTransport::udp, false, udp_invite),
      make_record(kT0 + 2, b4, a4, TraceTransport::udp, true, udp_ok),
      make_record(kT0 + 3, a6_tls, b6_tls, TraceTransport::tls, true, tls_invite),
      make_record(kT0 + 4, b6_tls, a6_tls, TraceTransport::tls, false, tls_trying),
      make_record(kT0 + 5, a6_tls, b6_tls, TraceTransport::tls, true, tls_cancel),
      make_record(kT0 + 6, a4_tcp, c4_tcp, TraceTransport::tcp, true, tcp4_options),
      make_record(kT0 + 7, a6_tcp, c6_tcp, TraceTransport::tcp, true, tcp6_register),
      make_record(kT0 + 1000000, mapped, d4, TraceTransport::udp, false, mapped_notify),
  };
  for (const auto& r : records) EXPECT_TRUE(w.record(r));
  w.stop();
  EXPECT_FALSE(w.enabled());

  const TraceStats s = w.stats();
  EXPECT_EQ(s.queue.queued, 8U);
  EXPECT_EQ(s.queue.sent, 5U);
  EXPECT_EQ(s.queue.received, 3U);
  EXPECT_EQ(s.packets_written, 8U);
  EXPECT_EQ(s.files_opened, 1U);
  EXPECT_EQ(s.queue.full + s.queue.bad_address + s.queue.truncated + s.dropped_no_file, 0U);

  const auto files = trace_files(dir.path(), "calls");
  ASSERT_EQ(files.size(), 1U);
  const std::string name = fs::path(files[0]).filename().string();
  // calls.YYYYmmddTHHMMSSZ.NNNNNN.pcap
  ASSERT_EQ(name.size(), std::string("calls.20231114T221320Z.000000.pcap").size()) << name;
  EXPECT_EQ(name[14], 'T');
  EXPECT_EQ(name[21], 'Z');
  struct stat st{};
  ASSERT_EQ(::stat(files[0].c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U) << "traces hold call data: owner only";
  EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), s.bytes_written);

  const std::vector<std::string> fields = {
      "frame.time_epoch", "ip.src",         "ip.dst",         "ipv6.src",
      "ipv6.dst",         "udp.srcport",    "udp.dstport",    "tcp.srcport",
      "tcp.dstport",      "tcp.seq_raw",    "tcp.ack_raw",    "tcp.len",
      "sip.Method",       "sip.Status-Code", "sip.Call-ID",   "ip.checksum.status",
      "udp.checksum.status", "tcp.checksum.status", "sip.CSeq.method"};
  const auto rows = tshark_fields(files[0], fields);
  ASSERT_EQ(rows.size(), 8U);
  enum { kTime, kIpSrc, kIpDst, kIp6Src, kIp6Dst, kUdpSrc, kUdpDst, kTcpSrc, kTcpDst, kSeq, kAck,
         kTcpLen, kMethod, kStatus, kCallId, kIpSum, kUdpSum, kTcpSum, kCseqMethod };
  // Wireshark's checksum status: 1 is "Good" (0 bad, 2 unverified).
  const std::string good = "1";

  // UDP over IPv4: INVITE and its 200.
  EXPECT_EQ(rows[0][kTime], "1700000000.000001000");
  EXPECT_EQ(rows[0][kIpSrc], "192.0.2.10");
  EXPECT_EQ(rows[0][kIpDst], "198.51.100.20");
  EXPECT_EQ(rows[0][kUdpSrc], "5060");
  EXPECT_EQ(rows[0][kUdpDst], "5060");
  EXPECT_EQ(rows[0][kMethod], "INVITE");
  EXPECT_EQ(rows[0][kCallId], "udp-call-1@192.0.2.10");
  EXPECT_EQ(rows[1][kIpSrc], "198.51.100.20");
  EXPECT_EQ(rows[1][kIpDst], "192.0.2.10");
  EXPECT_EQ(rows[1][kStatus], "200");
  EXPECT_EQ(rows[1][kMethod], "");
  EXPECT_EQ(rows[1][kCseqMethod], "INVITE");
  EXPECT_EQ(rows[1][kCallId], "udp-call-1@192.0.2.10");
  for (int i : {0, 1}) {
    EXPECT_EQ(rows[i][kIpSum], good) << i;
    EXPECT_EQ(rows[i][kUdpSum], good) << i;
    EXPECT_EQ(rows[i][kTcpSrc], "") << i;
  }

  // The TLS leg's plaintext over IPv6 on the connection's real ports.
  EXPECT_EQ(rows[2][kIp6Src], "2001:db8::10");
  EXPECT_EQ(rows[2][kIp6Dst], "2001:db8::20");
  EXPECT_EQ(rows[2][kTcpSrc], "40001");
  EXPECT_EQ(rows[2][kTcpDst], "5061");
  EXPECT_EQ(rows[2][kMethod], "INVITE");
  EXPECT_EQ(rows[2][kCallId], "tls-call-2@2001:db8::10");
  EXPECT_EQ(rows[3][kIp6Src], "2001:db8::20");
  EXPECT_EQ(rows[3][kTcpSrc], "5061");
  EXPECT_EQ(rows[3][kTcpDst], "40001");
  EXPECT_EQ(rows[3][kStatus], "100");
  EXPECT_EQ(rows[3][kCallId], "tls-call-2@2001:db8::10");
  EXPECT_EQ(rows[4][kMethod], "CANCEL");
  EXPECT_EQ(rows[4][kCallId], "tls-call-2@2001:db8::10");
  // One whole message per segment, numbered as one byte stream per direction.
  EXPECT_EQ(rows[2][kTcpLen], std::to_string(tls_invite.size()));
  EXPECT_EQ(rows[3][kTcpLen], std::to_string(tls_trying.size()));
  EXPECT_EQ(rows[4][kTcpLen], std::to_string(tls_cancel.size()));
  const unsigned long seq_invite = std::stoul(rows[2][kSeq]);
  const unsigned long seq_trying = std::stoul(rows[3][kSeq]);
  EXPECT_EQ(std::stoul(rows[4][kSeq]), seq_invite + tls_invite.size());
  EXPECT_EQ(std::stoul(rows[3][kAck]), seq_invite + tls_invite.size());
  EXPECT_EQ(std::stoul(rows[4][kAck]), seq_trying + tls_trying.size());

  // TCP over IPv4 and over IPv6.
  EXPECT_EQ(rows[5][kIpSrc], "192.0.2.10");
  EXPECT_EQ(rows[5][kIpDst], "203.0.113.5");
  EXPECT_EQ(rows[5][kTcpSrc], "40002");
  EXPECT_EQ(rows[5][kTcpDst], "5060");
  EXPECT_EQ(rows[5][kMethod], "OPTIONS");
  EXPECT_EQ(rows[5][kCallId], "tcp4-call-3@192.0.2.10");
  EXPECT_EQ(rows[5][kIpSum], good);
  EXPECT_EQ(rows[6][kIp6Src], "2001:db8::10");
  EXPECT_EQ(rows[6][kIp6Dst], "2001:db8::30");
  EXPECT_EQ(rows[6][kTcpSrc], "40003");
  EXPECT_EQ(rows[6][kTcpDst], "5060");
  EXPECT_EQ(rows[6][kMethod], "REGISTER");
  EXPECT_EQ(rows[6][kCallId], "tcp6-call-4@2001:db8::10");
  for (int i : {2, 3, 4, 5, 6}) {
    EXPECT_EQ(rows[i][kTcpSum], good) << i;
    EXPECT_EQ(rows[i][kUdpSrc], "") << i;
  }

  // An IPv4-mapped source talking to an IPv4 peer is written as IPv4.
  EXPECT_EQ(rows[7][kTime], "1700000001.000000000");
  EXPECT_EQ(rows[7][kIpSrc], "192.0.2.30");
  EXPECT_EQ(rows[7][kIpDst], "192.0.2.40");
  EXPECT_EQ(rows[7][kIp6Src], "");
  EXPECT_EQ(rows[7][kUdpSrc], "5062");
  EXPECT_EQ(rows[7][kMethod], "NOTIFY");
  EXPECT_EQ(rows[7][kUdpSum], good);
}

TEST(TraceWriter, LongMessageIsCutAndCounted) {
  if (!have_tshark()) GTEST_SKIP() << "tshark not installed (scripts/setup-deps.sh installs it)";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string big = sip_message("MESSAGE sip:+15551230002@198.51.100.20 SIP/2.0",
                                "big-call@192.0.2.10", "1 MESSAGE", std::string(70000, 'x'));
  TraceWriter w;
  std::string error;
  ASSERT_EQ(w.start(dir.path() + "/big", roomy_limits(), error), TraceError::ok) << error;
  EXPECT_TRUE(w.record(make_record(kT0, sock4("192.0.2.10", 5060), sock4("198.51.100.20", 5060),
                                   TraceTransport::udp, true, big)));
  EXPECT_TRUE(w.record(make_record(kT0 + 1, sock4("192.0.2.10", 40000),
                                   sock4("198.51.100.20", 5060), TraceTransport::tcp, true, big)));
  w.stop();
  EXPECT_EQ(w.stats().queue.truncated, 2U);
  EXPECT_EQ(w.stats().packets_written, 2U);
  const auto files = trace_files(dir.path(), "big");
  ASSERT_EQ(files.size(), 1U);
  const auto rows = tshark_fields(
      files[0], {"ip.len", "udp.length", "tcp.len", "udp.checksum.status", "tcp.checksum.status"});
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_EQ(rows[0][0], std::to_string(20 + 8 + kMaxTracedBytes));
  EXPECT_EQ(rows[0][1], std::to_string(8 + kMaxTracedBytes));
  EXPECT_EQ(rows[0][3], "1");
  // Over TCP the cut message fills the largest IPv4 packet (RFC 791: a
  // 16-bit total length).
  EXPECT_EQ(rows[1][0], "65535");
  EXPECT_EQ(rows[1][2], std::to_string(kMaxTracedBytes));
  EXPECT_EQ(rows[1][4], "1");
}

// --- rotation ----------------------------------------------------------------

TEST(TraceWriter, RotatesBySizeAndKeepsMaxFiles) {
  if (!have_tshark()) GTEST_SKIP() << "tshark not installed (scripts/setup-deps.sh installs it)";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  // Leftovers of an earlier run count against max_files; other files stay.
  const std::string old1 = dir.path() + "/rot.20000101T000000Z.000000.pcap";
  const std::string old2 = dir.path() + "/rot.20000101T000000Z.000001.pcap";
  const std::string unrelated = dir.path() + "/rot.notes.pcap";
  for (const auto& f : {old1, old2, unrelated}) std::ofstream(f) << "x";

  std::vector<std::string> messages;
  for (int i = 0; i < 10; ++i) {
    messages.push_back(sip_message("INVITE sip:+15551230002@198.51.100.20 SIP/2.0",
                                   "rot-" + std::to_string(i) + "@192.0.2.10", "1 INVITE"));
  }
  // Three packets fit a file, a fourth would not: pcap file header (24) plus
  // per packet a record header (16), IPv4 (20), UDP (8) and the message.
  const std::uint64_t packet = 16 + 20 + 8 + messages[0].size();
  for (const auto& m : messages) ASSERT_EQ(m.size(), messages[0].size());
  TraceLimits limits = roomy_limits();
  limits.max_bytes = 24 + 3 * packet;
  limits.max_files = 3;

  TraceWriter w;
  std::string error;
  ASSERT_EQ(w.start(dir.path() + "/rot", limits, error), TraceError::ok) << error;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    EXPECT_TRUE(w.record(make_record(kT0 + static_cast<std::int64_t>(i), sock4("192.0.2.10", 5060),
                                     sock4("198.51.100.20", 5060), TraceTransport::udp, true,
                                     messages[i])));
  }
  w.stop();

  // 10 messages at 3 a file: 4 files; with the 2 old ones, 3 must go.
  const TraceStats s = w.stats();
  EXPECT_EQ(s.packets_written, 10U);
  EXPECT_EQ(s.files_opened, 4U);
  EXPECT_EQ(s.files_deleted, 3U);
  EXPECT_FALSE(fs::exists(old1));
  EXPECT_FALSE(fs::exists(old2));
  EXPECT_TRUE(fs::exists(unrelated));

  auto files = trace_files(dir.path(), "rot");
  files.erase(std::remove(files.begin(), files.end(), unrelated), files.end());
  ASSERT_EQ(files.size(), 3U);
  std::vector<std::string> call_ids;
  for (const auto& f : files) {
    EXPECT_LE(fs::file_size(f), limits.max_bytes) << f;
    for (const auto& row : tshark_fields(f, {"sip.Call-ID"})) call_ids.push_back(row[0]);
  }
  // The oldest file (messages 0-2) was deleted; the rest are in order.
  std::vector<std::string> expected;
  for (int i = 3; i < 10; ++i) expected.push_back("rot-" + std::to_string(i) + "@192.0.2.10");
  EXPECT_EQ(call_ids, expected);
}

TEST(TraceWriter, RotatesByAge) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  TraceLimits limits = roomy_limits();
  limits.max_files = 10;
  // Any file that already holds a packet is too old for the next one.
  limits.max_age = std::chrono::nanoseconds(1);
  const std::string m = sip_message("OPTIONS sip:198.51.100.20 SIP/2.0", "age@192.0.2.10", "1 OPTIONS");
  TraceWriter w;
  std::string error;
  ASSERT_EQ(w.start(dir.path() + "/age", limits, error), TraceError::ok) << error;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(w.record(make_record(kT0 + i, sock4("192.0.2.10", 5060),
                                     sock4("198.51.100.20", 5060), TraceTransport::udp, true, m)));
  }
  w.stop();
  EXPECT_EQ(w.stats().files_opened, 3U);
  EXPECT_EQ(trace_files(dir.path(), "age").size(), 3U);
}

// --- the queue ---------------------------------------------------------------

TEST(TraceQueue, FullQueueDropsAndCountsWithoutAConsumer) {
  // No writer thread at all: a producer must still return at once.
  TraceQueue q;
  const std::string m = sip_message("BYE sip:198.51.100.20 SIP/2.0", "q@192.0.2.10", "2 BYE");
  ASSERT_TRUE(q.open(2 * TraceQueue::record_bytes(m.size())));
  const auto src = sock4("192.0.2.10", 5060);
  const auto dst = sock6("::ffff:198.51.100.20", 5070);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(q.push(make_record(kT0 + i, src, dst, TraceTransport::tcp, i == 0, m)),
              TraceQueue::Push::queued);
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(q.push(make_record(kT0, src, dst, TraceTransport::tcp, true, m)),
              TraceQueue::Push::full);
  }
  TraceQueue::Counts c = q.counts();
  EXPECT_EQ(c.queued, 2U);
  EXPECT_EQ(c.full, 3U);
  EXPECT_EQ(c.sent, 1U);
  EXPECT_EQ(c.received, 1U);

  bool closed = true;
  auto batch = q.take(std::chrono::milliseconds(0), closed);
  EXPECT_FALSE(closed);
  QueuedTrace t;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(TraceQueue::next(batch, t));
    EXPECT_EQ(t.timestamp_us, kT0 + i);
    EXPECT_EQ(t.bytes, m);
    EXPECT_EQ(t.transport, TraceTransport::tcp);
    EXPECT_EQ(t.sent, i == 0);
    EXPECT_EQ(t.ip_version, 4);
    const std::uint8_t a[4] = {192, 0, 2, 10};
    const std::uint8_t b[4] = {198, 51, 100, 20};
    EXPECT_EQ(std::memcmp(t.src.data(), a, 4), 0);
    EXPECT_EQ(std::memcmp(t.dst.data(), b, 4), 0);
    EXPECT_EQ(t.src_port, 5060);
    EXPECT_EQ(t.dst_port, 5070);
  }
  EXPECT_FALSE(TraceQueue::next(batch, t));

  // Taking freed the room; closing refuses more and tells the consumer.
  EXPECT_EQ(q.push(make_record(kT0, src, dst, TraceTransport::udp, true, m)),
            TraceQueue::Push::queued);
  q.close();
  EXPECT_EQ(q.push(make_record(kT0, src, dst, TraceTransport::udp, true, m)),
            TraceQueue::Push::closed);
  batch = q.take(std::chrono::milliseconds(0), closed);
  EXPECT_TRUE(closed);
  EXPECT_TRUE(TraceQueue::next(batch, t));
  EXPECT_FALSE(TraceQueue::next(batch, t));
}

TEST(TraceQueue, UnusableAddressesAreCountedNotQueued) {
  TraceQueue q;
  ASSERT_TRUE(q.open(kMinQueueBytes));
  sockaddr_storage none{};
  none.ss_family = AF_UNSPEC;
  const std::string m = "OPTIONS sip:x SIP/2.0\r\n\r\n";
  EXPECT_EQ(q.push(make_record(kT0, none, sock4("192.0.2.1", 5060), TraceTransport::udp, true, m)),
            TraceQueue::Push::bad_address);
  // IPv4 to a real (unmapped) IPv6 address cannot be one packet.
  EXPECT_EQ(q.push(make_record(kT0, sock4("192.0.2.1", 5060), sock6("2001:db8::1", 5060),
                               TraceTransport::udp, true, m)),
            TraceQueue::Push::bad_address);
  EXPECT_EQ(q.counts().bad_address, 2U);
  EXPECT_EQ(q.counts().queued, 0U);
}

TEST(TraceWriter, TinyQueueDropsEveryRecordAndCountsThem) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  TraceLimits limits = roomy_limits();
  limits.queue_bytes = kMinQueueBytes;
  // Larger than the whole queue: never fits, whatever the writer thread does.
  const std::string m = sip_message("MESSAGE sip:198.51.100.20 SIP/2.0", "drop@192.0.2.10",
                                    "1 MESSAGE", std::string(2 * kMinQueueBytes, 'y'));
  TraceWriter w;
  std::string error;
  ASSERT_EQ(w.start(dir.path() + "/drop", limits, error), TraceError::ok) << error;
  for (int i = 0; i < 50; ++i) {
    EXPECT_FALSE(w.record(make_record(kT0, sock4("192.0.2.10", 5060),
                                      sock4("198.51.100.20", 5060), TraceTransport::udp, true, m)));
  }
  w.stop();
  const TraceStats s = w.stats();
  EXPECT_EQ(s.queue.full, 50U);
  EXPECT_EQ(s.queue.queued, 0U);
  EXPECT_EQ(s.packets_written, 0U);
  const auto files = trace_files(dir.path(), "drop");
  ASSERT_EQ(files.size(), 1U);
  EXPECT_EQ(fs::file_size(files[0]), 24U);  // the pcap file header alone
}

TEST(TraceWriter, ManyProducersKeepEachOnesOrder) {
  if (!have_tshark()) GTEST_SKIP() << "tshark not installed (scripts/setup-deps.sh installs it)";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  constexpr int kThreads = 4;
  constexpr int kEach = 200;
  TraceWriter w;
  std::string error;
  // Room for every record at once, so none may be dropped however the
  // threads interleave.
  ASSERT_EQ(w.start(dir.path() + "/mp", roomy_limits(), error), TraceError::ok) << error;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&w, t] {
      const auto src = sock4("192.0.2.10", static_cast<std::uint16_t>(41000 + t));
      const auto dst = sock4("203.0.113.5", 5061);
      for (int i = 0; i < kEach; ++i) {
        const std::string m = sip_message("MESSAGE sip:203.0.113.5 SIP/2.0",
                                          "mp-" + std::to_string(t) + "-" + std::to_string(1000 + i),
                                          std::to_string(i + 1) + " MESSAGE");
        EXPECT_TRUE(w.record(make_record(kT0 + i, src, dst, TraceTransport::tls, true, m)));
      }
    });
  }
  for (auto& th : threads) th.join();
  w.stop();
  EXPECT_EQ(w.stats().packets_written, static_cast<std::uint64_t>(kThreads * kEach));
  const auto files = trace_files(dir.path(), "mp");
  ASSERT_EQ(files.size(), 1U);
  const auto rows = tshark_fields(files[0], {"tcp.srcport", "tcp.seq_raw", "tcp.len", "sip.Call-ID"});
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(kThreads * kEach));
  std::vector<int> seen(kThreads, 0);
  std::vector<unsigned long> next_seq(kThreads, 0);
  for (const auto& row : rows) {
    const int t = std::stoi(row[0]) - 41000;
    ASSERT_GE(t, 0);
    ASSERT_LT(t, kThreads);
    EXPECT_EQ(row[3], "mp-" + std::to_string(t) + "-" + std::to_string(1000 + seen[t]));
    if (seen[t] > 0) {
      EXPECT_EQ(std::stoul(row[1]), next_seq[t]) << row[3];
    }
    next_seq[t] = std::stoul(row[1]) + std::stoul(row[2]);
    ++seen[t];
  }
}

// --- start and stop ----------------------------------------------------------

TEST(TraceWriter, StartRefusesBadSettingsWithReasons) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  TraceWriter w;
  std::string error;
  TraceLimits limits = roomy_limits();
  limits.max_files = 0;
  EXPECT_EQ(w.start(dir.path() + "/t", limits, error), TraceError::bad_limits);
  EXPECT_NE(error.find("max_files"), std::string::npos) << error;
  limits = roomy_limits();
  limits.queue_bytes = kMinQueueBytes - 1;
  EXPECT_EQ(w.start(dir.path() + "/t", limits, error), TraceError::bad_limits);
  EXPECT_EQ(w.start(dir.path(), roomy_limits(), error), TraceError::bad_path);
  EXPECT_EQ(w.start("", roomy_limits(), error), TraceError::bad_path);
  const std::string missing = dir.path() + "/no/such/dir/t";
  EXPECT_EQ(w.start(missing, roomy_limits(), error), TraceError::open_failed);
  EXPECT_NE(error.find(missing), std::string::npos) << error;
  EXPECT_FALSE(w.enabled());

  const std::string m = "OPTIONS sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n";
  const TraceRecord r =
      make_record(kT0, sock4("192.0.2.1", 5060), sock4("192.0.2.2", 5060), TraceTransport::udp, true, m);
  EXPECT_FALSE(w.record(r)) << "nothing is recorded while tracing is off";

  ASSERT_EQ(w.start(dir.path() + "/t", roomy_limits(), error), TraceError::ok) << error;
  EXPECT_EQ(w.start(dir.path() + "/t", roomy_limits(), error), TraceError::already_running);
  EXPECT_TRUE(w.record(r));
  w.stop();
  w.stop();  // a second stop is harmless
  EXPECT_FALSE(w.record(r));
  EXPECT_EQ(w.stats().packets_written, 1U);

  // A restart on the same path starts a new file next to the old one.
  ASSERT_EQ(w.start(dir.path() + "/t", roomy_limits(), error), TraceError::ok) << error;
  EXPECT_TRUE(w.record(r));
  w.stop();
  EXPECT_EQ(w.stats().packets_written, 1U);
  EXPECT_EQ(trace_files(dir.path(), "t").size(), 2U);

  EXPECT_EQ(to_string(TraceError::open_failed), "open_failed");
}

}  // namespace
}  // namespace sigrelay::control
