#include "sip/stream_framer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sigrelay::sip {
namespace {

using Kind = StreamFramer::Kind;

std::string options_with(std::string_view content_length_line, std::string_view body = "") {
  std::string m =
      "OPTIONS sip:relay@198.51.100.1 SIP/2.0\r\n"
      "Via: SIP/2.0/TCP 198.51.100.7:5060;branch=z9hG4bK-1\r\n"
      "From: <sip:switch@198.51.100.7>;tag=1\r\n"
      "To: <sip:relay@198.51.100.1>\r\n"
      "Call-ID: framer-1\r\n"
      "CSeq: 1 OPTIONS\r\n";
  m += content_length_line;
  m += "\r\n\r\n";
  m += body;
  return m;
}

// Feeds `chunks` one after another and collects the frames, as a connection would.
struct Collected {
  std::vector<std::string> messages;
  int pings = 0;
  int pongs = 0;
  bool error = false;
  ParseResult why{};
  std::string left;
};

Collected feed(const std::vector<std::string>& chunks, StreamFramer framer = StreamFramer{}) {
  Collected c;
  for (const auto& chunk : chunks) {
    c.left += chunk;
    while (!c.error) {
      const auto f = framer.next(c.left);
      if (f.kind == Kind::need_more) break;
      if (f.kind == Kind::error) {
        c.error = true;
        c.why = f.error;
        break;
      }
      if (f.kind == Kind::message) c.messages.emplace_back(c.left.substr(0, f.length));
      if (f.kind == Kind::ping) ++c.pings;
      if (f.kind == Kind::pong) ++c.pongs;
      c.left.erase(0, f.length);
    }
  }
  return c;
}

TEST(StreamFramer, OneMessageWithBody) {
  const auto m = options_with("Content-Length: 5", "hello");
  const auto c = feed({m});
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0], m);
  EXPECT_TRUE(c.left.empty());
}

TEST(StreamFramer, SeveralMessagesInOneRead) {
  const auto a = options_with("Content-Length: 0");
  const auto b = options_with("l: 3", "abc");
  const auto c = feed({a + b + a});
  ASSERT_EQ(c.messages.size(), 3u);
  EXPECT_EQ(c.messages[1], b);
}

TEST(StreamFramer, ByteAtATime) {
  const auto m = options_with("Content-Length: 4", "body");
  std::vector<std::string> chunks;
  for (char ch : m + m) chunks.emplace_back(1, ch);
  const auto c = feed(chunks);
  ASSERT_EQ(c.messages.size(), 2u);
  EXPECT_EQ(c.messages[0], m);
  EXPECT_EQ(c.messages[1], m);
}

TEST(StreamFramer, CompactAndFoldedContentLength) {
  const auto m = options_with("l:\r\n   2", "ok");
  const auto c = feed({m});
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0], m);
}

TEST(StreamFramer, CaseInsensitiveNameWithSpaceBeforeColon) {
  const auto m = options_with("cOnTeNt-LeNgTh   : 2", "ok");
  EXPECT_EQ(feed({m}).messages.size(), 1u);
}

TEST(StreamFramer, PingAndPongBetweenMessages) {
  const auto m = options_with("Content-Length: 0");
  const auto c = feed({"\r\n\r\n" + m + "\r\n\r\n", "\r\n\r\n"});
  EXPECT_EQ(c.pings, 3);
  EXPECT_EQ(c.messages.size(), 1u);
  EXPECT_TRUE(c.left.empty());
}

TEST(StreamFramer, LoneCrlfWaitsOnServerSideAndIsPongOnClientSide) {
  StreamFramer server;
  EXPECT_EQ(server.next("\r\n").kind, Kind::need_more);
  EXPECT_EQ(server.next("\r\n\r\n").kind, Kind::ping);
  StreamFramer client(65535, /*lone_crlf_is_pong=*/true);
  const auto f = client.next("\r\n");
  EXPECT_EQ(f.kind, Kind::pong);
  EXPECT_EQ(f.length, 2u);
  // A pong followed by a message.
  const auto m = options_with("Content-Length: 0");
  const auto c = feed({"\r\n" + m}, StreamFramer(65535, true));
  EXPECT_EQ(c.pongs, 1);
  EXPECT_EQ(c.messages.size(), 1u);
}

TEST(StreamFramer, MissingContentLengthIsAnError) {
  // RFC 3261 §18.3: Content-Length MUST be present on stream transports.
  const auto c = feed({options_with("Subject: none")});
  ASSERT_TRUE(c.error);
  EXPECT_EQ(c.why.error, ParseError::missing_header);
  EXPECT_EQ(c.why.header, HeaderId::content_length);
}

TEST(StreamFramer, NegativeOrGarbageContentLengthIsAnError) {
  for (const char* line : {"Content-Length: -999", "Content-Length: 12abc", "Content-Length:"}) {
    SCOPED_TRACE(line);
    const auto c = feed({options_with(line)});
    ASSERT_TRUE(c.error);
    EXPECT_EQ(c.why.error, ParseError::invalid_header_value);
    EXPECT_EQ(c.why.header, HeaderId::content_length);
  }
}

TEST(StreamFramer, ConflictingContentLengthsAreAnError) {
  // Two different lengths make the boundary ambiguous: request smuggling bait.
  const auto c = feed({options_with("Content-Length: 0\r\nl: 4", "abcd")});
  ASSERT_TRUE(c.error);
  EXPECT_EQ(c.why.header, HeaderId::content_length);
}

TEST(StreamFramer, OversizeHeadersAndBodiesAreRefused) {
  StreamFramer small(256);
  // Headers that never end.
  std::string endless = "INVITE sip:a@b SIP/2.0\r\n";
  while (endless.size() < 300) endless += "X-Pad: aaaaaaaaaaaaaaaa\r\n";
  EXPECT_EQ(small.next(endless).kind, Kind::error);
  // A Content-Length pointing far past the limit is refused before the body arrives.
  StreamFramer small2(256);
  const auto f = small2.next(options_with("Content-Length: 100000"));
  EXPECT_EQ(f.kind, Kind::error);
  EXPECT_EQ(f.error.error, ParseError::message_too_large);
}

TEST(StreamFramer, CrWithoutLfBetweenMessagesIsAnError) {
  StreamFramer framer;
  EXPECT_EQ(framer.next("\rX").kind, Kind::error);
}

TEST(StreamFramer, StrayLineFeedBetweenMessagesIsAnError) {
  // Found by fuzz_framer: a body one byte short of a CRLF leaves "\n" in
  // front of the next message; framing it would hide the stray byte.
  const auto m = options_with("Content-Length: 1", "\r");
  const auto c = feed({m + "\n" + options_with("Content-Length: 0")});
  EXPECT_EQ(c.messages.size(), 1u);
  ASSERT_TRUE(c.error);
  EXPECT_EQ(c.why.error, ParseError::bad_line_ending);
}

TEST(StreamFramer, ResumesScanWhereItStopped) {
  // The empty line straddles two reads at every possible position.
  const auto m = options_with("Content-Length: 0");
  const auto end = m.size();
  for (std::size_t cut = end - 4; cut < end; ++cut) {
    const auto c = feed({m.substr(0, cut), m.substr(cut)});
    ASSERT_EQ(c.messages.size(), 1u) << cut;
  }
}

}  // namespace
}  // namespace sigrelay::sip
