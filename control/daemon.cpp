#include "control/daemon.hpp"

#include <netdb.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <poll.h>

#include <arpa/inet.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <chrono>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/cidr.hpp"
#include "control/dpdk_setup.hpp"
#include "control/control_commands.hpp"
#include "control/control_server.hpp"
#include "control/version.hpp"
#include "control/reload.hpp"
#include "control/stats_report.hpp"
#include "control/stats_server.hpp"
#include "control/trace_writer.hpp"
#include "dataplane/log.hpp"
#include "dataplane/policy_board.hpp"
#include "dataplane/mailboxes.hpp"
#include "dataplane/sip_worker.hpp"
#include "dataplane/socket_address.hpp"
#include "dataplane/udp_socket_backend.hpp"
#include "tls/cert_expiry.hpp"
#include "tls/keyed_hash.hpp"
#include "tls/tls_context.hpp"
#include "tls/tls_worker.hpp"

namespace sigrelay::control {
namespace {

// Where the dashboard's files are: SIGRELAY_DASHBOARD_DIR in the
// environment, else the installed copy, else the source tree this binary was
// built from (so the demo and the tests need no install).
std::string dashboard_dir() {
  if (const char* env = std::getenv("SIGRELAY_DASHBOARD_DIR"); env != nullptr && *env != '\0') return env;
  if (access("/usr/share/sigrelay/dashboard/index.html", R_OK) == 0) return "/usr/share/sigrelay/dashboard";
  return SIGRELAY_SOURCE_DASHBOARD;
}

// Recent calls kept per sip worker for `sigrelayctl why` (about 400 bytes each).
constexpr std::size_t kCallRecordsPerWorker = 8192;

tls::UpstreamPoolOptions pool_options(const Config& cfg, unsigned n_tls) {
  tls::UpstreamPoolOptions o;
  for (const auto& t : cfg.upstream.targets) o.targets.push_back(tls::UpstreamTarget{t.host, t.port, t.tls, t.server_name});
  o.connections_per_target = std::max<std::size_t>(1, cfg.upstream.connections / std::max(1U, n_tls));
  o.backoff_min = tls::Millis{cfg.upstream.reconnect_min_ms};
  o.backoff_max = tls::Millis{cfg.upstream.reconnect_max_ms};
  o.keepalive_interval = tls::Millis{static_cast<std::int64_t>(cfg.upstream.keepalive_s) * 1000};
  return o;
}

// The workers' trace hook, written to rotating pcaps (trace_writer.hpp).
class PcapTrace final : public dataplane::TraceSink {
 public:
  bool on() const override { return writer.enabled(); }
  void record(const dataplane::TracePoint& p) override {
    TraceRecord r;
    r.timestamp_us = trace_clock_us();
    r.src = *p.src;
    r.dst = *p.dst;
    r.transport = p.transport == dataplane::Transport::udp   ? TraceTransport::udp
                  : p.transport == dataplane::Transport::tcp ? TraceTransport::tcp
                                                             : TraceTransport::tls;
    r.sent = p.sent;
    r.bytes = p.bytes;
    writer.record(r);
  }
  TraceWriter writer;
};

// What a hot reload can change, as the workers read it (policy_board.hpp).
struct ControlPolicy final : dataplane::RuntimePolicy {
  ControlPolicy(const Config& cfg, unsigned n_tls)
      : acl(cfg.acl.allow), destinations(cfg.in_line.allow_destinations), upstream(pool_options(cfg, n_tls)) {
    emergency_numbers = cfg.emergency.numbers;
    upstream_timeout = sip::Millis{cfg.upstream.timeout_ms};
  }
  AddressAcl acl;           // acl.allow
  AddressAcl destinations;  // inline.allow_destinations
  tls::UpstreamPoolOptions upstream;
};

// A whitelist as the workers see it: always the policy in force.
class PolicyFilter final : public dataplane::SourceFilter, public dataplane::AddressFilter {
 public:
  enum class Which : std::uint8_t { acl, destinations };
  PolicyFilter(const dataplane::PolicyBoard& board, Which which) : board_(board), which_(which) {}
  bool allows(const sockaddr_storage& a) const override {
    const auto* p = static_cast<const ControlPolicy*>(board_.current());
    return which_ == Which::acl ? p->acl.allows(a) : p->destinations.allows(a);
  }

 private:
  const dataplane::PolicyBoard& board_;
  Which which_;
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

}  // namespace

int run_daemon(const Config& cfg, std::ostream& out, std::ostream& err, const std::function<LoadResult()>& reload_config) {
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
  log::set_level(static_cast<log::Level>(cfg.log.level));
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
  dataplane::PolicyBoard board(n_sip + n_tls, std::make_unique<ControlPolicy>(cfg, n_tls));
  PolicyFilter filter(board, PolicyFilter::Which::acl);
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
  PolicyFilter destinations(board, PolicyFilter::Which::destinations);
  PolicyFilter& switches = filter;
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

  PcapTrace pcap;  // off until trace.pcap or `sigrelayctl trace start`
  std::vector<std::unique_ptr<dataplane::RelayCounters>> sip_counters;
  std::vector<std::unique_ptr<dataplane::CallLog>> call_logs;  // what happened to recent calls, per worker
  std::vector<std::unique_ptr<dataplane::LatencyHistogram>> rtt_hist, local_hist;
  std::vector<std::unique_ptr<dataplane::SipWorker>> sip_workers;
  for (unsigned i = 0; i < n_sip; ++i) {
    keys.push_back(std::make_unique<tls::KeyedHash>(key));
    sip_counters.push_back(std::make_unique<dataplane::RelayCounters>());
    call_logs.push_back(std::make_unique<dataplane::CallLog>(kCallRecordsPerWorker));
    dataplane::SipWorkerOptions o;
    o.index = i;
    o.engine = engine;
    o.engine.call_log = call_logs.back().get();
    o.trace = &pcap;
    for (const auto& e : cfg.listen.udp) o.local_addresses.push_back(e.addr);
    rtt_hist.push_back(std::make_unique<dataplane::LatencyHistogram>());
    local_hist.push_back(std::make_unique<dataplane::LatencyHistogram>());
    o.engine.service_rtt = rtt_hist.back().get();
    o.local_processing = local_hist.back().get();
    o.policy = &board;
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
  const tls::UpstreamPoolOptions pool_opts = pool_options(cfg, n_tls);

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
    o.policy = &board;
    o.policy_reader = n_sip + i;
    o.trace = &pcap;
    o.upstream_of = [](const dataplane::RuntimePolicy& p) { return &static_cast<const ControlPolicy&>(p).upstream; };
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

  // Alarms an operator must not find late: a metric, a log line and a line
  // in /health each. Computed on the control thread once a second; the
  // servers' threads read a copy.
  std::mutex alarms_mu;
  std::vector<Alarm> alarms_now = {
      {"service_refuses_relay", false, ""}, {"fail_open", false, ""}, {"certificate_expiry", false, ""}};
  // Certificates expiring within 30 days: ours (files) and the service's
  // (what its TLS connections present). Checked every 10 seconds.
  constexpr std::int64_t kExpiryWarning = 30 * 24 * 3600;
  std::chrono::steady_clock::time_point next_cert_check{};
  Alarm cert_alarm{"certificate_expiry", false, ""};
  std::string cert_logged;
  const auto check_certificates = [&] {
    const auto t = std::chrono::steady_clock::now();
    if (t < next_cert_check) return;
    next_cert_check = t + std::chrono::seconds(10);
    const std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch()).count();
    std::string detail;
    const auto consider = [&](const std::string& whose, const tls::CertExpiry& c) {
      if (!c.ok || c.not_after - now_s > kExpiryWarning) return;
      if (!detail.empty()) detail += "; ";
      detail += whose + ": " + tls::describe_expiry(c, now_s);
    };
    if (!cfg.listen.tls_cert.empty()) consider("listen.tls_cert", tls::leaf_expiry_from_file(cfg.listen.tls_cert));
    if (!cfg.upstream.client_cert.empty()) {
      consider("upstream.client_cert", tls::leaf_expiry_from_file(cfg.upstream.client_cert));
    }
    for (const auto& w : tls_workers) {
      for (const auto& c : w->sessions()) {
        if (c.peer_not_after == 0) continue;
        tls::CertExpiry e;
        e.ok = true;
        e.not_after = c.peer_not_after;
        e.subject = c.peer_subject;
        consider("the service (" + c.target + ")", e);
        break;  // one connection per worker tells it
      }
    }
    cert_alarm.active = !detail.empty();
    cert_alarm.detail = detail;
    if (cert_alarm.active && detail != cert_logged) log::write(log::Level::warn, "ALARM: certificate expiry: " + detail);
    cert_logged = detail;
  };
  std::uint64_t refused_seen = 0;
  std::uint64_t failopen_seen = 0;
  std::uint64_t invites_seen = 0;
  const auto sum_sip = [&](dataplane::Counter dataplane::RelayCounters::*m) {
    std::uint64_t n = 0;
    for (const auto& c : sip_counters) n += (c.get()->*m).load(std::memory_order_relaxed);
    return n;
  };
  const auto check_alarms = [&] {
    const std::uint64_t refused = sum_sip(&dataplane::RelayCounters::service_403_404);
    const std::uint64_t failopen = sum_sip(&dataplane::RelayCounters::local_503_timeout) +
                                   sum_sip(&dataplane::RelayCounters::local_503_no_upstream);
    const std::uint64_t invites = sum_sip(&dataplane::RelayCounters::invites_in);
    check_certificates();
    std::vector<Alarm> now = {{"service_refuses_relay", refused > refused_seen, ""}, {"fail_open", false, ""}, cert_alarm};
    if (refused > refused_seen) {
      now[0].detail = std::to_string(refused - refused_seen) +
                      " INVITE(s) answered 403/404 by the service in the last second: this relay's address is "
                      "not whitelisted there (check the address the service sees, e.g. after a NAT change)";
      log::write(log::Level::warn, "ALARM: " + now[0].detail);
    }
    // More than 5 % of the last second's INVITEs failed open (at least 5).
    const std::uint64_t fo = failopen - failopen_seen;
    const std::uint64_t inv = invites - invites_seen;
    if (fo >= 5 && fo * 20 > inv) {
      now[1].active = true;
      now[1].detail = std::to_string(fo) + " of " + std::to_string(inv) +
                      " INVITE(s) in the last second were answered 503 locally because the service did not answer";
      log::write(log::Level::warn, "ALARM: " + now[1].detail);
    }
    refused_seen = refused;
    failopen_seen = failopen;
    invites_seen = invites;
    const std::lock_guard lock(alarms_mu);
    alarms_now = std::move(now);
  };

  const auto started = std::chrono::steady_clock::now();
  const auto inputs = [&] {
    StatsInputs in;
    in.version = kVersion;
    in.mode = std::string(to_string(cfg.mode));
    in.uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    in.time = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    for (const auto& c : sip_counters) in.sip.push_back(c.get());
    for (const auto& c : tls_counters) in.tls.push_back(c.get());
    for (const auto& h : rtt_hist) in.service_rtt.push_back(h.get());
    for (const auto& h : local_hist) in.local.push_back(h.get());
    in.upstream_up = upstream_status.total(n_tls);
    for (std::size_t w = 0; w < tls_workers.size(); ++w) {
      for (const auto& c : tls_workers[w]->sessions()) {
        UpstreamSession u;
        u.target = c.target;
        u.worker = static_cast<unsigned>(w);
        u.conn = static_cast<unsigned>(c.index);
        u.state = std::string(tls::to_string(c.state));
        u.since_s = static_cast<double>(c.since.count()) / 1000.0;
        u.tls_version = c.tls_version;
        u.cipher = c.cipher;
        in.upstream.push_back(std::move(u));
      }
    }
    {
      const std::lock_guard lock(alarms_mu);
      in.alarms = alarms_now;
    }
    return in;
  };

  // The stats server (/metrics, /stats.json, /health, the dashboard). A
  // failure to bind is loud but not fatal: the relay carries calls first.
  StatsProviders providers;
  providers.metrics = [&] { return metrics_text(inputs()); };
  providers.stats_json = [&] { return stats_json(inputs()).dump(); };
  providers.health = [&] {
    const StatsInputs in = inputs();
    const unsigned up = upstream_status.total(n_tls);
    nlohmann::json detail = {{"upstream_connections_up", up}, {"alarms", nlohmann::json::array()}};
    for (const auto& a : in.alarms) {
      if (a.active) detail["alarms"].push_back({{"name", a.name}, {"detail", a.detail}});
    }
    return std::make_pair(up > 0, detail.dump());
  };
  std::unique_ptr<StatsServer> stats;
  if (cfg.stats.http.len != 0) {
    stats = std::make_unique<StatsServer>(cfg.stats.http, dashboard_dir(), providers);
    if (!stats->start(error)) {
      err << "sigrelay: WARNING: " << error << "; running without the stats server" << std::endl;
      stats.reset();
    }
  }
  // Hot reload: the settings that can change go to the workers through the
  // policy board; the others keep their running values and are named. The
  // control socket's thread reloads too: one at a time.
  Config running = cfg;
  std::mutex reload_mu;
  const auto reload = [&]() -> std::string {
    const std::lock_guard lock(reload_mu);
    if (!reload_config) return "not available in this process";
    const LoadResult r = reload_config();
    if (!r.config) {
      std::string why = "refused, nothing changed:";
      for (const auto& e : r.errors) why += " " + format_error(e, "config") + ";";
      return why;
    }
    const ReloadPlan plan = plan_reload(running, *r.config);
    if (!plan.applied.empty()) {
      running = merge_reloadable(running, *r.config);
      log::set_level(static_cast<log::Level>(running.log.level));
      board.publish(std::make_unique<ControlPolicy>(running, n_tls));
    }
    return describe(plan);
  };
  // Tracing: at start when trace.pcap is set, and on `sigrelayctl trace`.
  std::mutex trace_mu;
  const auto trace = [&](bool start, const std::string& path_arg) -> std::string {
    const std::lock_guard lock(trace_mu);
    if (!start) {
      if (!pcap.writer.enabled()) return "tracing was off";
      pcap.writer.stop();
      const auto st = pcap.writer.stats();
      return "tracing stopped: " + std::to_string(st.packets_written) + " message(s) written, " +
             std::to_string(st.queue.full) + " dropped (queue full)";
    }
    std::string path = path_arg;
    TraceLimits limits;
    {
      const std::lock_guard rl(reload_mu);  // `running` changes under it
      if (path.empty()) path = running.trace.pcap;
      limits.max_bytes = std::uint64_t{running.trace.max_mb} << 20;
      limits.max_files = running.trace.max_files;
    }
    if (path.empty()) return "error: no path: give one, or set trace.pcap";
    if (path.front() != '/') return "error: " + path + ": the path must be absolute";
    if (pcap.writer.enabled()) pcap.writer.stop();
    std::string why;
    if (pcap.writer.start(path, limits, why) != TraceError::ok) return "error: " + why;
    return "tracing to " + path + ".*.pcap";
  };
  if (!cfg.trace.pcap.empty()) {
    const std::string line = "sigrelay: " + trace(true, cfg.trace.pcap) + "\n";  // one write: no interleaving
    err << line << std::flush;
  }

  // The control socket (sigrelayctl). Like the stats server, optional.
  const auto handle = [&](const std::string& command, const std::vector<std::string>& args,
                          std::string& why) -> nlohmann::json {
    return control_command(command, args, why, {inputs, reload, trace, call_logs, reload_mu, running});
  };
  std::unique_ptr<ControlServer> control;
  if (!cfg.control.socket.empty()) {
    control = std::make_unique<ControlServer>(cfg.control.socket, handle);
    if (!control->start(error)) {
      err << "sigrelay: WARNING: control.socket: " << error << "; running without sigrelayctl access" << std::endl;
      control.reset();
    }
  }

  while (true) {
    pollfd p{sigfd, POLLIN, 0};
    const int ready = poll(&p, 1, 1000);
    check_alarms();
    {
      const std::lock_guard lock(reload_mu);
      board.reclaim();
    }
    if (ready <= 0) continue;
    signalfd_siginfo si{};
    if (read(sigfd, &si, sizeof si) != static_cast<ssize_t>(sizeof si)) continue;
    if (si.ssi_signo == SIGHUP) {
      // One write: a reader of the log never sees half a line.
      const std::string line = "sigrelay: reload: " + reload() + "\n";
      err << line << std::flush;
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
  if (control) control->stop();
  if (stats) stats->stop();
  pcap.writer.stop();
  auto counters = counters_json(inputs());
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
