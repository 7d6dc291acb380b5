// The stats HTTP server over real loopback sockets, driven by a raw HTTP/1.1
// client written here so that requests can be as malformed as an attacker
// likes. Expectations come from RFC 9110 (methods, status codes: 405 with
// Allow §15.5.6, HEAD §9.3.2, 414 §15.5.15), RFC 9112 (message framing,
// Content-Length §6.3, "Connection: close" §9.6), RFC 3986 §2.1 (percent
// encoding: %2e is '.') and the Prometheus text exposition format 0.0.4.
#include "control/stats_server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sigrelay::control {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kMetrics =
    "# HELP sigrelay_upstream_up Upstream connections that are up.\n"
    "# TYPE sigrelay_upstream_up gauge\n"
    "sigrelay_upstream_up 2\n";
constexpr std::string_view kStatsJson = R"({"calls":{"total":3}})";
constexpr std::string_view kHealthyDetail = R"({"status":"ok","alarms":[]})";
constexpr std::string_view kUnhealthyDetail = R"({"status":"down","alarms":["no upstream connection"]})";

Endpoint loopback(std::uint16_t port) {
  Endpoint ep;
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::memcpy(&ep.addr, &sin, sizeof sin);
  ep.len = sizeof sin;
  ep.text = "127.0.0.1:" + std::to_string(port);
  return ep;
}

// A connected client socket. The receive timeout only keeps a broken server
// from hanging the test; no result depends on it.
int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  timeval guard{};
  guard.tv_sec = 60;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof guard);
  const Endpoint ep = loopback(port);
  EXPECT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&ep.addr), ep.len), 0) << std::strerror(errno);
  return fd;
}

void send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    ASSERT_GT(n, 0) << std::strerror(errno);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Everything until the server closes (every reply says Connection: close).
std::string read_to_eof(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;

  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

Reply parse_reply(const std::string& raw) {
  Reply r;
  const auto end = raw.find("\r\n\r\n");
  if (raw.compare(0, 9, "HTTP/1.1 ") != 0 || end == std::string::npos) {
    ADD_FAILURE() << "not an HTTP/1.1 response: " << raw.substr(0, 200);
    return r;
  }
  r.status = std::atoi(raw.c_str() + 9);
  std::size_t pos = raw.find("\r\n") + 2;
  while (pos < end) {
    const auto eol = raw.find("\r\n", pos);
    const std::string line = raw.substr(pos, eol - pos);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers[name] = value;
    }
    pos = eol + 2;
  }
  r.body = raw.substr(end + 4);
  return r;
}

Reply http_exchange(std::uint16_t port, std::string_view request) {
  const int fd = connect_to(port);
  send_all(fd, request);
  const std::string raw = read_to_eof(fd);
  ::close(fd);
  return parse_reply(raw);
}

std::string get_request(std::string_view method, std::string_view target) {
  return std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
}

Reply get(std::uint16_t port, std::string_view target) { return http_exchange(port, get_request("GET", target)); }

void write_file(const fs::path& p, std::string_view content) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  ASSERT_TRUE(out.good()) << p;
}

// PNG signature (PNG spec §5.2) followed by bytes that include NUL and CR LF:
// binary content must come through untouched.
const std::string kPng = std::string("\x89PNG\r\n\x1a\n", 8) + std::string("\0\r\n\xff", 4);

class StatsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "sigrelay-stats-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    assets_ = root_ / "assets";
    write_file(assets_ / "index.html", "<!doctype html><title>dash</title>");
    write_file(assets_ / "app.css", "body { color: black; }");
    write_file(assets_ / "app.js", "console.log('dash');");
    write_file(assets_ / "img" / "logo.png", kPng);
    write_file(assets_ / "icon.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
    write_file(assets_ / "data.bin", "raw");
    write_file(assets_ / ".hidden", "secret");
    write_file(root_ / "outside.txt", "outside the assets directory");
    fs::create_directory_symlink("/etc", assets_ / "etc");
    fs::create_symlink("/etc/passwd", assets_ / "passwd");
    fs::create_symlink(root_ / "outside.txt", assets_ / "outside.txt");
    fs::create_symlink("app.css", assets_ / "alias.css");
  }

  void TearDown() override {
    server_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);  // removes the symlinks, never what they point to
  }

  StatsProviders providers() {
    StatsProviders p;
    p.metrics = [] { return std::string(kMetrics); };
    p.stats_json = [] { return std::string(kStatsJson); };
    p.health = [this] {
      const bool up = healthy_.load();
      return std::make_pair(up, std::string(up ? kHealthyDetail : kUnhealthyDetail));
    };
    return p;
  }

  void start(StatsServerOptions options = {}, std::string assets = {}, StatsProviders p = {}) {
    if (assets.empty()) assets = assets_.string();
    if (!p.metrics && !p.stats_json && !p.health) p = providers();
    server_ = std::make_unique<StatsServer>(loopback(0), assets, std::move(p), options);
    std::string error;
    ASSERT_TRUE(server_->start(error)) << error;
    ASSERT_NE(server_->port(), 0);
  }

  std::uint16_t port() const { return server_->port(); }

  fs::path root_;
  fs::path assets_;
  std::atomic<bool> healthy_{false};
  std::unique_ptr<StatsServer> server_;
};

void expect_framed(const Reply& r) {
  EXPECT_EQ(r.header("content-length"), std::to_string(r.body.size()));
  EXPECT_EQ(r.header("connection"), "close");
  EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
}

TEST_F(StatsServerTest, MetricsIsPrometheusText) {
  start();
  const Reply r = get(port(), "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.header("cache-control"), "no-store");
  EXPECT_EQ(r.body, kMetrics);
  expect_framed(r);
}

TEST_F(StatsServerTest, StatsJsonIsJson) {
  start();
  const Reply r = get(port(), "/stats.json");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("cache-control"), "no-store");
  EXPECT_EQ(r.body, kStatsJson);
  expect_framed(r);
}

TEST_F(StatsServerTest, HealthFollowsTheProvider) {
  start();
  Reply r = get(port(), "/health");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("cache-control"), "no-store");
  EXPECT_EQ(r.body, kUnhealthyDetail);
  expect_framed(r);

  healthy_ = true;
  r = get(port(), "/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, kHealthyDetail);

  healthy_ = false;
  EXPECT_EQ(get(port(), "/health").status, 503);
}

TEST_F(StatsServerTest, QueryStringDoesNotChangeTheResource) {
  start();
  const Reply r = get(port(), "/metrics?name%5B%5D=sigrelay_upstream_up");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, kMetrics);
}

// RFC 9110 §9.3.2: the same header fields as GET, no content.
TEST_F(StatsServerTest, HeadSendsHeadersWithoutContent) {
  start();
  Reply r = http_exchange(port(), get_request("HEAD", "/metrics"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.header("content-length"), std::to_string(kMetrics.size()));
  EXPECT_EQ(r.body, "");

  r = http_exchange(port(), get_request("HEAD", "/app.css"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/css; charset=utf-8");
  EXPECT_EQ(r.header("content-length"), std::to_string(std::string_view("body { color: black; }").size()));
  EXPECT_EQ(r.body, "");
}

// RFC 9110 §15.5.6: 405 carries Allow.
TEST_F(StatsServerTest, MethodsOtherThanGetAndHeadAre405) {
  start();
  const Reply post = http_exchange(port(),
      "POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
      "Content-Length: 11\r\n\r\nhello=world");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.header("allow"), "GET, HEAD");
  expect_framed(post);
  for (const char* method : {"PUT", "DELETE", "PATCH", "OPTIONS"}) {
    const Reply r = http_exchange(port(), get_request(method, "/index.html"));
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(r.header("allow"), "GET, HEAD") << method;
  }
  // Not a method at all: refused, not served.
  const Reply bogus = http_exchange(port(), get_request("BREW", "/metrics"));
  EXPECT_GE(bogus.status, 400);
  EXPECT_LT(bogus.status, 500);
  EXPECT_EQ(get(port(), "/metrics").status, 200);
  EXPECT_GE(server_->counters().rejected, 6u);
}

TEST_F(StatsServerTest, UnknownPathIs404) {
  start();
  const Reply r = get(port(), "/nope.html");
  EXPECT_EQ(r.status, 404);
  expect_framed(r);
}

TEST_F(StatsServerTest, ServesAssetsWithTheirContentTypes) {
  start();
  struct Case {
    const char* target;
    const char* type;
    std::string body;
  };
  const std::vector<Case> cases{
      {"/", "text/html; charset=utf-8", "<!doctype html><title>dash</title>"},
      {"/index.html", "text/html; charset=utf-8", "<!doctype html><title>dash</title>"},
      {"/app.css", "text/css; charset=utf-8", "body { color: black; }"},
      {"/app.js", "application/javascript; charset=utf-8", "console.log('dash');"},
      {"/img/logo.png", "image/png", kPng},
      {"/icon.svg", "image/svg+xml", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>"},
      {"/data.bin", "application/octet-stream", "raw"},
      {"/alias.css", "text/css; charset=utf-8", "body { color: black; }"},  // symlink inside the directory
  };
  for (const auto& c : cases) {
    const Reply r = get(port(), c.target);
    EXPECT_EQ(r.status, 200) << c.target;
    EXPECT_EQ(r.header("content-type"), c.type) << c.target;
    EXPECT_EQ(r.body, c.body) << c.target;
    expect_framed(r);
  }
}

TEST_F(StatsServerTest, NothingOutsideTheAssetsDirectoryIsServed) {
  start();
  const std::vector<std::string> targets{
      "/../etc/passwd",
      "/../../../../../../etc/passwd",
      "/%2e%2e/",
      "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
      "/..%2f..%2f..%2fetc%2fpasswd",
      "/%2E%2E/outside.txt",
      "/img/../../outside.txt",
      "//etc/passwd",
      "/%2fetc%2fpasswd",
      "/etc/passwd",       // assets/etc -> /etc
      "/passwd",           // assets/passwd -> /etc/passwd
      "/outside.txt",      // assets/outside.txt -> ../outside.txt
      "/.hidden",
      "/img/./logo.png",
      "/index.html%00.png",
      "/img\\..\\..\\outside.txt",
      "http://127.0.0.1/../etc/passwd",
  };
  for (const auto& t : targets) {
    const Reply r = get(port(), t);
    EXPECT_EQ(r.status, 404) << t;
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << t;
    EXPECT_EQ(r.body.find("outside the assets"), std::string::npos) << t;
    EXPECT_EQ(r.body.find("secret"), std::string::npos) << t;
  }
  EXPECT_EQ(get(port(), "/img/logo.png").status, 200);
}

TEST_F(StatsServerTest, FallbackPageNamesWhereTheAssetsWereExpected) {
  const std::string missing = (root_ / "no<such>dir").string();
  start({}, missing);
  Reply r = get(port(), "/");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(r.body.find((root_ / "no&lt;such&gt;dir").string()), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("<such>"), std::string::npos) << "the path must be escaped";
  EXPECT_NE(r.body.find("/metrics"), std::string::npos);
  expect_framed(r);

  r = get(port(), "/app.css");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(get(port(), "/metrics").status, 200);
}

TEST_F(StatsServerTest, FallbackPageCanBeTurnedOff) {
  StatsServerOptions options;
  options.fallback_page = false;
  const std::string missing = (root_ / "missing").string();
  start(options, missing);
  const Reply r = get(port(), "/");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body.find(missing), std::string::npos);
}

// Limits from RFC 9110 §15.5.15 (414) and §15.5.1 (400): the answer is a 4xx,
// and the server answers the next client normally.
TEST_F(StatsServerTest, OversizedRequestsAreRefusedAndServingGoesOn) {
  start();
  const std::string long_target = "/" + std::string(20000, 'a');
  Reply r = get(port(), long_target);
  EXPECT_GE(r.status, 400);
  EXPECT_LT(r.status, 500);

  r = http_exchange(port(), "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(20000, 'b') + "\r\n\r\n");
  EXPECT_GE(r.status, 400);
  EXPECT_LT(r.status, 500);

  std::string many = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (int i = 0; i < 2000; ++i) many += "X-H" + std::to_string(i) + ": value\r\n";
  r = http_exchange(port(), many + "\r\n");
  EXPECT_GE(r.status, 400);
  EXPECT_LT(r.status, 500);

  r = get(port(), "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, kMetrics);
  EXPECT_EQ(server_->counters().rejected, 3u);
}

TEST_F(StatsServerTest, ProviderThatThrowsGives500AndServingGoesOn) {
  StatsProviders p;
  p.metrics = []() -> std::string { throw std::runtime_error("registry gone"); };
  p.stats_json = []() -> std::string { throw 42; };
  p.health = [] { return std::make_pair(true, std::string(kHealthyDetail)); };
  start({}, {}, std::move(p));
  Reply r = get(port(), "/metrics");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("registry gone"), std::string::npos) << "no internals in replies";
  for (const auto& [name, value] : r.headers) EXPECT_EQ(value.find("registry gone"), std::string::npos) << name;
  EXPECT_EQ(get(port(), "/stats.json").status, 500);
  EXPECT_EQ(get(port(), "/health").status, 200);
  EXPECT_EQ(server_->counters().provider_failures, 2u);
}

TEST_F(StatsServerTest, MissingProviderIs404) {
  StatsProviders p;
  p.health = [] { return std::make_pair(false, std::string(kUnhealthyDetail)); };
  start({}, {}, std::move(p));
  EXPECT_EQ(get(port(), "/metrics").status, 404);
  EXPECT_EQ(get(port(), "/stats.json").status, 404);
  EXPECT_EQ(get(port(), "/health").status, 503);
}

TEST_F(StatsServerTest, BindingAnAddressInUseFailsWithTheAddress) {
  start();
  StatsServer second(loopback(port()), assets_.string(), providers());
  std::string error;
  EXPECT_FALSE(second.start(error));
  EXPECT_NE(error.find("127.0.0.1:" + std::to_string(port())), std::string::npos) << error;
  EXPECT_NE(error.find("in use"), std::string::npos) << error;
  EXPECT_EQ(second.port(), 0);
  EXPECT_EQ(get(port(), "/metrics").status, 200);  // the first one is untouched
}

TEST_F(StatsServerTest, StartsOnlyOnce) {
  start();
  std::string error;
  EXPECT_FALSE(server_->start(error));
  EXPECT_NE(error.find("already started"), std::string::npos) << error;
}

TEST_F(StatsServerTest, StopBeforeStartAndTwiceIsHarmless) {
  StatsServer idle(loopback(0), assets_.string(), providers());
  idle.stop();
  start();
  server_->stop();
  server_->stop();
}

// A client that sends half a request holds the answering thread; stop() must
// not wait for it, nor for connections still queued. The deadline is an hour,
// so only stop() can end them.
TEST_F(StatsServerTest, StopIsPromptWhateverClientsDo) {
  StatsServerOptions options;
  options.connection_deadline = std::chrono::hours(1);
  start(options);
  const int stalled = connect_to(port());
  send_all(stalled, "GET /metr");
  const int idle = connect_to(port());
  server_->stop();
  // Both connections are closed by the server; no reply for either.
  EXPECT_EQ(read_to_eof(stalled), "");
  EXPECT_EQ(read_to_eof(idle), "");
  ::close(stalled);
  ::close(idle);
}

// A client that stalls mid-request is cut off at its deadline with 408, and
// the client behind it is answered. The listen queue is FIFO, so the slow
// client is taken first.
TEST_F(StatsServerTest, SlowClientIsCutOffAndTheNextIsAnswered) {
  StatsServerOptions options;
  options.connection_deadline = std::chrono::milliseconds(200);
  start(options);
  const int slow = connect_to(port());
  send_all(slow, "GET /metrics HTTP/1.1\r\nHost: 127.");
  const Reply next = get(port(), "/metrics");
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(next.body, kMetrics);
  const Reply cut = parse_reply(read_to_eof(slow));
  ::close(slow);
  EXPECT_EQ(cut.status, 408);
  EXPECT_EQ(server_->counters().timeouts, 1u);
}

// The answering thread is held inside a provider until the test lets it go,
// which the test knows from the provider itself, not from a delay. With room
// for one connection in the queue, the accepting thread (which takes
// connections in the order they were made) queues the next and answers the
// two after it 503 at once, without reading them. Once released, the held
// and the queued ones are answered normally.
TEST_F(StatsServerTest, FullQueueSheds503) {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  // Whatever happens below, the provider returns and the server stops
  // before the locals it uses go away.
  struct LetGo {
    std::promise<void>& release;
    StatsServer*& server;
    bool done = false;
    ~LetGo() {
      if (!done) release.set_value();
      if (server != nullptr) server->stop();
    }
  };
  StatsServer* running = nullptr;
  LetGo let_go{release, running};
  std::once_flag first;
  StatsProviders p = providers();
  p.metrics = [&] {
    std::call_once(first, [&] { entered.set_value(); });
    released.wait();
    return std::string(kMetrics);
  };
  StatsServerOptions options;
  options.max_queued_connections = 1;
  start(options, {}, std::move(p));
  running = server_.get();

  const int held = connect_to(port());
  send_all(held, get_request("GET", "/metrics"));
  entered.get_future().wait();
  const int queued = connect_to(port());
  send_all(queued, get_request("GET", "/metrics"));
  const int c = connect_to(port());
  const int d = connect_to(port());
  for (int fd : {c, d}) {
    const Reply r = parse_reply(read_to_eof(fd));
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.header("retry-after"), "1");
    EXPECT_EQ(r.header("content-length"), std::to_string(r.body.size()));
    ::close(fd);
  }
  EXPECT_EQ(server_->counters().shed, 2u);

  release.set_value();
  let_go.done = true;
  for (int fd : {held, queued}) {
    const Reply r = parse_reply(read_to_eof(fd));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, kMetrics);
    ::close(fd);
  }
  EXPECT_EQ(server_->counters().connections, 4u);
}

TEST_F(StatsServerTest, ManyRequestsInARow) {
  start();
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(get(port(), i % 2 ? "/metrics" : "/app.js").status, 200) << i;
  }
  const StatsServerCounters c = server_->counters();
  EXPECT_EQ(c.connections, 200u);
  EXPECT_EQ(c.rejected + c.timeouts + c.shed + c.provider_failures, 0u);
}

}  // namespace
}  // namespace sigrelay::control
