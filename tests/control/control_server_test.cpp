// The control socket: the line protocol, and a ControlServer in a temporary
// directory with a fake handler, driven by call_control() and by raw sockets
// that misbehave on purpose.
#include "control/control_server.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sigrelay::control {
namespace {

using Json = nlohmann::json;

constexpr int kTimeoutMs = 30000;  // only a broken server ever waits this long

// --- protocol -------------------------------------------------------------

TEST(ControlProtocol, RequestRoundTrip) {
  const std::string line = encode_request({"acl", {"test", "192.0.2.1"}});
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_EQ(Json::parse(line), Json::parse(R"({"command":"acl","args":["test","192.0.2.1"]})"));
  ControlRequest r;
  std::string error;
  ASSERT_TRUE(decode_request(std::string_view(line).substr(0, line.size() - 1), r, error)) << error;
  EXPECT_EQ(r.command, "acl");
  EXPECT_EQ(r.args, (std::vector<std::string>{"test", "192.0.2.1"}));
}

TEST(ControlProtocol, ArgsMayBeOmitted) {
  ControlRequest r;
  r.args = {"left over"};
  std::string error;
  ASSERT_TRUE(decode_request(R"({"command":"stats"})", r, error)) << error;
  EXPECT_EQ(r.command, "stats");
  EXPECT_TRUE(r.args.empty());
}

TEST(ControlProtocol, MalformedRequestsAreRejectedWithAReason) {
  const char* bad[] = {
      "",                                      // nothing
      "stats",                                 // not JSON
      R"(["stats"])",                          // not an object
      R"({"args":[]})",                        // no command
      R"({"command":""})",                     // empty command
      R"({"command":7})",                      // command not a string
      R"({"command":"acl","args":"list"})",    // args not an array
      R"({"command":"acl","args":["test",1]})" // an arg not a string
  };
  for (const char* line : bad) {
    ControlRequest r;
    std::string error;
    EXPECT_FALSE(decode_request(line, r, error)) << line;
    EXPECT_EQ(error.rfind("bad request: ", 0), 0U) << line << " -> " << error;
  }
}

TEST(ControlProtocol, ResponsesRoundTrip) {
  ControlResponse r;
  std::string error;
  std::string line = encode_result(Json{{"invites_in", 3}});
  ASSERT_EQ(line.back(), '\n');
  line.pop_back();
  ASSERT_TRUE(decode_response(line, r, error)) << error;
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.result, (Json{{"invites_in", 3}}));

  line = encode_error("unknown command 'x'\nsecond line");
  line.pop_back();
  EXPECT_EQ(line.find('\n'), std::string::npos) << "a newline in a message must be escaped";
  ASSERT_TRUE(decode_response(line, r, error)) << error;
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "unknown command 'x'\nsecond line");

  EXPECT_FALSE(decode_response("{}", r, error));
  EXPECT_FALSE(decode_response(R"({"ok":false})", r, error));
  EXPECT_FALSE(decode_response("<html>", r, error));
}

TEST(ControlProtocol, InvalidUtf8IsReplacedNotFatal) {
  const std::string line = encode_request({"why", {std::string("\xff\xfe", 2)}});
  ControlRequest r;
  std::string error;
  ASSERT_TRUE(decode_request(std::string_view(line).substr(0, line.size() - 1), r, error)) << error;
  EXPECT_EQ(r.args.at(0), "\xEF\xBF\xBD\xEF\xBF\xBD");  // two U+FFFD
}

TEST(ControlProtocol, FindLine) {
  std::size_t len = 99;
  EXPECT_EQ(find_line("", 8, len), LineStatus::incomplete);
  EXPECT_EQ(find_line("abc", 8, len), LineStatus::incomplete);
  EXPECT_EQ(find_line("abc\ndef\n", 8, len), LineStatus::complete);
  EXPECT_EQ(len, 3U);
  EXPECT_EQ(find_line("12345678\n", 8, len), LineStatus::complete);  // exactly the bound
  EXPECT_EQ(len, 8U);
  EXPECT_EQ(find_line("12345678", 8, len), LineStatus::incomplete);
  EXPECT_EQ(find_line("123456789", 8, len), LineStatus::too_long);
  EXPECT_EQ(find_line("123456789\n", 8, len), LineStatus::too_long);
  EXPECT_EQ(find_line("ab\ncd", 8, len, 3), LineStatus::incomplete);  // before scan_from: already seen
  EXPECT_EQ(find_line("abcd\n", 8, len, 3), LineStatus::complete);
  EXPECT_EQ(len, 4U);
}

// --- server ---------------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/sigrelay-ctl-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.data(), std::min(path.size(), sizeof a.sun_path - 1));
  return a;
}

// A socket file nobody listens on, as a crashed daemon leaves it.
void make_stale_socket(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  const sockaddr_un a = unix_address(path);
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
  ::close(fd);
}

class RawClient {
 public:
  explicit RawClient(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const timeval tv{kTimeoutMs / 1000, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const sockaddr_un a = unix_address(path);
    connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawClient() { ::close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  // The server may close before taking all of it; that is not an error here.
  void send_all(const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
  }
  void shut_write() { ::shutdown(fd_, SHUT_WR); }
  // Everything until the server closes (or resets) the connection.
  std::string read_to_end() {
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return out;
      out.append(buf, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

ControlResponse parse_response_line(const std::string& text) {
  ControlResponse r;
  std::string error;
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.find('\n'), text.size() - 1) << "exactly one line: " << text;
  EXPECT_TRUE(decode_response(text.substr(0, text.find('\n')), r, error)) << error << ": " << text;
  return r;
}

// Echoes the request back; "fail" fails, "throw" throws, anything else is unknown.
Json fake_handler(const std::string& command, const std::vector<std::string>& args, std::string& error) {
  if (command == "echo") return Json{{"command", command}, {"args", args}};
  if (command == "fail") {
    error = "it failed";
    return Json{{"ignored", true}};
  }
  if (command == "throw") throw std::runtime_error("boom");
  error = "unknown command '" + command + "'";
  return nullptr;
}

class ControlServerTest : public ::testing::Test {
 protected:
  TempDir dir;
  std::string path = dir.file("control.sock");
};

TEST_F(ControlServerTest, RoundTrip) {
  ControlServer server(path, fake_handler);
  std::string error;
  ASSERT_TRUE(server.start(error)) << error;
  EXPECT_TRUE(server.running());
  const ControlCallResult r = call_control(path, {"echo", {"test", "192.0.2.1"}}, kTimeoutMs);
  ASSERT_EQ(r.error, ControlCallError::none) << to_string(r.error) << " " << r.detail;
  ASSERT_TRUE(r.response.ok) << r.response.error;
  EXPECT_EQ(r.response.result, (Json{{"command", "echo"}, {"args", {"test", "192.0.2.1"}}}));
  // Clients one after the other.
  for (int i = 0; i < 3; ++i) {
    const ControlCallResult again = call_control(path, {"echo", {std::to_string(i)}}, kTimeoutMs);
    ASSERT_EQ(again.error, ControlCallError::none);
    EXPECT_EQ(again.response.result["args"], Json::array({std::to_string(i)}));
  }
  server.stop();
  EXPECT_EQ(server.counters().requests.load(), 4U);
  EXPECT_EQ(server.counters().connections.load(), 4U);
}

TEST_F(ControlServerTest, HandlerErrorsPassThrough) {
  ControlServer server(path, fake_handler);
  std::string error;
  ASSERT_TRUE(server.start(error)) << error;

  ControlCallResult r = call_control(path, {"frobnicate", {}}, kTimeoutMs);
  ASSERT_EQ(r.error, ControlCallError::none);
  EXPECT_FALSE(r.response.ok);
  EXPECT_EQ(r.response.error, "unknown command 'frobnicate'");

  r = call_control(path, {"fail", {}}, kTimeoutMs);
  ASSERT_EQ(r.error, ControlCallError::none);
  EXPECT_FALSE(r.response.ok);
  EXPECT_EQ(r.response.error, "it failed");
  EXPECT_TRUE(r.response.result.is_null()) << "a failed request carries no result";

  r = call_control(path, {"throw", {}}, kTimeoutMs);
  ASSERT_EQ(r.error, ControlCallError::none);
  EXPECT_FALSE(r.response.ok);
  EXPECT_EQ(r.response.error, "internal error: boom");

  server.stop();
  EXPECT_EQ(server.counters().handler_errors.load(), 3U);
}

TEST_F(ControlServerTest, BadRequestsGetAnErrorLine) {
  ControlServer server(path, fake_handler);
  std::string error;
  ASSERT_TRUE(server.start(error)) << error;
  {
    RawClient c(path);
    ASSERT_TRUE(c.connected());
    c.send_all("stats\n");
    const ControlResponse r = parse_response_line(c.read_to_end());
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("not valid JSON"), std::string::npos) << r.error;
  }
  {
    // The line must end in '\n'; a half-closed connection without one is refused.
    RawClient c(path);
    ASSERT_TRUE(c.connected());
    c.send_all(R"({"command":"echo"})");
    c.shut_write();
    const ControlResponse r = parse_response_line(c.read_to_end());
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("newline"), std::string::npos) << r.error;
  }
  {
    // Connecting and leaving is no request at all (a health probe).
    RawClient c(path);
    ASSERT_TRUE(c.connected());
    c.shut_write();
    EXPECT_EQ(c.read_to_end(), "");
  }
  server.stop();
  EXPECT_EQ(server.counters().bad_requests.load(), 2U);
  EXPECT_EQ(server.counters().requests.load(), 0U);
}

TEST_F(ControlServerTest, OversizeRequestIsRejectedAndServingContinues) {
  ControlServer server(path, fake_handler);
  std::string error;
  ASSERT_TRUE(server.start(error)) << error;

  // Exactly the bound is still a request: pad a valid one with spaces.
  std::string exact = R"({"command":"echo","args":["big"]})";
  exact.insert(exact.size() - 1, std::string(kMaxControlRequestBytes - exact.size(), ' '));
  ASSERT_EQ(exact.size(), kMaxControlRequestBytes);
  {
    RawClient c(path);
    ASSERT_TRUE(c.connected());
    c.send_all(exact + "\n");
    const ControlResponse r = parse_response_line(c.read_to_end());
    EXPECT_TRUE(r.ok) << r.error;
  }
  {
    RawClient c(path);
    ASSERT_TRUE(c.connected());
    c.send_all(std::string(kMaxControlRequestBytes + 1, 'x'));
    const ControlResponse r = parse_response_line(c.read_to_end());
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("longer than 65536 bytes"), std::string::npos) << r.error;
  }
  const ControlCallResult after = call_control(path, {"echo", {"still here"}}, kTimeoutMs);
  ASSERT_EQ(after.error, ControlCallError::none) << to_string(after.error) << " " << after.detail;
  EXPECT_TRUE(after.response.ok);
  server.stop();
  EXPECT_EQ(server.counters().oversize.load(), 1U);
}

TEST_F(ControlServerTest, ASlowClientDoesNotBlockOthers) {
  ControlServer server(path, fake_handler);
  std::string error;
  ASSERT_TRUE(server.start(error)) << error;
  RawClient slow(path);
  ASSERT_TRUE(slow.connected());
  slow.send_all(R"({"command":"echo",)");  // half a request, and it waits
  const ControlCallResult r = call_control(path, {"echo", {"fast"}}, kTimeoutMs);
  ASSERT_EQ(r.error, ControlCallError::none);
  EXPECT_EQ(r.response.result["args"], Json::array({"fast"}));
  slow.send_all(R"("args":["slow"]})" "\n");
  const ControlResponse s = parse_response_line(slow.read_to_end());
  ASSERT_TRUE(s.ok) << s.error;
  EXPECT_EQ(s.result["args"], Json::array({"slow"}));
}

TEST_F(ControlServerTest, SilentClientIsDroppedWithAReason) {
  ControlServerOptions o;
  o.io_timeout_ms = 20;
  ControlServer server(path, fake_handler, o);
  std::string error;
  ASSERT_TRUE(server.start(error)) << error;
  RawClient c(path);
  ASSERT_TRUE(c.connected());
  // Blocks until the server gives up on the request; how long that takes is
  // not the point, that it answers and closes is.
  const ControlResponse r = parse_response_line(c.read_to_end());
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("no complete request line"), std::string::npos) << r.error;
  server.stop();
  EXPECT_EQ(server.counters().timeouts.load(), 1U);
}

TEST_F(ControlServerTest, SocketModeIs0660WhateverTheUmask) {
  ControlServer server(path, fake_handler);
  const mode_t old = ::umask(0);
  std::string error;
  const bool started = server.start(error);
  ::umask(old);
  ASSERT_TRUE(started) << error;
  struct stat st {};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660U);
}

TEST_F(ControlServerTest, StopRemovesTheSocket) {
  ControlServer server(path, fake_handler);
  std::string error;
  ASSERT_TRUE(server.start(error)) << error;
  server.stop();
  EXPECT_FALSE(server.running());
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(call_control(path, {"echo", {}}, kTimeoutMs).error, ControlCallError::no_socket);
  server.stop();  // idempotent
  // And it can start again on the same path.
  ASSERT_TRUE(server.start(error)) << error;
  EXPECT_EQ(call_control(path, {"echo", {}}, kTimeoutMs).error, ControlCallError::none);
}

TEST_F(ControlServerTest, StopLeavesAReplacedSocketAlone) {
  ControlServer server(path, fake_handler);
  std::string error;
  ASSERT_TRUE(server.start(error)) << error;
  // Someone removed ours and another daemon made its own at the path.
  ASSERT_EQ(::unlink(path.c_str()), 0);
  make_stale_socket(path);
  server.stop();
  EXPECT_TRUE(std::filesystem::is_socket(path));
}

TEST_F(ControlServerTest, StaleSocketFileIsReplaced) {
  make_stale_socket(path);
  ASSERT_TRUE(std::filesystem::is_socket(path));
  EXPECT_EQ(call_control(path, {"echo", {}}, kTimeoutMs).error, ControlCallError::not_listening);
  ControlServer server(path, fake_handler);
  std::string error;
  ASSERT_TRUE(server.start(error)) << error;
  const ControlCallResult r = call_control(path, {"echo", {}}, kTimeoutMs);
  ASSERT_EQ(r.error, ControlCallError::none);
  EXPECT_TRUE(r.response.ok);
}

TEST_F(ControlServerTest, LiveSocketIsNotTakenOver) {
  ControlServer first(path, fake_handler);
  std::string error;
  ASSERT_TRUE(first.start(error)) << error;
  ControlServer second(path, fake_handler);
  EXPECT_FALSE(second.start(error));
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("listening"), std::string::npos) << error;
  second.stop();  // must not remove the first one's socket
  const ControlCallResult r = call_control(path, {"echo", {}}, kTimeoutMs);
  EXPECT_EQ(r.error, ControlCallError::none) << "the first server must keep its socket";
}

TEST_F(ControlServerTest, NonSocketFileIsRefused) {
  {
    std::ofstream f(path);
    f << "precious\n";
  }
  ControlServer server(path, fake_handler);
  std::string error;
  EXPECT_FALSE(server.start(error));
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("not a socket"), std::string::npos) << error;
  std::ifstream f(path);
  std::string content;
  std::getline(f, content);
  EXPECT_EQ(content, "precious");
}

TEST_F(ControlServerTest, MissingDirectoryAndLongPathAreNamed) {
  const std::string in_missing = dir.file("no/such/dir/control.sock");
  ControlServer a(in_missing, fake_handler);
  std::string error;
  EXPECT_FALSE(a.start(error));
  EXPECT_NE(error.find(in_missing), std::string::npos) << error;

  const std::string long_path = "/tmp/" + std::string(sizeof(sockaddr_un::sun_path), 'x');
  ControlServer b(long_path, fake_handler);
  EXPECT_FALSE(b.start(error));
  EXPECT_NE(error.find(long_path), std::string::npos) << error;
  EXPECT_EQ(call_control(long_path, {"echo", {}}, kTimeoutMs).error, ControlCallError::bad_path);
}

TEST_F(ControlServerTest, ClientReportsTheUsualFailures) {
  EXPECT_EQ(call_control(path, {"echo", {}}, kTimeoutMs).error, ControlCallError::no_socket);
  EXPECT_EQ(call_control(dir.file("missing-dir/x.sock"), {"echo", {}}, kTimeoutMs).error,
            ControlCallError::no_socket);
  {
    // A peer that is not sigrelay: it answers with something that is not the protocol.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    const sockaddr_un a = unix_address(path);
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(fd, 1), 0);
    // The request fits in the socket buffer, so call_control() sends it before
    // anyone accepts; answer after accept().
    std::thread t([fd] {
      const int c = ::accept(fd, nullptr, nullptr);
      char buf[256];
      [[maybe_unused]] const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      const char reply[] = "HTTP/1.0 400 Bad Request\n";
      [[maybe_unused]] const ssize_t w = ::send(c, reply, sizeof reply - 1, MSG_NOSIGNAL);
      ::close(c);
    });
    const ControlCallResult r = call_control(path, {"echo", {}}, kTimeoutMs);
    t.join();
    ::close(fd);
    EXPECT_EQ(r.error, ControlCallError::bad_response);
    EXPECT_TRUE(r.connected);
  }
}

}  // namespace
}  // namespace sigrelay::control
