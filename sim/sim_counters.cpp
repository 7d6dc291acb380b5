#include "sim/sim_counters.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

namespace sigrelay::sim {

std::string counters_json(const SimCounters& c) {
  nlohmann::json by_code = nlohmann::json::object();
  for (const auto& [code, n] : c.invites_by_code) by_code[std::to_string(code)] = n;
  nlohmann::json failures = nlohmann::json::object();
  for (const auto& [reason, n] : c.verification_failures) failures[reason] = n;
  const nlohmann::json j = {
      {"connections_accepted", c.connections_accepted},
      {"connections_open", c.connections_open},
      {"connections_rejected", c.connections_rejected},
      {"accept_errors", c.accept_errors},
      {"tls_handshakes", c.tls_handshakes},
      {"tls_handshake_failures", c.tls_handshake_failures},
      {"tls_errors", c.tls_errors},
      {"invites", c.invites},
      {"invite_retransmissions", c.invite_retransmissions},
      {"invites_by_code", by_code},
      {"silent_invites", c.silent_invites},
      {"options", c.options},
      {"acks", c.acks},
      {"cancels", c.cancels},
      {"cancels_unmatched", c.cancels_unmatched},
      {"pings", c.pings},
      {"pongs", c.pongs},
      {"forbidden", c.forbidden},
      {"bad_messages", c.bad_messages},
      {"other_requests", c.other_requests},
      {"responses_received", c.responses_received},
      {"responses_sent", c.responses_sent},
      {"responses_undeliverable", c.responses_undeliverable},
      {"slow_peer_closes", c.slow_peer_closes},
      {"verifications_passed", c.verifications_passed},
      {"verifications_failed", c.verifications_failed},
      {"verifications_none", c.verifications_none},
      {"verification_failures", failures},
      {"last_invite", c.last_invite},
  };
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

bool write_file_atomically(const std::string& path, const std::string& text, std::string& error) {
  // The pid keeps two simulators pointed at one file from sharing a temporary.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = "cannot create '" + tmp + "': " + std::strerror(errno);
    return false;
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = "cannot write '" + tmp + "': " + std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot replace '" + path + "': " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace sigrelay::sim
