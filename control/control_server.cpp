#include "control/control_server.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <utility>

namespace sigrelay::control {
namespace {

using Clock = std::chrono::steady_clock;

constexpr mode_t kSocketMode = 0660;
constexpr int kListenBacklog = 16;
constexpr std::size_t kReadChunk = 16 * 1024;
// After accept() fails for lack of descriptors or memory the listener stays
// readable; pausing it keeps the thread from spinning until a client closes.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);

std::string errno_text(int err) { return std::strerror(err); }

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

int poll_timeout_ms(Clock::time_point now, Clock::time_point deadline) {
  if (deadline <= now) return 0;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
  return static_cast<int>(std::min<long long>(ms, 1 << 30));
}

}  // namespace

struct ControlServer::Client {
  int fd = -1;
  std::string in;
  std::size_t scanned = 0;  // bytes of `in` already searched for '\n'
  std::string out;
  std::size_t sent = 0;
  bool writing = false;
  Clock::time_point deadline;
};

ControlServer::ControlServer(std::string path, Handler handler, ControlServerOptions options)
    : path_(std::move(path)), handler_(std::move(handler)), options_(options) {}

ControlServer::~ControlServer() { stop(); }

bool ControlServer::start(std::string& error) {
  if (running()) {
    error = "control socket " + path_ + ": already started";
    return false;
  }
  if (!create_listener(error)) return false;
  thread_ = std::thread([this] { run(); });
  return true;
}

bool ControlServer::create_listener(std::string& error) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.empty() || path_.size() >= sizeof addr.sun_path) {
    error = "control socket path \"" + path_ + "\" is empty or longer than " +
            std::to_string(sizeof addr.sun_path - 1) + " bytes";
    return false;
  }
  std::memcpy(addr.sun_path, path_.data(), path_.size());

  // Only a socket nobody accepts on may be replaced: a live one belongs to a
  // running daemon, and any other file is somebody's data.
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      error = "control socket " + path_ + ": the path exists and is not a socket; not replacing it";
      return false;
    }
    const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (probe < 0) {
      error = "control socket " + path_ + ": socket: " + errno_text(errno);
      return false;
    }
    const int rc = ::connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    const int err = errno;
    ::close(probe);
    // EAGAIN: a listener whose backlog is full is still a listener.
    if (rc == 0 || err == EAGAIN) {
      error = "control socket " + path_ + ": another process is listening on it (is sigrelay already running?)";
      return false;
    }
    if (err != ECONNREFUSED) {
      error = "control socket " + path_ + ": cannot check the existing socket: " + errno_text(err);
      return false;
    }
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
      error = "control socket " + path_ + ": cannot remove the stale socket: " + errno_text(errno);
      return false;
    }
  } else if (errno != ENOENT) {
    error = "control socket " + path_ + ": " + errno_text(errno);
    return false;
  }

  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) {
    error = "control socket " + path_ + ": socket: " + errno_text(errno);
    return false;
  }
  // bind() never replaces a file, so a path taken since the check fails here.
  if (::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    close_fd(listen_fd_);
    error = "control socket " + path_ + ": cannot create it: " + errno_text(err) +
            (err == ENOENT ? " (does the directory exist?)" : "");
    return false;
  }
  // The file is created with the umask's mode; nobody can connect before
  // listen(), so setting the mode in between leaves no window.
  if (::chmod(path_.c_str(), kSocketMode) != 0 || ::lstat(path_.c_str(), &st) != 0) {
    const int err = errno;
    ::unlink(path_.c_str());
    close_fd(listen_fd_);
    error = "control socket " + path_ + ": cannot set its mode: " + errno_text(err);
    return false;
  }
  socket_dev_ = st.st_dev;
  socket_ino_ = st.st_ino;
  if (::listen(listen_fd_, kListenBacklog) != 0) {
    const int err = errno;
    ::unlink(path_.c_str());
    close_fd(listen_fd_);
    error = "control socket " + path_ + ": listen: " + errno_text(err);
    return false;
  }
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    const int err = errno;
    ::unlink(path_.c_str());
    close_fd(listen_fd_);
    error = "control socket " + path_ + ": eventfd: " + errno_text(err);
    return false;
  }
  return true;
}

void ControlServer::stop() {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    // The counter cannot overflow from one write; a failed write would mean a
    // closed descriptor, which only stop() does, after the join.
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  if (listen_fd_ >= 0) {
    // A later daemon may have replaced the file (after ours went stale):
    // remove only the one this server created.
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == socket_dev_ && st.st_ino == socket_ino_) {
      ::unlink(path_.c_str());
    }
  }
  close_fd(listen_fd_);
  close_fd(wake_fd_);
}

void ControlServer::run() {
  std::vector<Client> clients;
  std::vector<pollfd> fds;
  Clock::time_point accept_paused_until{};
  for (;;) {
    const Clock::time_point now = Clock::now();
    const bool accepting = clients.size() < options_.max_clients && now >= accept_paused_until;
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({accepting ? listen_fd_ : -1, POLLIN, 0});  // poll() skips negative descriptors
    Clock::time_point wake_at = Clock::time_point::max();
    if (!accepting && clients.size() < options_.max_clients) wake_at = accept_paused_until;
    for (const Client& c : clients) {
      fds.push_back({c.fd, static_cast<short>(c.writing ? POLLOUT : POLLIN), 0});
      wake_at = std::min(wake_at, c.deadline);
    }
    const int timeout = wake_at == Clock::time_point::max() ? -1 : poll_timeout_ms(now, wake_at);
    const int n = ::poll(fds.data(), fds.size(), timeout);
    if (n < 0) continue;  // EINTR, or ENOMEM that may pass: try again
    if (fds[0].revents != 0) break;

    for (std::size_t i = 0; i < clients.size(); ++i) {
      Client& c = clients[i];
      const short rev = fds[i + 2].revents;
      if (rev == 0) continue;
      if (c.writing) {
        on_writable(c);
      } else {
        on_readable(c);
      }
    }
    const Clock::time_point after = Clock::now();
    for (Client& c : clients) {
      if (c.fd < 0 || after < c.deadline) continue;
      counters_.timeouts.fetch_add(1, std::memory_order_relaxed);
      if (!c.writing) {
        // One non-blocking attempt to say why; the client may be gone.
        const std::string line =
            encode_error("no complete request line within " + std::to_string(options_.io_timeout_ms) + " ms");
        [[maybe_unused]] const ssize_t w = ::send(c.fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      }
      close_fd(c.fd);
    }
    clients.erase(std::remove_if(clients.begin(), clients.end(), [](const Client& c) { return c.fd < 0; }),
                  clients.end());

    if ((fds[1].revents & POLLIN) != 0 && !accept_clients(clients)) {
      accept_paused_until = Clock::now() + kAcceptPause;
    }
  }
  for (Client& c : clients) close_fd(c.fd);
}

bool ControlServer::accept_clients(std::vector<Client>& clients) {
  while (clients.size() < options_.max_clients) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      // Out of descriptors or memory: the pending client stays queued.
      return errno != EMFILE && errno != ENFILE && errno != ENOBUFS && errno != ENOMEM;
    }
    counters_.connections.fetch_add(1, std::memory_order_relaxed);
    Client c;
    c.fd = fd;
    c.deadline = Clock::now() + std::chrono::milliseconds(options_.io_timeout_ms);
    clients.push_back(std::move(c));
  }
  return true;
}

void ControlServer::on_readable(Client& c) {
  char chunk[kReadChunk];
  for (;;) {
    const ssize_t n = ::recv(c.fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) close_fd(c.fd);
      return;
    }
    if (n == 0) {
      if (c.in.empty()) {
        close_fd(c.fd);  // connected and left: a health probe, not an error
        return;
      }
      counters_.bad_requests.fetch_add(1, std::memory_order_relaxed);
      respond(c, encode_error("bad request: the connection ended before the request's newline"));
      return;
    }
    c.in.append(chunk, static_cast<std::size_t>(n));
    std::size_t len = 0;
    const LineStatus status = find_line(c.in, options_.max_request_bytes, len, c.scanned);
    c.scanned = c.in.size();
    if (status == LineStatus::too_long) {
      counters_.oversize.fetch_add(1, std::memory_order_relaxed);
      respond(c, encode_error("request longer than " + std::to_string(options_.max_request_bytes) + " bytes"));
      return;
    }
    if (status == LineStatus::incomplete) continue;

    // Bytes after the newline are ignored: one request per connection.
    ControlRequest request;
    std::string error;
    if (!decode_request(std::string_view(c.in).substr(0, len), request, error)) {
      counters_.bad_requests.fetch_add(1, std::memory_order_relaxed);
      respond(c, encode_error(error));
      return;
    }
    counters_.requests.fetch_add(1, std::memory_order_relaxed);
    nlohmann::json result;
    // A throwing handler must not take the daemon's control thread down.
    try {
      result = handler_(request.command, request.args, error);
    } catch (const std::exception& e) {
      error = std::string("internal error: ") + e.what();
    } catch (...) {
      error = "internal error";
    }
    if (!error.empty()) {
      counters_.handler_errors.fetch_add(1, std::memory_order_relaxed);
      respond(c, encode_error(error));
    } else {
      respond(c, encode_result(result));
    }
    return;
  }
}

void ControlServer::respond(Client& c, std::string line) {
  c.in.clear();
  c.in.shrink_to_fit();
  c.out = std::move(line);
  c.sent = 0;
  c.writing = true;
  c.deadline = Clock::now() + std::chrono::milliseconds(options_.io_timeout_ms);
  on_writable(c);  // usually the whole line fits in the socket buffer now
}

void ControlServer::on_writable(Client& c) {
  while (c.sent < c.out.size()) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) close_fd(c.fd);
      return;
    }
    c.sent += static_cast<std::size_t>(n);
  }
  close_fd(c.fd);
}

}  // namespace sigrelay::control
