#include "control/stats_report.hpp"

#include <string_view>

#include "control/prometheus.hpp"

namespace sigrelay::control {
namespace {

using R = dataplane::RelayCounters;
using T = tls::TlsWorkerCounters;

struct RelayField {
  std::string_view name;
  dataplane::Counter R::*member;
  std::string_view help;
};

struct TlsField {
  std::string_view name;
  dataplane::Counter T::*member;
  std::string_view help;
};

// Every scalar counter, once: the JSON and the exposition both come from
// these tables (the meanings are those of relay_counters.hpp and tls_worker.hpp).
constexpr RelayField kRelayFields[] = {
    {"datagrams_in", &R::datagrams_in, "UDP datagrams received"},
    {"acl_denied", &R::acl_denied, "dropped without an answer: source not in acl.allow"},
    {"handoffs_out", &R::handoffs_out, "datagrams handed to the Call-ID's owner worker"},
    {"ring_full", &R::ring_full, "a packet could not be queued to another thread (counted, answered or dropped)"},
    {"pool_empty", &R::pool_empty, "no free packet buffer"},
    {"requests_in", &R::requests_in, "parsed requests received from switches"},
    {"invites_in", &R::invites_in, "new INVITE transactions created"},
    {"invite_retransmissions", &R::invite_retransmissions, "INVITE retransmissions absorbed"},
    {"acks_absorbed", &R::acks_absorbed, "ACKs for non-2xx finals, absorbed"},
    {"acks_unmatched", &R::acks_unmatched, "ACKs matching no transaction (dropped)"},
    {"cancels_in", &R::cancels_in, "CANCELs matching an INVITE transaction"},
    {"options_in", &R::options_in, "OPTIONS answered locally"},
    {"responses_from_switch", &R::responses_from_switch, "responses from a switch (dropped: we send no requests there)"},
    {"malformed_dropped", &R::malformed_dropped, "unparseable messages dropped without an answer"},
    {"malformed_answered", &R::malformed_answered, "malformed requests answered 400/505"},
    {"local_100", &R::local_100, "local 100"},
    {"local_400", &R::local_400, "local 400"},
    {"local_405", &R::local_405, "local 405"},
    {"local_416", &R::local_416, "local 416"},
    {"local_481", &R::local_481, "local 481"},
    {"local_483", &R::local_483, "local 483"},
    {"local_487", &R::local_487, "local 487"},
    {"local_505", &R::local_505, "local 505"},
    {"local_513", &R::local_513, "INVITE too large to keep for the transaction"},
    {"local_503_emergency", &R::local_503_emergency, "emergency guard"},
    {"local_503_no_upstream", &R::local_503_no_upstream, "fail-open: no upstream connection up, or ring full"},
    {"local_503_timeout", &R::local_503_timeout, "fail-open: the service did not answer in time"},
    {"local_503_overload", &R::local_503_overload, "transaction table or store full"},
    {"local_503_shutdown", &R::local_503_shutdown, "answered at graceful shutdown"},
    {"invites_upstream", &R::invites_upstream, "INVITEs sent to the service"},
    {"cancels_upstream", &R::cancels_upstream, "cancels upstream"},
    {"acks_upstream", &R::acks_upstream, "acks upstream"},
    {"responses_upstream_in", &R::responses_upstream_in, "responses received from the service"},
    {"responses_unmatched", &R::responses_unmatched, "responses whose branch matches nothing (forged, stale, late)"},
    {"service_403_404", &R::service_403_404, "'this relay is not whitelisted at the service'"},
    {"finals_relayed", &R::finals_relayed, "service finals passed on to the switch"},
    {"finals_late", &R::finals_late, "service finals that came after a local final (absorbed)"},
    {"final_retransmissions", &R::final_retransmissions, "Timer G retransmissions of finals over UDP"},
    {"timer_h_expired", &R::timer_h_expired, "no ACK came for a final (Timer H)"},
    {"transactions_freed", &R::transactions_freed, "In-line mode (docs/inline.md)."},
    {"inline_searches", &R::inline_searches, "service 302s followed here"},
    {"inline_no_state", &R::inline_no_state, "302 relayed to the switch: no in-line state free (sizing)"},
    {"inline_no_destination", &R::inline_no_destination, "302 without a usable Contact: local 503"},
    {"inline_contacts_skipped", &R::inline_contacts_skipped, "Contacts not tried: unparseable, hostname, transport, ourselves, not allowed"},
    {"inline_refused_self", &R::inline_refused_self, "of which pointed back at sigrelay"},
    {"inline_refused_acl", &R::inline_refused_acl, "of which were outside inline.allow_destinations"},
    {"inline_attempts", &R::inline_attempts, "INVITEs sent to a destination (first transmissions)"},
    {"inline_build_failed", &R::inline_build_failed, "destination INVITE did not fit: that Contact skipped"},
    {"inline_retransmissions", &R::inline_retransmissions, "Timer A retransmissions toward destinations"},
    {"inline_failovers", &R::inline_failovers, "a destination failed (failover code, timeout): the next was tried"},
    {"inline_branch_timeouts", &R::inline_branch_timeouts, "destination silent for inline.branch_timeout_ms"},
    {"inline_ring_timeouts", &R::inline_ring_timeouts, "destination rang past inline.ring_timeout_ms"},
    {"inline_answered", &R::inline_answered, "a destination's 2xx went to the switch"},
    {"inline_exhausted", &R::inline_exhausted, "every destination failed: the best response went to the switch"},
    {"inline_responses_in", &R::inline_responses_in, "responses from destinations matched to a branch"},
    {"inline_stale_responses", &R::inline_stale_responses, "responses on a branch already given up (ACKed; a 2xx is relayed)"},
    {"inline_acks_out", &R::inline_acks_out, "ACKs for destinations' non-2xx finals"},
    {"inline_cancels_out", &R::inline_cancels_out, "CANCELs sent to destinations"},
    {"inline_routed_requests", &R::inline_routed_requests, "in-dialog requests loose-routed (ACK for 2xx, BYE, re-INVITE ...)"},
    {"inline_routed_responses", &R::inline_routed_responses, "responses to those, sent back along their Via"},
    {"inline_route_rejected", &R::inline_route_rejected, "naming us in Route with a bad token, or with no usable next hop"},
    {"inline_tcp_upgrades", &R::inline_tcp_upgrades, "INVITEs over 1300 bytes sent over TCP to a UDP Contact (RFC 3261 §18.1.1)"},
    {"inline_udp_fallbacks", &R::inline_udp_fallbacks, "of which TCP failed and UDP was used after all"},
    {"inline_transport_errors", &R::inline_transport_errors, "messages to destinations that could not be delivered (ICMP, TCP/TLS failure)"},
};

constexpr TlsField kTlsFields[] = {
    {"inbound_accepted", &T::inbound_accepted, "inbound accepted"},
    {"inbound_refused_acl", &T::inbound_refused_acl, "connection closed at once: source not whitelisted"},
    {"inbound_refused_limit", &T::inbound_refused_limit, "too many connections"},
    {"inbound_closed", &T::inbound_closed, "inbound closed"},
    {"inbound_messages", &T::inbound_messages, "inbound messages"},
    {"upstream_messages_in", &T::upstream_messages_in, "upstream messages in"},
    {"upstream_unroutable", &T::upstream_unroutable, "a message from the service whose branch is not ours"},
    {"upstream_send_failed", &T::upstream_send_failed, "no connection up / buffer full when a request was due"},
    {"switch_send_failed", &T::switch_send_failed, "the switch's connection is gone"},
    {"ring_full", &T::ring_full, "ring full"},
    {"pool_empty", &T::pool_empty, "Copied from the UpstreamPool's own counters after every poll."},
    {"upstream_connect_attempts", &T::upstream_connect_attempts, "upstream connect attempts"},
    {"upstream_connect_failures", &T::upstream_connect_failures, "upstream connect failures"},
    {"upstream_handshake_failures", &T::upstream_handshake_failures, "TLS handshake or certificate verification failed"},
    {"upstream_disconnects", &T::upstream_disconnects, "upstream disconnects"},
    {"upstream_failovers", &T::upstream_failovers, "upstream failovers"},
    {"upstream_keepalive_timeouts", &T::upstream_keepalive_timeouts, "In-line mode: connections we open to destinations."},
    {"destination_connects", &T::destination_connects, "destination connects"},
    {"destination_connect_failures", &T::destination_connect_failures, "refused, unreachable, TLS failure, timeout"},
    {"destination_undeliverable", &T::destination_undeliverable, "messages bounced back to the sip worker"},
    {"destination_idle_closed", &T::destination_idle_closed, "destination idle closed"},
    {"inbound_unlisted", &T::inbound_unlisted, "in-line: accepted from outside acl.allow"},
};

constexpr std::string_view kSizeBuckets[] = {"1024", "1300", "1500", "2048", "4096", "+Inf"};

std::uint64_t load(const dataplane::Counter& c) { return c.load(std::memory_order_relaxed); }

dataplane::LatencyHistogram::Snapshot merged(const std::vector<const dataplane::LatencyHistogram*>& hs) {
  dataplane::LatencyHistogram::Snapshot total;
  for (const auto* h : hs) {
    if (h != nullptr) total += h->snapshot();
  }
  return total;
}

nlohmann::json latency_json(const dataplane::LatencyHistogram::Snapshot& s) {
  const auto pct = [&](double p) -> nlohmann::json {
    const std::uint64_t v = s.percentile(p);
    if (v == dataplane::LatencyHistogram::kUnbounded) return nullptr;
    return v;
  };
  return {{"count", s.count()}, {"sum_us", s.sum},       {"p50_us", pct(50)},
          {"p90_us", pct(90)},  {"p99_us", pct(99)},     {"p999_us", pct(99.9)}};
}

}  // namespace

nlohmann::json counters_json(const StatsInputs& in) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& f : kRelayFields) {
    std::uint64_t n = 0;
    for (const auto* c : in.sip) n += load(c->*f.member);
    j[std::string(f.name)] = n;
  }
  for (int k = 3; k <= 6; ++k) {
    std::uint64_t n = 0;
    for (const auto* c : in.sip) n += load(c->service_finals[k]);
    j["service_finals_" + std::to_string(k) + "xx"] = n;
  }
  static constexpr std::string_view kSizeNames[] = {"le_1024", "le_1300", "le_1500", "le_2048", "le_4096", "larger"};
  for (int k = 0; k < 6; ++k) {
    std::uint64_t n = 0;
    for (const auto* c : in.sip) n += load(c->inline_invite_size[k]);
    j["inline_invite_size"][std::string(kSizeNames[k])] = n;
  }
  for (const auto& f : kTlsFields) {
    std::uint64_t n = 0;
    for (const auto* c : in.tls) n += load(c->*f.member);
    j["tls_" + std::string(f.name)] = n;
  }
  return j;
}

nlohmann::json stats_json(const StatsInputs& in) {
  nlohmann::json j;
  j["version"] = in.version;
  j["mode"] = in.mode;
  j["uptime_s"] = in.uptime_s;
  j["time"] = in.time;
  j["counters"] = counters_json(in);
  nlohmann::json to_switch = nlohmann::json::object();
  nlohmann::json from_service = nlohmann::json::object();
  for (std::size_t code = 100; code < 700; ++code) {
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    for (const auto* c : in.sip) {
      a += load(c->to_switch_by_code[code]);
      b += load(c->from_service_by_code[code]);
    }
    if (a != 0) to_switch[std::to_string(code)] = a;
    if (b != 0) from_service[std::to_string(code)] = b;
  }
  j["responses"] = {{"to_switch", to_switch}, {"from_service", from_service}};
  j["latency"] = {{"service_rtt", latency_json(merged(in.service_rtt))}, {"local", latency_json(merged(in.local))}};
  j["upstream_connections_up"] = in.upstream_up;
  j["upstream"] = nlohmann::json::array();
  for (const auto& u : in.upstream) {
    j["upstream"].push_back({{"target", u.target}, {"worker", u.worker}, {"conn", u.conn}, {"state", u.state},
                             {"since_s", u.since_s}, {"tls_version", u.tls_version}, {"cipher", u.cipher}});
  }
  j["alarms"] = nlohmann::json::array();
  for (const auto& a : in.alarms) j["alarms"].push_back({{"name", a.name}, {"active", a.active}, {"detail", a.detail}});
  return j;
}

std::string metrics_text(const StatsInputs& in) {
  MetricsWriter w;
  for (const auto& f : kRelayFields) {
    // promtool reads "_h_" as an abbreviated unit (hours): Timer H is named
    // for what it means.
    const std::string base = f.name == "timer_h_expired" ? "final_ack_timeouts" : std::string(f.name);
    const std::string name = "sigrelay_" + base + "_total";
    for (std::size_t i = 0; i < in.sip.size(); ++i) {
      const std::string worker = std::to_string(i);
      w.counter(name, f.help, {{"worker", worker}}, load(in.sip[i]->*f.member));
    }
  }
  for (std::size_t i = 0; i < in.sip.size(); ++i) {
    const std::string worker = std::to_string(i);
    for (std::size_t code = 100; code < 700; ++code) {
      const std::uint64_t a = load(in.sip[i]->to_switch_by_code[code]);
      const std::uint64_t b = load(in.sip[i]->from_service_by_code[code]);
      const std::string c = std::to_string(code);
      if (a != 0) {
        w.counter("sigrelay_switch_responses_total", "responses sent to switches for INVITEs, by status code",
                  {{"worker", worker}, {"code", c}}, a);
      }
      if (b != 0) {
        w.counter("sigrelay_service_responses_total", "responses received from the service, by status code",
                  {{"worker", worker}, {"code", c}}, b);
      }
    }
    for (std::size_t k = 0; k < 6; ++k) {
      w.counter("sigrelay_inline_invites_by_size_total",
                "in-line INVITEs sent to destinations, by size bucket (bytes, at most le_bytes)",
                {{"worker", worker}, {"le_bytes", kSizeBuckets[k]}}, load(in.sip[i]->inline_invite_size[k]));
    }
    if (i < in.service_rtt.size() && in.service_rtt[i] != nullptr) {
      w.histogram("sigrelay_service_rtt_seconds", "service round trip: INVITE sent to its final answer",
                  {{"worker", worker}}, in.service_rtt[i]->snapshot());
    }
    if (i < in.local.size() && in.local[i] != nullptr) {
      w.histogram("sigrelay_local_processing_seconds", "handling of one received datagram in a sip worker",
                  {{"worker", worker}}, in.local[i]->snapshot());
    }
  }
  for (const auto& f : kTlsFields) {
    const std::string name = "sigrelay_tls_" + std::string(f.name) + "_total";
    for (std::size_t i = 0; i < in.tls.size(); ++i) {
      w.counter(name, f.help, {{"tls_worker", std::to_string(i)}}, load(in.tls[i]->*f.member));
    }
  }
  w.gauge("sigrelay_upstream_connections_up", "upstream connections up now", {}, static_cast<double>(in.upstream_up));
  for (const auto& a : in.alarms) {
    w.gauge("sigrelay_alarm_active", "1 while an alarm is raised (docs/metrics.md)", {{"alarm", a.name}},
            a.active ? 1.0 : 0.0);
  }
  w.gauge("sigrelay_uptime_seconds", "seconds since the daemon started", {}, in.uptime_s);
  return w.str();
}

}  // namespace sigrelay::control
