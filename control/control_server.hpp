// The control socket that sigrelayctl talks to (docs/sigrelayctl.md): a Unix
// SOCK_STREAM listener served by one thread with poll(). Each connection
// carries one request line and gets one response line (control_protocol.hpp);
// a few clients may be connected at once, and none of them can stall the
// others: reads and writes are non-blocking and every connection has a
// deadline.
//
// The server knows no commands. It decodes the request, calls the handler on
// its own thread and sends back what the handler returns, or the handler's
// error (an unknown command is the handler's error to name).
//
//   ControlServer server(cfg.control.socket, [&](const std::string& command,
//                                                const std::vector<std::string>& args,
//                                                std::string& error) -> nlohmann::json { ... });
//   std::string error;
//   if (!server.start(error)) { std::cerr << "sigrelay: " << error << '\n'; return 1; }
//   ...
//   server.stop();  // also done by the destructor
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "control/control_protocol.hpp"

namespace sigrelay::control {

struct ControlServerOptions {
  std::size_t max_request_bytes = kMaxControlRequestBytes;
  // A client has this long to send its request line, and again this long to
  // take the response, before the server drops it.
  int io_timeout_ms = 5000;
  // Connections served at once; further clients wait in the listen backlog.
  std::size_t max_clients = 8;
};

// Written by the server thread only; read from anywhere.
struct ControlServerCounters {
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> requests{0};       // decoded and passed to the handler
  std::atomic<std::uint64_t> handler_errors{0}; // the handler set an error (or threw)
  std::atomic<std::uint64_t> bad_requests{0};   // not JSON, no command, args not strings, no '\n' before EOF
  std::atomic<std::uint64_t> oversize{0};       // request line over max_request_bytes
  std::atomic<std::uint64_t> timeouts{0};       // request or response not through in io_timeout_ms
};

class ControlServer {
 public:
  // Runs on the server thread, one request at a time. Set `error` (non-empty)
  // to fail the request; the returned value is then ignored.
  using Handler = std::function<nlohmann::json(const std::string& command, const std::vector<std::string>& args,
                                               std::string& error)>;

  ControlServer(std::string path, Handler handler, ControlServerOptions options = {});
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Creates the socket (mode 0660) and starts the thread. A socket file left
  // behind by a dead process is replaced; a live listener, or anything at the
  // path that is not a socket, is an error. Every error names the path.
  bool start(std::string& error);

  // Wakes and joins the thread, closes every connection and removes the
  // socket file if it is still the one start() made. Idempotent.
  void stop();

  const std::string& path() const { return path_; }
  bool running() const { return thread_.joinable(); }
  const ControlServerCounters& counters() const { return counters_; }

 private:
  struct Client;

  bool create_listener(std::string& error);
  void run();
  bool accept_clients(std::vector<Client>& clients);  // false: out of descriptors or memory
  void on_readable(Client& c);
  void on_writable(Client& c);
  void respond(Client& c, std::string line);

  std::string path_;
  Handler handler_;
  ControlServerOptions options_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: stop() writes it to end poll()
  dev_t socket_dev_ = 0;
  ino_t socket_ino_ = 0;
  std::thread thread_;
  ControlServerCounters counters_;
};

}  // namespace sigrelay::control
