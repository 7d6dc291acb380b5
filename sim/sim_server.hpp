// The simulator's one thread: an epoll loop over TCP and TLS listeners and
// their connections, a timer queue for delayed answers, and the INVITE
// server transactions (RFC 3261 §17.2.1) that make retransmissions, ACK and
// CANCEL behave. Everything here is owned by that thread; nothing is shared.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "sim/passport.hpp"
#include "sim/rules.hpp"
#include "sim/sim_config.hpp"
#include "sim/sim_counters.hpp"
#include "sim/timer_queue.hpp"
#include "sim/verification.hpp"
#include "sip/message.hpp"
#include "sip/response_builder.hpp"
#include "sip/stream_framer.hpp"

namespace sigrelay::sim {

class SimServer {
 public:
  // `signer` may be null when no rule needs a PASSporT.
  SimServer(SimConfig config, std::unique_ptr<PassportSigner> signer);
  ~SimServer();
  SimServer(const SimServer&) = delete;
  SimServer& operator=(const SimServer&) = delete;

  // Loads the TLS certificate and key and the keys `verify` rules trust
  // (open() does it too): a config check that catches unreadable files
  // without binding anything.
  bool load_tls(std::string& error);
  // Loads the TLS certificate, binds every listener, blocks SIGTERM/SIGINT
  // into a signalfd and writes the first counters file.
  bool open(std::string& error);
  // "tcp=127.0.0.1:40123 tls=127.0.0.1:40124", with the ports the kernel chose.
  std::string bound_addresses() const;
  // Serves until SIGTERM or SIGINT; returns the process exit status.
  int run();

 private:
  struct Listener {
    int fd = -1;
    bool tls = false;
    std::string bound;  // address:port after bind
  };
  struct Connection {
    std::uint64_t id = 0;
    int fd = -1;
    SSL* ssl = nullptr;
    bool handshake_done = false;
    bool handshake_wants_write = false;
    bool read_wants_write = false;
    bool write_blocked = false;
    std::size_t tls_retry_len = 0;  // SSL_write must be retried with the same length
    bool peer_closed = false;       // flush what is left, then close
    bool dead = false;              // close without flushing
    bool queued_for_flush = false;
    std::uint32_t events = 0;
    sockaddr_storage peer{};
    std::string peer_text;
    std::string local_host;  // our address as a URI host ("[...]" for IPv6)
    std::string in;
    sip::StreamFramer framer;
    std::string out;
    std::size_t out_off = 0;
    std::unordered_set<std::uint64_t> held;  // transactions waiting for an answer
  };
  struct Transaction {
    std::uint64_t id = 0;
    std::uint64_t conn_id = 0;
    std::string key;
    std::string request;   // the INVITE's bytes; responses are built from them
    std::string to_tag;
    std::string response;  // the final response once sent, for retransmissions
    std::uint16_t code = 0;
    const Rule* rule = nullptr;
    bool answered = false;
    bool verified = false;              // a `verify` rule: the 302 carries `verification`
    VerificationHeaders verification;
  };

  bool load_trust(std::string& error);
  // Checks the INVITE's Identity for a `verify` rule, counts the verdict and
  // keeps the headers for the answer; returns the verdict for the log.
  std::string verify(Transaction& t, const Connection& c, const sip::Message& m);
  void on_signal();
  void on_accept(Listener& l);
  void service(Connection& c);
  bool handshake(Connection& c);
  void read_available(Connection& c);
  void process_input(Connection& c);
  void on_framing_error(Connection& c, const sip::StreamFramer::Frame& f);
  void on_message(Connection& c, std::string_view bytes);
  void on_invite(Connection& c, const sip::Message& m);
  void on_cancel(Connection& c, const sip::Message& m);
  void on_timer(const TimerEntry& e);
  void answer(Transaction& t, std::uint16_t code);
  void reply(Connection& c, const sip::Message& req, std::uint16_t code, std::string_view to_tag,
             std::string_view reason = {}, const std::vector<sip::ExtraHeader>& extra = {});
  std::string build(const sip::Message& req, std::uint16_t code, std::string_view to_tag,
                    std::string_view reason, const std::vector<sip::ExtraHeader>& extra);
  void send(std::uint64_t conn_id, std::string_view bytes);
  void send(Connection& c, std::string_view bytes);
  void flush(Connection& c);
  void queue_flush(Connection& c);
  void finish_iteration();
  void write_counters();
  void update_interest(Connection& c);
  void close_connection(std::uint64_t id);
  void log_invite(const Connection& c, const sip::Message& m, const Transaction& t,
                  std::string_view outcome);
  void info(const std::string& line) const;
  std::int64_t now_ms() const;

  SimConfig config_;
  std::unique_ptr<PassportSigner> signer_;
  TrustedKeys trusted_;
  bool trust_loaded_ = false;
  SSL_CTX* tls_ctx_ = nullptr;
  int epoll_fd_ = -1;
  int signal_fd_ = -1;
  bool stop_ = false;
  std::vector<Listener> listeners_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> connections_;
  std::uint64_t next_conn_id_;
  std::unordered_map<std::uint64_t, Transaction> transactions_;
  std::unordered_map<std::string, std::uint64_t> transaction_by_key_;
  std::uint64_t next_txn_id_ = 1;
  std::vector<std::uint64_t> flush_queue_;
  TimerQueue timers_;
  SimCounters counters_;
  bool counters_dirty_ = true;
  bool counters_error_logged_ = false;
};

}  // namespace sigrelay::sim
