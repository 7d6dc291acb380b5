// The operator-facing HTTP endpoint (`stats.http`, DESIGN.md §3): Prometheus
// text at /metrics, JSON at /stats.json, /health, and the dashboard's static
// files at /. Read-only: GET and HEAD, nothing else.
//
// Two threads and no more: one accepts, one answers, one connection at a
// time and one request per connection. Every connection has a deadline for
// reading its request and writing the reply, and requests are capped in
// size, so a slow or hostile client delays others by at most that deadline
// and cannot make the server buffer without bound. Connections arriving
// while the answering thread is busy wait in a short queue; past it they get
// 503 at once. HTTP parsing and response framing are cpp-httplib's
// (docs/stats-http.md); sockets, threads and deadlines are ours.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "control/sip_endpoint.hpp"

namespace sigrelay::control {

// Called on the server's answering thread, one request at a time, while the
// server runs; the caller makes them safe to call from there. An empty
// function makes its endpoint answer 404; one that throws makes it answer 500.
struct StatsProviders {
  std::function<std::string()> metrics;                   // Prometheus text exposition
  std::function<std::string()> stats_json;                // a JSON document
  std::function<std::pair<bool, std::string>()> health;   // (healthy, JSON detail)
};

struct StatsServerOptions {
  // Whole life of one connection: reading the request and writing the reply.
  std::chrono::milliseconds connection_deadline{5000};
  // Connections accepted while the answering thread is busy; more get 503.
  std::size_t max_queued_connections = 32;
  // Answer / with a short page naming the assets directory when its
  // index.html is missing, rather than a bare 404.
  bool fallback_page = true;
};

// Monotonic totals since start(); each outcome a client can cause is counted.
struct StatsServerCounters {
  std::uint64_t connections = 0;        // accepted
  std::uint64_t rejected = 0;           // answered 4xx: bad or oversized request, 404, 405
  std::uint64_t timeouts = 0;           // deadline passed before the reply was written
  std::uint64_t shed = 0;               // answered 503 because the queue was full
  std::uint64_t provider_failures = 0;  // a provider threw: answered 500
};

// start(), stop() and the destructor belong to the owning thread; port() and
// counters() may be read from any thread. A provider must not call stop().
class StatsServer {
 public:
  // `assets_dir` holds index.html and its files; it need not exist.
  StatsServer(Endpoint listen, std::string assets_dir, StatsProviders providers,
              StatsServerOptions options = {});
  ~StatsServer();  // stops
  StatsServer(const StatsServer&) = delete;
  StatsServer& operator=(const StatsServer&) = delete;

  // Binds, listens and starts both threads. On failure returns false and
  // sets `error` to a sentence naming the address, e.g.
  // "stats.http 127.0.0.1:9090: cannot bind: Address already in use".
  // Once per object.
  bool start(std::string& error);
  // Closes the listener, abandons the connection in progress and the queued
  // ones, and joins both threads. Prompt whatever clients do; idempotent.
  void stop();
  // The bound port, useful when the endpoint asked for port 0; 0 before start().
  std::uint16_t port() const;
  StatsServerCounters counters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sigrelay::control
