// The one table of configuration keys: name, field, default (as config
// text), codec and one line of help. Everything else walks it with a visitor:
// the Boost.Program_options description (config_options.cpp), the loader
// (config.cpp), the summary (config_summary.cpp) and config_keys().
//
// A visitor provides
//   template <class T, class Codec>
//   void scalar(const char* key, T& field, const char* default_text, const Codec&, const char* help);
//   template <class T, class Codec>
//   void list(const char* key, std::vector<T>& field, const char* default_text, const Codec&, const char* help);
// (T may be const when the Config is.) A list key may be repeated, and each
// value may hold several items separated by commas or white space.
//
// Defaults that depend on other keys (listen.tls when a certificate is set)
// and all cross-key rules are in config_checks.cpp.
#pragma once

#include <string_view>
#include <utility>

#include "control/config.hpp"
#include "control/config_codecs.hpp"
#include "dataplane/emergency.hpp"
#include "sip/branch_codec.hpp"

namespace sigrelay::control {

// Other spellings of a key. `upstream = sip:...` is how the service's own
// documentation writes it (DESIGN.md §3).
inline constexpr std::pair<std::string_view, std::string_view> kKeyAliases[] = {
    {"upstream", "upstream.uri"},
};

// Transaction slots are numbered in 24 bits of the Via branch.
inline constexpr std::uint32_t kMaxTransactionsPerWorker = sip::kMaxBranchSlot + 1;

template <class C, class V>
void bind_keys(C& c, V& v) {
  constexpr NumberCodec workers{1, 64};
  v.scalar("mode", c.mode, "relay", ChoiceCodec<Mode>{kModeChoices},
           "relay: return the service's answer to the switch; inline: follow its 302 as a proxy");

  v.list("listen.udp", c.listen.udp, "0.0.0.0:5060", EndpointCodec{}, "UDP address(es) to take SIP on");
  v.list("listen.tcp", c.listen.tcp, "0.0.0.0:5060", EndpointCodec{}, "TCP address(es) to take SIP on");
  v.list("listen.tls", c.listen.tls, "", EndpointCodec{},
         "TLS address(es); default 0.0.0.0:5061 when tls_cert and tls_key are set");
  v.scalar("listen.tls_cert", c.listen.tls_cert, "", ReadableFileCodec{"certificate"},
           "PEM certificate (chain) the relay shows to switches");
  v.scalar("listen.tls_key", c.listen.tls_key, "", ReadableFileCodec{"private key"},
           "PEM private key of listen.tls_cert");

  v.list("upstream.uri", c.upstream.targets, "", UpstreamUriCodec{},
         "service URI(s) in failover order, e.g. sip:sip.example.net:5061;transport=tls (mandatory)");
  v.scalar("upstream.ca_file", c.upstream.ca_file, "", ReadableFileCodec{"CA"},
           "PEM CA bundle to verify the service with; empty = system trust store");
  v.scalar("upstream.client_cert", c.upstream.client_cert, "", ReadableFileCodec{"certificate"},
           "PEM client certificate for mutual TLS (needs upstream.client_key)");
  v.scalar("upstream.client_key", c.upstream.client_key, "", ReadableFileCodec{"private key"},
           "PEM private key of upstream.client_cert");
  v.scalar("upstream.verify", c.upstream.verify, "true", FlagCodec{},
           "verify the service's certificate and name; false is for labs only");
  v.scalar("upstream.server_name", c.upstream.server_name, "", HostNameCodec{},
           "name to verify (and send as SNI) instead of each URI's host");
  v.scalar("upstream.connections", c.upstream.connections, "2", NumberCodec{1, 64},
           "connections kept open to each upstream");
  v.scalar("upstream.timeout_ms", c.upstream.timeout_ms, "2000", NumberCodec{50, 30000},
           "ms to wait for the service before answering 503 locally (fail open)");
  v.scalar("upstream.keepalive_s", c.upstream.keepalive_s, "30", NumberCodec{0, 3600},
           "seconds between CRLF keepalives on idle connections; 0 = off");
  v.scalar("upstream.reconnect_min_ms", c.upstream.reconnect_min_ms, "100", NumberCodec{10, 600000},
           "first delay before reconnecting, ms; doubles per failure");
  v.scalar("upstream.reconnect_max_ms", c.upstream.reconnect_max_ms, "30000", NumberCodec{10, 600000},
           "longest delay between reconnect attempts, ms");

  v.list("acl.allow", c.acl.allow, "", CidrCodec{},
         "source prefixes allowed to send SIP (IPv4/IPv6 CIDR); empty = nobody");

  v.list("emergency.numbers", c.emergency.numbers, "911 933 112",
         DigitsCodec{dataplane::EmergencyNumbers::kMaxDigits},
         "numbers never sent upstream (local 503 so the switch uses its emergency route)");

  // mode = inline only; in relay mode they are still parsed, but not used.
  v.list("inline.copy_headers", c.in_line.copy_headers, "P-Asserted-Identity, P-Attestation-Indicator",
         HeaderNameCodec{}, "inline: headers copied from the service's 302 into the INVITE besides Identity (always)");
  v.list("inline.failover_codes", c.in_line.failover_codes, "408, 500-599", FailoverCodeCodec{},
         "inline: final codes (3xx-5xx, or ranges like 500-599) after which the next Contact is tried");
  v.scalar("inline.branch_timeout_ms", c.in_line.branch_timeout_ms, "2000", NumberCodec{100, 60000},
           "inline: ms a destination may stay silent (not even 100 Trying) before the next Contact is tried");
  v.scalar("inline.ring_timeout_ms", c.in_line.ring_timeout_ms, "0", OffOrNumberCodec{1000, 180000},
           "inline: ms a destination may ring without a final answer before CANCEL and the next Contact; 0 = Timer C");
  v.list("inline.allow_destinations", c.in_line.allow_destinations, "0.0.0.0/0, ::/0", CidrCodec{},
         "inline: prefixes (IPv4/IPv6 CIDR) a 302's Contact may point to; others are skipped and logged");
  v.scalar("inline.max_redirections", c.in_line.max_redirections, "5", NumberCodec{1, 15},
           "inline: most destinations tried for one call");
  v.scalar("inline.advertise", c.in_line.advertise, "", EndpointCodec{true},
           "inline: our ip:port in Via and Record-Route toward destinations; default from listen.udp/dataplane.address");

  v.scalar("dataplane.backend", c.dataplane.backend, "socket", ChoiceCodec<DataplaneBackend>{kBackendChoices},
           "packet I/O: kernel sockets, or DPDK poll-mode drivers");
  v.scalar("dataplane.workers", c.dataplane.workers, "1", workers, "sip worker threads");
  v.scalar("dataplane.eal", c.dataplane.eal, "", TextCodec{1024},
           "dpdk: EAL arguments (lcores, memory, --vdev, PCI allow-list), e.g. -l 0-1 --in-memory");
  v.scalar("dataplane.port", c.dataplane.port, "", TextCodec{64},
           "dpdk: the switch-facing port's DPDK name (PCI address or vdev name); empty = the first port");
  v.list("dataplane.address", c.dataplane.addresses, "", InterfaceAddressCodec{},
         "dpdk: our address(es) on the port as IP/prefix, IPv4 and/or IPv6");
  v.list("dataplane.gateway", c.dataplane.gateways, "", InterfaceAddressCodec{true},
         "dpdk: next hop for destinations off the subnet, at most one IPv4 and one IPv6");
  v.scalar("dataplane.exception", c.dataplane.exception, "sigrelay0", InterfaceNameCodec{},
           "dpdk: kernel interface (tap) that gets everything but UDP SIP; empty = drop it");
  v.scalar("dataplane.rx_descriptors", c.dataplane.rx_descriptors, "1024", NumberCodec{64, 16384},
           "dpdk: RX descriptors per queue");
  v.scalar("dataplane.tx_descriptors", c.dataplane.tx_descriptors, "1024", NumberCodec{64, 16384},
           "dpdk: TX descriptors per queue");
  v.scalar("dataplane.mbufs", c.dataplane.mbufs, "8191", NumberCodec{1023, 1048575},
           "dpdk: packet buffers per sip worker");
  v.scalar("dataplane.mbuf_size", c.dataplane.mbuf_size, "2048", NumberCodec{2048, 16384},
           "dpdk: data bytes per packet buffer (some PMDs need more, e.g. af_packet with a larger framesz)");
  v.scalar("dataplane.mtu", c.dataplane.mtu, "1500", NumberCodec{1280, 9000},
           "dpdk: largest IP packet on the port; bigger datagrams are fragmented");
  v.scalar("dataplane.vlan", c.dataplane.vlan, "0", NumberCodec{0, 4094},
           "dpdk: 802.1Q VLAN id of the port's traffic; 0 = untagged");
  v.scalar("dataplane.idle_sleep_us", c.dataplane.idle_sleep_us, "0", NumberCodec{0, 10000},
           "dpdk: microseconds a worker naps when it finds nothing to do; 0 = busy poll (lowest latency)");
  v.scalar("tls.workers", c.tls.workers, "1", workers, "upstream TLS worker threads");

  v.scalar("stats.http", c.stats.http, "127.0.0.1:9090", EndpointCodec{},
           "address of the metrics/health HTTP server");
  v.scalar("control.socket", c.control.socket, "/run/sigrelay/control.sock", SocketPathCodec{},
           "Unix socket for sigrelayctl");
  v.scalar("trace.pcap", c.trace.pcap, "", OutputPathCodec{},
           "write every SIP message (TLS legs decrypted) to rotating pcap files PATH.<time>.<n>.pcap; empty = off "
           "(sigrelayctl trace start|stop switches it at run time)");
  v.scalar("trace.max_mb", c.trace.max_mb, "64", NumberCodec{1, 4096}, "rotate a trace file at this many MiB");
  v.scalar("trace.max_files", c.trace.max_files, "10", NumberCodec{1, 1000},
           "trace files kept; the oldest is deleted");
  v.scalar("log.level", c.log.level, "info", ChoiceCodec<LogLevel>{kLogLevelChoices}, "log verbosity");

  v.scalar("limits.max_message_size", c.limits.max_message_size, "16384", NumberCodec{1024, 65535},
           "largest SIP message accepted, bytes");
  v.scalar("limits.max_transactions", c.limits.max_transactions, "65536",
           NumberCodec{1024, kMaxTransactionsPerWorker}, "transactions in flight per sip worker");

  v.scalar("sip.t1_ms", c.sip.t1_ms, "500", NumberCodec{100, 10000}, "RFC 3261 T1 (RTT estimate), ms");
  v.scalar("sip.t2_ms", c.sip.t2_ms, "4000", NumberCodec{100, 60000},
           "RFC 3261 T2 (longest retransmit interval), ms; at least T1");
  v.scalar("sip.t4_ms", c.sip.t4_ms, "5000", NumberCodec{100, 60000},
           "RFC 3261 T4 (longest a message stays in the network), ms");
}

}  // namespace sigrelay::control
