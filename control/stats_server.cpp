#include "control/stats_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <httplib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <string_view>
#include <system_error>
#include <thread>

namespace sigrelay::control {
namespace {

using Clock = std::chrono::steady_clock;

// Request line plus headers. Browsers and scrapers send well under 2 KiB;
// httplib limits a single line to 8 KiB (414 for the request line, 400 for a
// header) and this bounds the whole, so the server never buffers more.
constexpr std::size_t kMaxRequestBytes = 16 * 1024;
constexpr std::size_t kMaxAssetBytes = 8 * 1024 * 1024;
// Request bytes left unread (a refused POST body, an oversized request) are
// read and dropped before close: closing with unread data makes the kernel
// send RST, and the client may then lose the answer it was about to read.
constexpr std::size_t kMaxDrainBytes = 64 * 1024;
constexpr auto kMaxDrainTime = std::chrono::milliseconds(500);
constexpr int kListenBacklog = 64;
// accept() fails for lack of descriptors while the connection stays pending:
// wait a little instead of spinning on a listener that stays readable.
constexpr int kAcceptRetryMs = 100;

constexpr const char* kMetricsType = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kJsonType = "application/json";
constexpr const char* kTextType = "text/plain; charset=utf-8";
constexpr const char* kHtmlType = "text/html; charset=utf-8";

// Answers written straight to the socket, where httplib is not involved.
constexpr std::string_view kBusyReply =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 5\r\nRetry-After: 1\r\nConnection: close\r\n\r\nbusy\n";
constexpr std::string_view kTimeoutReply =
    "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 8\r\nConnection: close\r\n\r\ntimeout\n";

struct MimeType {
  std::string_view ext;
  const char* type;
};
constexpr std::array kMimeTypes{
    MimeType{"html", kHtmlType},
    MimeType{"htm", kHtmlType},
    MimeType{"css", "text/css; charset=utf-8"},
    MimeType{"js", "application/javascript; charset=utf-8"},
    MimeType{"mjs", "application/javascript; charset=utf-8"},
    MimeType{"json", kJsonType},
    MimeType{"map", kJsonType},
    MimeType{"png", "image/png"},
    MimeType{"svg", "image/svg+xml"},
    MimeType{"ico", "image/x-icon"},
    MimeType{"txt", kTextType},
    MimeType{"woff2", "font/woff2"},
};

std::string errno_text(int err) { return std::generic_category().message(err); }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto fold = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
           return fold(x) == fold(y);
         });
}

const char* mime_type(std::string_view rel) {
  const auto slash = rel.rfind('/');
  const auto name = slash == std::string_view::npos ? rel : rel.substr(slash + 1);
  const auto dot = name.rfind('.');
  if (dot == std::string_view::npos) return "application/octet-stream";
  const auto ext = name.substr(dot + 1);
  for (const auto& m : kMimeTypes) {
    if (iequals(m.ext, ext)) return m.type;
  }
  return "application/octet-stream";
}

// Maps a decoded request path to a path relative to the assets directory.
// Refuses what could name anything outside it or anything hidden: empty
// segments ("//etc"), segments starting with a dot (".", "..", ".git"),
// backslashes and control characters. Symlinks are checked later, on the
// resolved path.
bool asset_relative_path(std::string_view path, std::string& rel) {
  if (path.empty() || path.front() != '/') return false;
  rel.assign(path.substr(1));
  if (rel.empty() || rel.back() == '/') rel += "index.html";
  std::string_view rest = rel;
  for (;;) {
    const auto slash = rest.find('/');
    const auto segment = rest.substr(0, slash);
    if (segment.empty() || segment.front() == '.') return false;
    for (char c : segment) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f || c == '\\') return false;
    }
    if (slash == std::string_view::npos) return true;
    rest.remove_prefix(slash + 1);
  }
}

std::string real_path(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(path.c_str(), nullptr), &std::free);
  return resolved ? std::string(resolved.get()) : std::string();
}

enum class AssetResult : std::uint8_t { ok, missing, too_large };

// `root` is already a real path. The file's real path must stay under it, so
// a symlink that leads out of the directory is as absent as a missing file.
AssetResult read_asset(const std::string& root, const std::string& rel, std::string& out) {
  const std::string resolved = real_path(root + "/" + rel);
  const std::string prefix = root.back() == '/' ? root : root + "/";
  if (resolved.size() <= prefix.size() || resolved.compare(0, prefix.size(), prefix) != 0) {
    return AssetResult::missing;
  }
  // O_NONBLOCK: opening a FIFO someone left there must not hang the server.
  const int fd = ::open(resolved.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return AssetResult::missing;
  struct stat st {};
  AssetResult result = AssetResult::ok;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    result = AssetResult::missing;
  } else if (static_cast<std::uint64_t>(st.st_size) > kMaxAssetBytes) {
    result = AssetResult::too_large;
  } else {
    out.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < out.size()) {
      const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // shrank while read, or an I/O error: serve what was there
      got += static_cast<std::size_t>(n);
    }
    out.resize(got);
  }
  ::close(fd);
  return result;
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string fallback_page(const std::string& assets_dir) {
  const std::string where = assets_dir.empty()
      ? std::string("no dashboard directory is configured")
      : "the dashboard files were expected in <code>" + html_escape(assets_dir) +
            "</code>, but its <code>index.html</code> is missing or unreadable";
  return "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>sigrelay</title></head>\n"
         "<body><h1>sigrelay</h1>\n<p>No dashboard here: " + where + ".</p>\n"
         "<p>The data is still served: <a href=\"/metrics\">/metrics</a>, "
         "<a href=\"/stats.json\">/stats.json</a>, <a href=\"/health\">/health</a>.</p>\n"
         "</body></html>\n";
}

enum class Wait : std::uint8_t { ready, timed_out, stopped, failed };

// Waits for `events` on `fd` until `deadline`, or until `stop_fd` (an
// eventfd written once by stop()) becomes readable.
Wait wait_for(int fd, short events, int stop_fd, Clock::time_point deadline) {
  for (;;) {
    const auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) return Wait::timed_out;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    std::array<pollfd, 2> fds{pollfd{fd, events, 0}, pollfd{stop_fd, POLLIN, 0}};
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::min<std::int64_t>(ms, INT_MAX)));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Wait::failed;
    }
    if (fds[1].revents != 0) return Wait::stopped;
    // POLLERR and POLLHUP count as ready: the recv or send that follows reports them.
    if (fds[0].revents != 0) return Wait::ready;
  }
}

void send_best_effort(int sock, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(sock, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Half-closes, then reads and drops what the client still sends (see
// kMaxDrainBytes). Waits for more only when `may_wait` and some was pending.
void close_gracefully(int sock, int stop_fd, bool pending, bool may_wait) {
  ::shutdown(sock, SHUT_WR);
  const auto until = Clock::now() + kMaxDrainTime;
  std::array<char, 4096> scratch{};
  std::size_t drained = 0;
  while (drained < kMaxDrainBytes) {
    const ssize_t n = ::recv(sock, scratch.data(), scratch.size(), MSG_DONTWAIT);
    if (n > 0) {
      drained += static_cast<std::size_t>(n);
      pending = true;
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if ((errno != EAGAIN && errno != EWOULDBLOCK) || !pending || !may_wait) break;
    if (wait_for(sock, POLLIN, stop_fd, until) != Wait::ready) break;
  }
  ::close(sock);
}

void address_of(int sock, bool peer, std::string& ip, int& port) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  auto* sa = reinterpret_cast<sockaddr*>(&ss);
  if ((peer ? ::getpeername(sock, sa, &len) : ::getsockname(sock, sa, &len)) != 0) return;
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (ss.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
    if (::inet_ntop(AF_INET, &sin->sin_addr, text.data(), text.size()) == nullptr) return;
    port = ntohs(sin->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (::inet_ntop(AF_INET6, &sin6->sin6_addr, text.data(), text.size()) == nullptr) return;
    port = ntohs(sin6->sin6_port);
  } else {
    return;
  }
  ip = text.data();
}

// One connection as httplib sees it. Every wait is bounded by the
// connection's deadline and cut short by stop(); reading stops at
// kMaxRequestBytes, which httplib then sees as the end of the request.
class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(int sock, int stop_fd, Clock::time_point deadline)
      : sock_(sock), stop_fd_(stop_fd), deadline_(deadline) {}

  bool is_readable() const override { return pos_ < len_ || wait(POLLIN); }
  bool is_writable() const override { return wait(POLLOUT); }

  ssize_t read(char* ptr, std::size_t size) override {
    if (pos_ == len_) {
      if (received_ >= kMaxRequestBytes) return 0;
      const std::size_t want = std::min(buf_.size(), kMaxRequestBytes - received_);
      ssize_t n = -1;
      for (;;) {
        if (!wait(POLLIN)) return -1;
        n = ::recv(sock_, buf_.data(), want, MSG_DONTWAIT);
        if (n >= 0) break;
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) return -1;
      }
      received_ += static_cast<std::size_t>(n);
      pos_ = 0;
      len_ = static_cast<std::size_t>(n);
      if (n == 0) return 0;
    }
    const std::size_t k = std::min(size, len_ - pos_);
    std::memcpy(ptr, buf_.data() + pos_, k);
    pos_ += k;
    return static_cast<ssize_t>(k);
  }

  ssize_t write(const char* ptr, std::size_t size) override {
    std::size_t sent = 0;
    while (sent < size) {
      if (!wait(POLLOUT)) return -1;
      const ssize_t n = ::send(sock_, ptr + sent, size - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
        return -1;
      }
      sent += static_cast<std::size_t>(n);
      wrote_ = true;
    }
    return static_cast<ssize_t>(size);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { address_of(sock_, true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address_of(sock_, false, ip, port); }
  socket_t socket() const override { return sock_; }

  bool timed_out() const { return timed_out_; }
  bool wrote() const { return wrote_; }
  bool has_unread() const { return pos_ < len_; }

 private:
  bool wait(short events) const {
    const Wait w = wait_for(sock_, events, stop_fd_, deadline_);
    if (w == Wait::timed_out) timed_out_ = true;
    return w == Wait::ready;
  }

  int sock_;
  int stop_fd_;
  Clock::time_point deadline_;
  std::array<char, 4096> buf_{};
  std::size_t pos_ = 0;
  std::size_t len_ = 0;
  std::size_t received_ = 0;
  bool wrote_ = false;
  mutable bool timed_out_ = false;
};

// httplib's request parser and response writer without its sockets, threads
// and keep-alive loop: process_request() is the part we want, and it is
// protected, hence the subclass.
class HttpExchange final : public httplib::Server {
 public:
  void answer_one(httplib::Stream& strm) {
    bool connection_closed = true;
    process_request(strm, /*close_connection=*/true, connection_closed, [](httplib::Request&) {});
  }
};

}  // namespace

struct StatsServer::Impl {
  Impl(Endpoint l, std::string dir, StatsProviders p, StatsServerOptions o)
      : listen(std::move(l)), assets_dir(std::move(dir)), providers(std::move(p)), options(o) {
    options.max_queued_connections = std::max<std::size_t>(options.max_queued_connections, 1);
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      route(req, res);
      return httplib::Server::HandlerResponse::Handled;
    });
    // route() catches everything; this keeps httplib from putting an
    // exception's text in a header should anything else throw.
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
      res.status = 500;
      res.set_content("internal error\n", kTextType);
    });
    http.set_logger([this](const httplib::Request&, const httplib::Response& res) {
      if (res.status >= 400 && res.status < 500) rejected.fetch_add(1, std::memory_order_relaxed);
    });
    http.set_default_headers({{"X-Content-Type-Options", "nosniff"}});
    http.set_payload_max_length(kMaxRequestBytes);
  }

  void accept_loop();
  void answer_loop();
  void enqueue(int sock);
  void serve(int sock);
  void route(const httplib::Request& req, httplib::Response& res);
  void serve_asset(const std::string& path, httplib::Response& res);
  void join_threads();

  Endpoint listen;
  std::string assets_dir;
  StatsProviders providers;
  StatsServerOptions options;
  std::string assets_root;  // real path of assets_dir, empty when it does not resolve

  HttpExchange http;
  int listen_fd = -1;
  int stop_fd = -1;
  std::atomic<std::uint16_t> bound_port{0};
  bool started = false;
  bool stopped = false;

  // Accepted connections waiting for the answering thread.
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<int> queue;
  bool closing = false;

  std::thread acceptor;
  std::thread answerer;

  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> rejected{0};
  std::atomic<std::uint64_t> timeouts{0};
  std::atomic<std::uint64_t> shed{0};
  std::atomic<std::uint64_t> provider_failures{0};
};

void StatsServer::Impl::accept_loop() {
  for (;;) {
    std::array<pollfd, 2> fds{pollfd{listen_fd, POLLIN, 0}, pollfd{stop_fd, POLLIN, 0}};
    const int n = ::poll(fds.data(), fds.size(), -1);
    if (n < 0 && errno != EINTR) {
      ::poll(&fds[1], 1, kAcceptRetryMs);
      continue;
    }
    if (fds[1].revents != 0) return;
    if (n <= 0 || fds[0].revents == 0) continue;
    const int sock = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (sock < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        ::poll(&fds[1], 1, kAcceptRetryMs);
      }
      continue;  // otherwise that one connection failed (reset, aborted): take the next
    }
    connections.fetch_add(1, std::memory_order_relaxed);
    enqueue(sock);
  }
}

void StatsServer::Impl::enqueue(int sock) {
  bool queued = false;
  bool stopping = false;
  {
    const std::lock_guard lock(mutex);
    stopping = closing;
    if (!closing && queue.size() < options.max_queued_connections) {
      try {
        queue.push_back(sock);
        queued = true;
      } catch (const std::bad_alloc&) {
        // shed below, like a full queue
      }
    }
  }
  if (queued) {
    wake.notify_one();
    return;
  }
  if (!stopping) {
    shed.fetch_add(1, std::memory_order_relaxed);
    send_best_effort(sock, kBusyReply);
    close_gracefully(sock, stop_fd, false, /*may_wait=*/false);  // the acceptor must not block
    return;
  }
  ::close(sock);
}

void StatsServer::Impl::answer_loop() {
  for (;;) {
    int sock = -1;
    {
      std::unique_lock lock(mutex);
      wake.wait(lock, [this] { return closing || !queue.empty(); });
      if (closing) return;  // join_threads() closes what is left in the queue
      sock = queue.front();
      queue.pop_front();
    }
    serve(sock);
  }
}

void StatsServer::Impl::serve(int sock) {
  ConnectionStream strm(sock, stop_fd, Clock::now() + options.connection_deadline);
  try {
    http.answer_one(strm);
  } catch (...) {
    // httplib failed outside our handlers (allocation): drop the connection.
  }
  if (strm.timed_out()) {
    timeouts.fetch_add(1, std::memory_order_relaxed);
    if (!strm.wrote()) send_best_effort(sock, kTimeoutReply);
  }
  close_gracefully(sock, stop_fd, strm.has_unread(), /*may_wait=*/true);
}

void StatsServer::Impl::route(const httplib::Request& req, httplib::Response& res) {
  if (req.method != "GET" && req.method != "HEAD") {
    res.status = 405;
    res.set_header("Allow", "GET, HEAD");
    res.set_content("method not allowed\n", kTextType);
    return;
  }
  const auto not_found = [&res] {
    res.status = 404;
    res.set_content("not found\n", kTextType);
  };
  const auto dynamic = [&res](int status, std::string body, const char* type) {
    res.status = status;
    res.set_content(std::move(body), type);
    res.set_header("Cache-Control", "no-store");
  };
  try {
    if (req.path == "/metrics") {
      if (!providers.metrics) return not_found();
      dynamic(200, providers.metrics(), kMetricsType);
    } else if (req.path == "/stats.json") {
      if (!providers.stats_json) return not_found();
      dynamic(200, providers.stats_json(), kJsonType);
    } else if (req.path == "/health") {
      if (!providers.health) return not_found();
      auto [healthy, detail] = providers.health();
      dynamic(healthy ? 200 : 503, std::move(detail), kJsonType);
    } else {
      serve_asset(req.path, res);
    }
  } catch (...) {
    provider_failures.fetch_add(1, std::memory_order_relaxed);
    dynamic(500, "internal error\n", kTextType);
  }
}

void StatsServer::Impl::serve_asset(const std::string& path, httplib::Response& res) {
  std::string rel;
  if (!asset_relative_path(path, rel)) {
    res.status = 404;
    res.set_content("not found\n", kTextType);
    return;
  }
  std::string body;
  const AssetResult r = assets_root.empty() ? AssetResult::missing : read_asset(assets_root, rel, body);
  if (r == AssetResult::ok) {
    res.status = 200;
    res.set_content(std::move(body), mime_type(rel));
    // The dashboard changes with the daemon's version: revalidate, never trust a stale copy.
    res.set_header("Cache-Control", "no-cache");
  } else if (r == AssetResult::too_large) {
    res.status = 500;
    res.set_content("file too large to serve\n", kTextType);
  } else if (rel == "index.html" && options.fallback_page) {
    res.status = 404;
    res.set_content(fallback_page(assets_dir), kHtmlType);
    res.set_header("Cache-Control", "no-store");
  } else {
    res.status = 404;
    res.set_content("not found\n", kTextType);
  }
}

void StatsServer::Impl::join_threads() {
  if (stop_fd >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(stop_fd, &one, sizeof one);
  }
  {
    const std::lock_guard lock(mutex);
    closing = true;
  }
  wake.notify_all();
  if (acceptor.joinable()) acceptor.join();
  if (answerer.joinable()) answerer.join();
  for (int sock : queue) ::close(sock);
  queue.clear();
}

StatsServer::StatsServer(Endpoint listen, std::string assets_dir, StatsProviders providers,
                         StatsServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(listen), std::move(assets_dir), std::move(providers), options)) {}

StatsServer::~StatsServer() { stop(); }

bool StatsServer::start(std::string& error) {
  Impl& s = *impl_;
  const std::string where = "stats.http " + s.listen.text + ": ";
  if (s.started || s.stopped) {
    error = where + "already started";
    return false;
  }
  const auto fail = [&](const std::string& what, int err) {
    error = where + what + (err != 0 ? ": " + errno_text(err) : std::string());
    if (s.listen_fd >= 0) ::close(s.listen_fd);
    if (s.stop_fd >= 0) ::close(s.stop_fd);
    s.listen_fd = -1;
    s.stop_fd = -1;
    return false;
  };
  if (s.listen.len == 0) return fail("no address to listen on", 0);
  s.stop_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (s.stop_fd < 0) return fail("eventfd", errno);
  s.listen_fd = ::socket(s.listen.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s.listen_fd < 0) return fail("cannot create a socket", errno);
  // SO_REUSEADDR lets a restart bind while old connections sit in TIME_WAIT,
  // yet still refuses a port another socket listens on. (httplib's own
  // listener sets SO_REUSEPORT, which would let two daemons share the port.)
  const int one = 1;
  ::setsockopt(s.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(s.listen_fd, reinterpret_cast<const sockaddr*>(&s.listen.addr), s.listen.len) != 0) {
    return fail("cannot bind", errno);
  }
  if (::listen(s.listen_fd, kListenBacklog) != 0) return fail("cannot listen", errno);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (::getsockname(s.listen_fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
    return fail("getsockname", errno);
  }
  s.bound_port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port
                                                   : reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
  s.assets_root = s.assets_dir.empty() ? std::string() : real_path(s.assets_dir);
  s.closing = false;
  try {
    s.answerer = std::thread([&s] { s.answer_loop(); });
    s.acceptor = std::thread([&s] { s.accept_loop(); });
  } catch (const std::system_error& e) {
    s.join_threads();
    s.bound_port = 0;
    return fail(std::string("cannot start threads: ") + e.what(), 0);
  }
  s.started = true;
  return true;
}

void StatsServer::stop() {
  Impl& s = *impl_;
  if (!s.started || s.stopped) return;
  s.stopped = true;
  s.join_threads();
  ::close(s.listen_fd);
  ::close(s.stop_fd);
  s.listen_fd = -1;
  s.stop_fd = -1;
}

std::uint16_t StatsServer::port() const { return impl_->bound_port.load(std::memory_order_relaxed); }

StatsServerCounters StatsServer::counters() const {
  const Impl& s = *impl_;
  StatsServerCounters c;
  c.connections = s.connections.load(std::memory_order_relaxed);
  c.rejected = s.rejected.load(std::memory_order_relaxed);
  c.timeouts = s.timeouts.load(std::memory_order_relaxed);
  c.shed = s.shed.load(std::memory_order_relaxed);
  c.provider_failures = s.provider_failures.load(std::memory_order_relaxed);
  return c;
}

}  // namespace sigrelay::control
