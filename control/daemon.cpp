#include "control/daemon.hpp"

#include <netdb.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <poll.h>

#include <arpa/inet.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/cidr.hpp"
#include "control/dpdk_setup.hpp"
#include "dataplane/mailboxes.hpp"
#include "dataplane/sip_worker.hpp"
#include "dataplane/socket_address.hpp"
#include "dataplane/udp_socket_backend.hpp"
#include "tls/keyed_hash.hpp"
#include "tls/tls_context.hpp"
#include "tls/tls_worker.hpp"

namespace sigrelay::control {
namespace {

// Recent calls kept per sip worker for `sigrelayctl why` (about 400 bytes each).
constexpr std::size_t kCallRecordsPerWorker = 8192;

class AclFilter final : public dataplane::SourceFilter {
 public:
  explicit AclFilter(const std::vector<Cidr>& allow) : acl_(allow) {}
  bool allows(const sockaddr_storage& source) const override { return acl_.allows(source); }

 private:
  AddressAcl acl_;
};

class DestinationFilter final : public dataplane::AddressFilter {
 public:
  explicit DestinationFilter(const std::vector<Cidr>& allow) : acl_(allow) {}
  bool allows(const sockaddr_storage& address) const override { return acl_.allows(address); }

 private:
  AddressAcl acl_;
};

// The sent-by we write in our Via toward the service. Over a stream the
// response comes back on the same connection whatever it says (RFC 3261
// §18.2.2), so it is informational: our first specific listen address, or
// the host name.
std::string via_sent_by(const Config& cfg) {
  const bool tls = cfg.upstream.targets.empty() || cfg.upstream.targets.front().tls;
  const std::string port = tls ? "5061" : "5060";
  for (const auto& e : cfg.listen.udp) {
    if (!e.is_wildcard()) {
      const auto t = dataplane::address_text(e.addr);
      return t.substr(0, t.rfind(':')) + ":" + port;
    }
  }
  char name[256] = "localhost";
  gethostname(name, sizeof name - 1);
  return std::string(name) + ":" + port;
}

nlohmann::json counters_json(const std::vector<std::unique_ptr<dataplane::RelayCounters>>& sip,
                             const std::vector<std::unique_ptr<tls::TlsWorkerCounters>>& tlsc) {
  nlohmann::json j;
  auto sum = [&](auto field) {
    std::uint64_t n = 0;
    for (const auto& c : sip) n += ((*c).*field).load(std::memory_order_relaxed);
    return n;
  };
  using R = dataplane::RelayCounters;
#define SIGRELAY_C(name) j[#name] = sum(&R::name)
  SIGRELAY_C(datagrams_in);
  SIGRELAY_C(acl_denied);
  SIGRELAY_C(handoffs_out);
  SIGRELAY_C(ring_full);
  SIGRELAY_C(pool_empty);
  SIGRELAY_C(requests_in);
  SIGRELAY_C(invites_in);
  SIGRELAY_C(invite_retransmissions);
  SIGRELAY_C(acks_absorbed);
  SIGRELAY_C(acks_unmatched);
  SIGRELAY_C(cancels_in);
  SIGRELAY_C(options_in);
  SIGRELAY_C(responses_from_switch);
  SIGRELAY_C(malformed_dropped);
  SIGRELAY_C(malformed_answered);
  SIGRELAY_C(local_100);
  SIGRELAY_C(local_400);
  SIGRELAY_C(local_405);
  SIGRELAY_C(local_416);
  SIGRELAY_C(local_481);
  SIGRELAY_C(local_483);
  SIGRELAY_C(local_487);
  SIGRELAY_C(local_505);
  SIGRELAY_C(local_513);
  SIGRELAY_C(local_503_emergency);
  SIGRELAY_C(local_503_no_upstream);
  SIGRELAY_C(local_503_timeout);
  SIGRELAY_C(local_503_overload);
  SIGRELAY_C(local_503_shutdown);
  SIGRELAY_C(invites_upstream);
  SIGRELAY_C(cancels_upstream);
  SIGRELAY_C(acks_upstream);
  SIGRELAY_C(responses_upstream_in);
  SIGRELAY_C(responses_unmatched);
  SIGRELAY_C(service_403_404);
  SIGRELAY_C(finals_relayed);
  SIGRELAY_C(finals_late);
  SIGRELAY_C(final_retransmissions);
  SIGRELAY_C(timer_h_expired);
  SIGRELAY_C(transactions_freed);
  SIGRELAY_C(inline_searches);
  SIGRELAY_C(inline_no_state);
  SIGRELAY_C(inline_no_destination);
  SIGRELAY_C(inline_contacts_skipped);
  SIGRELAY_C(inline_refused_self);
  SIGRELAY_C(inline_refused_acl);
  SIGRELAY_C(inline_attempts);
  SIGRELAY_C(inline_build_failed);
  SIGRELAY_C(inline_retransmissions);
  SIGRELAY_C(inline_failovers);
  SIGRELAY_C(inline_branch_timeouts);
  SIGRELAY_C(inline_ring_timeouts);
  SIGRELAY_C(inline_answered);
  SIGRELAY_C(inline_exhausted);
  SIGRELAY_C(inline_responses_in);
  SIGRELAY_C(inline_stale_responses);
  SIGRELAY_C(inline_acks_out);
  SIGRELAY_C(inline_cancels_out);
  SIGRELAY_C(inline_routed_requests);
  SIGRELAY_C(inline_routed_responses);
  SIGRELAY_C(inline_route_rejected);
  SIGRELAY_C(inline_tcp_upgrades);
  SIGRELAY_C(inline_udp_fallbacks);
  SIGRELAY_C(inline_transport_errors);
#undef SIGRELAY_C
  {
    static constexpr const char* kSizeNames[] = {"le_1024", "le_1300", "le_1500", "le_2048", "le_4096", "larger"};
    for (int k = 0; k < 6; ++k) {
      std::uint64_t n = 0;
      for (const auto& c : sip) n += c->inline_invite_size[k].load(std::memory_order_relaxed);
      j["inline_invite_size"][kSizeNames[k]] = n;
    }
  }
  for (int k = 3; k <= 6; ++k) {
    std::uint64_t n = 0;
    for (const auto& c : sip) n += c->service_finals[k].load(std::memory_order_relaxed);
    j["service_finals_" + std::to_string(k) + "xx"] = n;
  }
  auto tsum = [&](auto field) {
    std::uint64_t n = 0;
    for (const auto& c : tlsc) n += ((*c).*field).load(std::memory_order_relaxed);
    return n;
  };
  using T = tls::TlsWorkerCounters;
#define SIGRELAY_T(name) j["tls_" #name] = tsum(&T::name)
  SIGRELAY_T(inbound_accepted);
  SIGRELAY_T(inbound_refused_acl);
  SIGRELAY_T(inbound_refused_limit);
  SIGRELAY_T(inbound_closed);
  SIGRELAY_T(inbound_messages);
  SIGRELAY_T(upstream_messages_in);
  SIGRELAY_T(upstream_unroutable);
  SIGRELAY_T(upstream_send_failed);
  SIGRELAY_T(switch_send_failed);
  SIGRELAY_T(upstream_connect_attempts);
  SIGRELAY_T(upstream_connect_failures);
  SIGRELAY_T(upstream_handshake_failures);
  SIGRELAY_T(upstream_disconnects);
  SIGRELAY_T(upstream_failovers);
  SIGRELAY_T(upstream_keepalive_timeouts);
  SIGRELAY_T(destination_connects);
  SIGRELAY_T(destination_connect_failures);
  SIGRELAY_T(destination_undeliverable);
  SIGRELAY_T(destination_idle_closed);
  SIGRELAY_T(inbound_unlisted);
#undef SIGRELAY_T
  return j;
}

}  // namespace

int run_daemon(const Config& cfg, std::ostream& out, std::ostream& err) {
  // Signals go to the control loop only: block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  const int sigfd = signalfd(-1, &signals, SFD_CLOEXEC);

  std::string error;
  // EAL first: it pins this thread, and the threads started below must
  // inherit the CPUs left to them (dpdk_port.cpp).
  std::unique_ptr<dataplane::DpdkPort> dpdk;
  if (cfg.dataplane.backend == DataplaneBackend::dpdk) {
    dpdk = start_dpdk(cfg, error);
    if (!dpdk) {
      err << "sigrelay: " << error << "\n";
      return 1;
    }
  }

  const unsigned n_sip = cfg.dataplane.workers;
  const unsigned n_tls = cfg.tls.workers;
  const std::uint32_t max_message = cfg.limits.max_message_size;
  const std::size_t pool_packets = 4096;

  tls::ClientTlsOptions client_opts;
  client_opts.ca_file = cfg.upstream.ca_file;
  client_opts.client_cert = cfg.upstream.client_cert;
  client_opts.client_key = cfg.upstream.client_key;
  client_opts.verify = cfg.upstream.verify;
  auto client_ctx = tls::make_client_context(client_opts);
  if (!client_ctx) {
    err << "sigrelay: upstream TLS: " << client_ctx.error << "\n";
    return 1;
  }
  tls::ContextResult server_ctx;
  if (!cfg.listen.tls.empty()) {
    tls::ServerTlsOptions server_opts;
    server_opts.cert = cfg.listen.tls_cert;
    server_opts.key = cfg.listen.tls_key;
    server_ctx = tls::make_server_context(server_opts);
    if (!server_ctx) {
      err << "sigrelay: listen.tls: " << server_ctx.error << "\n";
      return 1;
    }
  }

  auto mail = dataplane::Mailboxes::create(n_sip, n_tls, static_cast<std::uint32_t>(pool_packets * 2), error);
  if (!mail) {
    err << "sigrelay: " << error << "\n";
    return 1;
  }
  AclFilter filter(cfg.acl.allow);
  dataplane::UpstreamStatus upstream_status;
  // One SipHash key for the process; each thread gets its own copy.
  const tls::KeyedHash key = tls::KeyedHash::random();
  std::vector<std::unique_ptr<tls::KeyedHash>> keys;

  dataplane::EngineOptions engine;
  engine.max_transactions = cfg.limits.max_transactions;
  engine.max_stored = std::min<std::uint32_t>(cfg.limits.max_transactions, 8192);
  engine.timers = timer_config(cfg.sip);
  engine.upstream_timeout = sip::Millis{cfg.upstream.timeout_ms};
  engine.via_sent_by = via_sent_by(cfg);
  engine.via_transport = cfg.upstream.targets.front().tls ? "TLS" : "TCP";
  engine.emergency_numbers = cfg.emergency.numbers;
  DestinationFilter destinations(cfg.in_line.allow_destinations);
  DestinationFilter switches(cfg.acl.allow);
  if (cfg.mode == Mode::in_line) {
    auto& in = engine.in_line;
    in.enabled = true;
    in.advertise = cfg.in_line.advertise.text;
    in.advertise_addr = cfg.in_line.advertise.addr;
    // Toward TCP/TLS peers we advertise the same host with our stream
    // listeners' ports (there a peer opens connections of its own).
    const auto& adv = cfg.in_line.advertise.text;
    const std::string host = adv.substr(0, adv.rfind(':'));
    if (!cfg.listen.tcp.empty()) in.advertise_tcp = host + ":" + std::to_string(cfg.listen.tcp.front().port());
    if (!cfg.listen.tls.empty()) in.advertise_tls = host + ":" + std::to_string(cfg.listen.tls.front().port());
    in.copy_headers = cfg.in_line.copy_headers;
    in.failover_codes = cfg.in_line.failover_codes;
    in.branch_timeout = sip::Millis{cfg.in_line.branch_timeout_ms};
    in.ring_timeout = sip::Millis{cfg.in_line.ring_timeout_ms};
    in.allow_destinations = &destinations;
    in.switches = &switches;
    in.max_redirections = cfg.in_line.max_redirections;
  }

  std::vector<dataplane::UdpListen> udp;
  for (const auto& e : cfg.listen.udp) udp.push_back(dataplane::UdpListen{e.addr, e.len});

  std::vector<std::unique_ptr<dataplane::RelayCounters>> sip_counters;
  std::vector<std::unique_ptr<dataplane::CallLog>> call_logs;  // what happened to recent calls, per worker
  std::vector<std::unique_ptr<dataplane::SipWorker>> sip_workers;
  for (unsigned i = 0; i < n_sip; ++i) {
    keys.push_back(std::make_unique<tls::KeyedHash>(key));
    sip_counters.push_back(std::make_unique<dataplane::RelayCounters>());
    call_logs.push_back(std::make_unique<dataplane::CallLog>(kCallRecordsPerWorker));
    dataplane::SipWorkerOptions o;
    o.index = i;
    o.engine = engine;
    o.engine.call_log = call_logs.back().get();
    o.pool_packets = pool_packets;
    o.max_message = max_message;
    std::unique_ptr<dataplane::DatagramIo> io;
    if (dpdk) {
      io = make_dpdk_io(cfg, *dpdk, i, error);
      if (!io) {
        err << "sigrelay: " << error << "\n";
        return 1;
      }
    } else {
      io = std::make_unique<dataplane::UdpSocketBackend>(udp);
    }
    auto w = std::make_unique<dataplane::SipWorker>(o, std::move(io), *mail, filter, sip::BranchMac{&tls::KeyedHash::call, keys.back().get()},
                                                     *sip_counters.back(), upstream_status);
    if (!w->open(error)) {
      err << "sigrelay: " << (dpdk ? "dataplane" : "listen.udp") << ": " << error << "\n";
      return 1;
    }
    sip_workers.push_back(std::move(w));
  }

  std::vector<tls::StreamListen> streams;
  for (const auto& e : cfg.listen.tcp) streams.push_back(tls::StreamListen{e.addr, e.len, false});
  for (const auto& e : cfg.listen.tls) streams.push_back(tls::StreamListen{e.addr, e.len, true});
  tls::UpstreamPoolOptions pool_opts;
  for (const auto& t : cfg.upstream.targets) {
    pool_opts.targets.push_back(tls::UpstreamTarget{t.host, t.port, t.tls, t.server_name});
  }
  pool_opts.connections_per_target = std::max<std::size_t>(1, cfg.upstream.connections / std::max(1U, n_tls));
  pool_opts.backoff_min = tls::Millis{cfg.upstream.reconnect_min_ms};
  pool_opts.backoff_max = tls::Millis{cfg.upstream.reconnect_max_ms};
  pool_opts.keepalive_interval = tls::Millis{static_cast<std::int64_t>(cfg.upstream.keepalive_s) * 1000};

  std::vector<std::unique_ptr<tls::TlsWorkerCounters>> tls_counters;
  std::vector<std::unique_ptr<tls::TlsWorker>> tls_workers;
  for (unsigned i = 0; i < n_tls; ++i) {
    keys.push_back(std::make_unique<tls::KeyedHash>(key));
    tls_counters.push_back(std::make_unique<tls::TlsWorkerCounters>());
    tls::TlsWorkerOptions o;
    o.index = i;
    o.upstream = pool_opts;
    o.listen = streams;
    o.pool_packets = pool_packets;
    o.max_message = max_message;
    o.admit_unlisted = cfg.mode == Mode::in_line;
    auto w = std::make_unique<tls::TlsWorker>(o, *mail, filter, sip::BranchMac{&tls::KeyedHash::call, keys.back().get()},
                                               client_ctx.ctx.get(), server_ctx.ctx.get(), upstream_status,
                                               *tls_counters.back());
    if (!w->open(error)) {
      err << "sigrelay: " << error << "\n";
      return 1;
    }
    tls_workers.push_back(std::move(w));
  }

  std::atomic<int> phase{static_cast<int>(dataplane::Phase::running)};
  std::vector<std::thread> threads;
  struct Launch {
    dataplane::SipWorker* worker;
    const std::atomic<int>* phase;
  };
  std::vector<Launch> launches;
  if (dpdk) {
    // Poll-mode workers run on their EAL lcores.
    for (auto& w : sip_workers) launches.push_back({w.get(), &phase});
    std::vector<void*> args;
    for (auto& l : launches) args.push_back(&l);
    dpdk->launch(
        [](void* arg) {
          auto* l = static_cast<Launch*>(arg);
          l->worker->run(*l->phase);
          return 0;
        },
        args);
  } else {
    for (auto& w : sip_workers) threads.emplace_back([&phase, w = w.get()] { w->run(phase); });
  }
  for (auto& w : tls_workers) threads.emplace_back([&phase, w = w.get()] { w->run(phase); });

  out << "sigrelay: ready";
  std::string sep;
  if (!sip_workers.empty()) out << " udp=" << sip_workers.front()->io().describe();
  for (const bool want_tls : {false, true}) {
    sep = want_tls ? " tls=" : " tcp=";
    for (const auto& s : streams) {
      if (s.tls != want_tls) continue;
      out << sep << dataplane::address_text(s.addr);
      sep = ",";
    }
  }
  out << " workers=" << n_sip << "+" << n_tls;
  if (dpdk) {
    out << " dpdk=" << dpdk->port_name();
    if (dpdk->exception_port()) out << " exception=" << dpdk->exception_interface();
  }
  out << std::endl;

  // The control loop: signals, and alarms an operator must not find late.
  std::uint64_t refused_seen = 0;
  const auto check_alarms = [&] {
    std::uint64_t refused = 0;
    for (const auto& c : sip_counters) refused += c->service_403_404.load(std::memory_order_relaxed);
    if (refused > refused_seen) {
      err << "sigrelay: ALARM: the service refused " << (refused - refused_seen)
          << " INVITE(s) with 403/404 in the last second: this relay's address is not whitelisted there"
             " (check the address the service sees, e.g. after a NAT change)" << std::endl;
      refused_seen = refused;
    }
  };
  while (true) {
    pollfd p{sigfd, POLLIN, 0};
    const int ready = poll(&p, 1, 1000);
    check_alarms();
    if (ready <= 0) continue;
    signalfd_siginfo si{};
    if (read(sigfd, &si, sizeof si) != static_cast<ssize_t>(sizeof si)) continue;
    if (si.ssi_signo == SIGHUP) {
      err << "sigrelay: SIGHUP: hot reload is not available yet; restart to apply a new configuration\n";
      continue;
    }
    break;
  }
  err << "sigrelay: shutting down: answering pending calls\n";
  phase.store(static_cast<int>(dataplane::Phase::draining), std::memory_order_release);
  for (unsigned t = 0; t < n_sip + n_tls; ++t) mail->wake(t);
  // Give the workers a moment to answer and the tls workers to write it out.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  phase.store(static_cast<int>(dataplane::Phase::stopped), std::memory_order_release);
  for (unsigned t = 0; t < n_sip + n_tls; ++t) mail->wake(t);
  for (auto& t : threads) t.join();
  if (dpdk) dpdk->wait();
  auto counters = counters_json(sip_counters, tls_counters);
  if (dpdk) {
    std::vector<const dataplane::DatagramIo*> ios;
    for (const auto& w : sip_workers) ios.push_back(&w->io());
    counters["dataplane"] = dpdk_counters_json(ios);
  }
  out << "sigrelay: counters " << counters.dump() << std::endl;
  close(sigfd);
  return 0;
}

}  // namespace sigrelay::control
