#include "control/control_protocol.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace sigrelay::control {
namespace {

using Json = nlohmann::json;

std::string dump_line(const Json& j) {
  std::string s = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  s.push_back('\n');
  return s;
}

// Parsing must not throw: json::parse(..., allow_exceptions = false) yields a
// "discarded" value instead.
bool parse_object(std::string_view line, Json& out, std::string& error) {
  out = Json::parse(line.begin(), line.end(), nullptr, false);
  if (out.is_discarded()) {
    error = "not valid JSON";
    return false;
  }
  if (!out.is_object()) {
    error = "not a JSON object";
    return false;
  }
  return true;
}

class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

// Waits for `events` on `fd`; false when the deadline passed (errno = ETIMEDOUT)
// or poll failed.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) return true;
    if (n == 0) {
      errno = ETIMEDOUT;
      return false;
    }
    if (errno != EINTR) return false;
  }
}

ControlCallResult failure(ControlCallError e, int err, std::string detail = {}, bool connected = true) {
  ControlCallResult r;
  r.connected = connected;
  r.error = e;
  r.sys_errno = err;
  r.detail = std::move(detail);
  return r;
}

ControlCallResult wait_failure(int err, const char* what) {
  if (err == ETIMEDOUT) return failure(ControlCallError::timed_out, err, what);
  return failure(ControlCallError::io_error, err, std::string("poll: ") + std::strerror(err));
}

ControlCallResult connect_failure(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR: return failure(ControlCallError::no_socket, err, {}, false);
    case ECONNREFUSED: return failure(ControlCallError::not_listening, err, {}, false);
    case EACCES:
    case EPERM: return failure(ControlCallError::permission_denied, err, {}, false);
    // A blocking connect() waits for room in a full backlog until SO_SNDTIMEO.
    case EAGAIN:
    case ETIMEDOUT: return failure(ControlCallError::timed_out, err, "connecting", false);
    default: return failure(ControlCallError::io_error, err, std::string("connect: ") + std::strerror(err), false);
  }
}

}  // namespace

std::string encode_request(const ControlRequest& request) {
  Json j = Json::object();
  j["command"] = request.command;
  j["args"] = request.args;
  return dump_line(j);
}

std::string encode_result(const nlohmann::json& result) {
  Json j = Json::object();
  j["ok"] = true;
  j["result"] = result;
  return dump_line(j);
}

std::string encode_error(std::string_view message) {
  Json j = Json::object();
  j["ok"] = false;
  j["error"] = std::string(message);
  return dump_line(j);
}

bool decode_request(std::string_view line, ControlRequest& out, std::string& error) {
  Json j;
  if (!parse_object(line, j, error)) {
    error = "bad request: " + error + R"( (expected {"command":"...","args":[...]}))";
    return false;
  }
  const auto command = j.find("command");
  if (command == j.end() || !command->is_string() || command->get_ref<const std::string&>().empty()) {
    error = R"(bad request: "command" must be a non-empty string)";
    return false;
  }
  out.command = command->get_ref<const std::string&>();
  out.args.clear();
  const auto args = j.find("args");
  if (args != j.end() && !args->is_null()) {
    if (!args->is_array()) {
      error = R"(bad request: "args" must be an array of strings)";
      return false;
    }
    for (const Json& a : *args) {
      if (!a.is_string()) {
        error = R"(bad request: "args" must be an array of strings)";
        return false;
      }
      out.args.push_back(a.get_ref<const std::string&>());
    }
  }
  return true;
}

bool decode_response(std::string_view line, ControlResponse& out, std::string& error) {
  Json j;
  if (!parse_object(line, j, error)) {
    error = "response is " + error;
    return false;
  }
  const auto ok = j.find("ok");
  if (ok == j.end() || !ok->is_boolean()) {
    error = R"(response has no boolean "ok")";
    return false;
  }
  out.ok = ok->get<bool>();
  out.result = nullptr;
  out.error.clear();
  if (out.ok) {
    const auto result = j.find("result");
    if (result != j.end()) out.result = std::move(*result);
    return true;
  }
  const auto message = j.find("error");
  if (message == j.end() || !message->is_string()) {
    error = R"(failed response has no "error" string)";
    return false;
  }
  out.error = message->get_ref<const std::string&>();
  return true;
}

LineStatus find_line(std::string_view buffer, std::size_t max_bytes, std::size_t& line_length,
                     std::size_t scan_from) {
  // Only the first max_bytes + 1 bytes matter: a '\n' later than that ends an
  // over-long line anyway.
  const std::string_view window = buffer.substr(0, max_bytes + 1);
  const std::size_t nl = window.find('\n', scan_from);
  if (nl != std::string_view::npos) {
    line_length = nl;
    return LineStatus::complete;
  }
  return buffer.size() > max_bytes ? LineStatus::too_long : LineStatus::incomplete;
}

std::string_view to_string(ControlCallError e) {
  switch (e) {
    case ControlCallError::none: return "none";
    case ControlCallError::no_socket: return "no_socket";
    case ControlCallError::not_listening: return "not_listening";
    case ControlCallError::permission_denied: return "permission_denied";
    case ControlCallError::bad_path: return "bad_path";
    case ControlCallError::timed_out: return "timed_out";
    case ControlCallError::io_error: return "io_error";
    case ControlCallError::bad_response: return "bad_response";
  }
  return "unknown";
}

ControlCallResult call_control(const std::string& socket_path, const ControlRequest& request,
                               int timeout_ms) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof addr.sun_path) {
    return failure(ControlCallError::bad_path, ENAMETOOLONG,
                   socket_path.empty() ? "empty socket path"
                                       : "longer than " + std::to_string(sizeof addr.sun_path - 1) + " bytes",
                   false);
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));

  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return failure(ControlCallError::io_error, errno, std::string("socket: ") + std::strerror(errno), false);
  }
  FdCloser closer(fd);
  const int ms = std::max(timeout_ms, 1);
  const timeval tv{ms / 1000, (ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  while (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINTR) return connect_failure(errno);
  }

  const std::string line = encode_request(request);
  std::size_t sent = 0;
  while (sent < line.size()) {
    if (!wait_for(fd, POLLOUT, deadline)) return wait_failure(errno, "sending the request");
    const ssize_t n = ::send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return failure(ControlCallError::io_error, errno, std::string("send: ") + std::strerror(errno));
    }
    sent += static_cast<std::size_t>(n);
  }

  std::string in;
  std::size_t scanned = 0;
  char chunk[16 * 1024];
  for (;;) {
    std::size_t len = 0;
    const LineStatus status = find_line(in, kMaxControlResponseBytes, len, scanned);
    scanned = in.size();
    if (status == LineStatus::too_long) {
      return failure(ControlCallError::bad_response, 0,
                     "response longer than " + std::to_string(kMaxControlResponseBytes) + " bytes");
    }
    if (status == LineStatus::complete) {
      ControlCallResult r;
      r.connected = true;
      std::string why;
      if (!decode_response(std::string_view(in).substr(0, len), r.response, why)) {
        return failure(ControlCallError::bad_response, 0, why);
      }
      return r;
    }
    if (!wait_for(fd, POLLIN, deadline)) return wait_failure(errno, "waiting for the response");
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return failure(ControlCallError::io_error, errno, std::string("recv: ") + std::strerror(errno));
    }
    if (n == 0) {
      return failure(ControlCallError::bad_response, 0,
                     in.empty() ? "connection closed without a response"
                                : "connection closed in the middle of the response");
    }
    in.append(chunk, static_cast<std::size_t>(n));
  }
}

}  // namespace sigrelay::control
