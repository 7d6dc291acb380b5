#include "control/control_commands.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "control/cidr.hpp"
#include "control/version.hpp"
#include "dataplane/socket_address.hpp"

namespace sigrelay::control {
namespace {

bool parse_ip(const std::string& text, sockaddr_storage& out) {
  out = sockaddr_storage{};
  auto& v4 = reinterpret_cast<sockaddr_in&>(out);
  if (inet_pton(AF_INET, text.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    return true;
  }
  auto& v6 = reinterpret_cast<sockaddr_in6&>(out);
  if (inet_pton(AF_INET6, text.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    return true;
  }
  return false;
}

}  // namespace

nlohmann::json call_record_json(const dataplane::CallRecord& r) {
  const auto secs = static_cast<double>(r.time_us) / 1e6;
  return {{"time", secs},
          {"worker", r.worker},
          {"source", dataplane::address_text(r.source)},
          {"call_id", r.call_id},
          {"calling", r.calling},
          {"called", r.called},
          {"decision", std::string(dataplane::to_string(r.decision))},
          {"final", r.final_code},
          {"service_code", r.service_code},
          {"service_ms", static_cast<double>(r.service_us) / 1000.0},
          {"total_ms", static_cast<double>(r.total_us) / 1000.0},
          {"detail", r.detail}};
}

nlohmann::json control_command(const std::string& command, const std::vector<std::string>& args, std::string& error,
                               const CommandContext& ctx) {
  if (command == "version") return {{"version", std::string(kVersion)}};
  if (command == "stats") return stats_json(ctx.inputs());
  if (command == "sessions") {
    const StatsInputs in = ctx.inputs();
    nlohmann::json j = stats_json(in);
    return {{"upstream", j["upstream"]}, {"tls_upstream_connect_attempts", j["counters"]["tls_upstream_connect_attempts"]},
            {"tls_upstream_disconnects", j["counters"]["tls_upstream_disconnects"]}};
  }
  if (command == "reload") return {{"reload", ctx.reload()}};
  if (command == "acl") {
    if (args.empty()) {
      error = "acl needs 'list' or 'test IP'";
      return nullptr;
    }
    std::vector<Cidr> allow;
    {
      const std::lock_guard lock(ctx.mu);
      allow = ctx.running.acl.allow;
    }
    if (args[0] == "list" && args.size() == 1) {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& c : allow) list.push_back(c.to_string());
      return {{"acl.allow", list}};
    }
    if (args[0] == "test" && args.size() == 2) {
      sockaddr_storage a{};
      if (!parse_ip(args[1], a)) {
        error = "acl test: '" + args[1] + "' is not an IPv4 or IPv6 address";
        return nullptr;
      }
      std::string matched;
      for (const auto& c : allow) {
        if (AddressAcl(std::vector<Cidr>{c}).allows(a)) {
          matched = c.to_string();
          break;
        }
      }
      nlohmann::json r = {{"address", args[1]}, {"allowed", !matched.empty()}};
      if (!matched.empty()) r["rule"] = matched;  // docs/sigrelayctl.md, "Results"
      return r;
    }
    error = "acl needs 'list' or 'test IP'";
    return nullptr;
  }
  if (command == "why") {
    if (args.size() != 1 || args[0].empty()) {
      error = "why needs one Call-ID or telephone number";
      return nullptr;
    }
    std::vector<dataplane::CallRecord> found;
    for (const auto& log : ctx.call_logs) {
      auto part = log->find(args[0]);
      found.insert(found.end(), part.begin(), part.end());
    }
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.time_us < b.time_us; });
    nlohmann::json calls = nlohmann::json::array();
    for (const auto& r : found) calls.push_back(call_record_json(r));
    return {{"key", args[0]}, {"calls", calls}};
  }
  if (command == "trace") {
    const bool start = !args.empty() && args[0] == "start" && args.size() <= 2;
    const bool stop = args.size() == 1 && args[0] == "stop";
    if (!start && !stop) {
      error = "trace needs 'start [PATH]' or 'stop'";
      return nullptr;
    }
    const std::string answer = ctx.trace(start, start && args.size() == 2 ? args[1] : std::string());
    if (answer.rfind("error: ", 0) == 0) {
      error = "trace: " + answer.substr(7);
      return nullptr;
    }
    return {{"trace", answer}};
  }
  error = "unknown command '" + command + "' (version, stats, sessions, reload, acl, why, trace)";
  return nullptr;
}

}  // namespace sigrelay::control
