// What the stats server and sigrelayctl show: the workers' counters and
// histograms read (relaxed) by the control thread and turned into the
// Prometheus exposition (/metrics), the JSON the dashboard reads
// (/stats.json) and the one-line counters summary printed at exit.
// Control thread only; allocates.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dataplane/latency_histogram.hpp"
#include "dataplane/relay_counters.hpp"
#include "tls/tls_worker.hpp"

namespace sigrelay::control {

struct UpstreamSession {
  std::string target;  // "tls:sip.example.com:5061"
  unsigned worker = 0;
  unsigned conn = 0;
  std::string state;   // connecting, handshaking, up, draining, down
  double since_s = 0;  // in this state for
  std::string tls_version;
  std::string cipher;
};

struct Alarm {
  std::string name;
  bool active = false;
  std::string detail;
};

struct StatsInputs {
  std::string version;
  std::string mode;
  double uptime_s = 0;
  double time = 0;  // wall clock, seconds since the epoch
  std::vector<const dataplane::RelayCounters*> sip;
  std::vector<const tls::TlsWorkerCounters*> tls;
  std::vector<const dataplane::LatencyHistogram*> service_rtt;  // one per sip worker
  std::vector<const dataplane::LatencyHistogram*> local;        // one per sip worker
  std::vector<UpstreamSession> upstream;
  unsigned upstream_up = 0;  // upstream connections up now (all tls workers)
  std::vector<Alarm> alarms;
};

// Every counter summed over the workers, flat: {"invites_in": 12, ...}.
nlohmann::json counters_json(const StatsInputs& in);
// The dashboard's JSON (docs/stats-http.md).
nlohmann::json stats_json(const StatsInputs& in);
// Prometheus text exposition, per-worker labels (docs/metrics.md).
std::string metrics_text(const StatsInputs& in);

}  // namespace sigrelay::control
