#include "tests/dataplane/net/net_test_support.hpp"

#include <arpa/inet.h>
#include <rte_eal.h>
#include <unistd.h>

#include <cstring>

namespace sigrelay::dataplane::net::test {

namespace {

struct Eal {
  std::string problem;
  rte_mempool* pool = nullptr;
  rte_mempool* small = nullptr;

  Eal() {
    const std::string prefix = "--file-prefix=sigrelay_net_test_" + std::to_string(getpid());
    std::vector<std::string> args = {"net_test", "--no-huge", "-m", "256", "--no-shconf", "--no-pci", prefix, "--log-level=*:error",
                                     "--no-telemetry"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
      problem = "rte_eal_init failed (it needs root here): dataplane/net tests skipped";
      return;
    }
    pool = rte_pktmbuf_pool_create("net_test", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    small = rte_pktmbuf_pool_create("net_test_small", 4095, 0, 0, RTE_PKTMBUF_HEADROOM + 256, SOCKET_ID_ANY);
    if (pool == nullptr || small == nullptr) problem = "mempool creation failed";
  }
  // The runtime directory stays empty with --no-shconf: leave nothing behind.
  ~Eal() {
    if (!problem.empty()) return;
    rte_eal_cleanup();
    rmdir(("/var/run/dpdk/sigrelay_net_test_" + std::to_string(getpid())).c_str());
  }
};

Eal& eal() {
  static Eal e;
  return e;
}

void put16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}

void free_ext(void* addr, void* opaque) {
  delete[] static_cast<std::uint8_t*>(addr);
  delete static_cast<rte_mbuf_ext_shared_info*>(opaque);
}

}  // namespace

const std::string& eal_problem() { return eal().problem; }
rte_mempool* test_pool() { return eal().pool; }
rte_mempool* small_pool() { return eal().small; }

std::uint16_t inet_checksum(const Bytes& data) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < data.size(); i += 2) {
    std::uint32_t word = static_cast<std::uint32_t>(data[i]) << 8;
    if (i + 1 < data.size()) word |= data[i + 1];
    sum += word;
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

Ip6 ip6(const char* t) {
  Ip6 a{};
  inet_pton(AF_INET6, t, a.data());
  return a;
}
const Ip6& our6() {
  static const Ip6 a = ip6("2001:db8::10");
  return a;
}
const Ip6& peer6() {
  static const Ip6 a = ip6("2001:db8::20");
  return a;
}

Bytes ether(const Mac& dst, const Mac& src, std::uint16_t type, std::uint16_t vlan) {
  Bytes b(dst.begin(), dst.end());
  b.insert(b.end(), src.begin(), src.end());
  if (vlan != 0) {
    put16(b, 0x8100);
    put16(b, vlan);
  }
  put16(b, type);
  return b;
}

Bytes ipv4(const Ip4& src, const Ip4& dst, std::uint8_t proto, const Bytes& payload, std::uint16_t id, std::uint16_t frag,
           std::uint8_t ttl) {
  Bytes h = {0x45, 0};
  put16(h, static_cast<std::uint16_t>(20 + payload.size()));
  put16(h, id);
  put16(h, frag);
  h.push_back(ttl);
  h.push_back(proto);
  put16(h, 0);
  h.insert(h.end(), src.begin(), src.end());
  h.insert(h.end(), dst.begin(), dst.end());
  const std::uint16_t c = inet_checksum(h);
  h[10] = static_cast<std::uint8_t>(c >> 8);
  h[11] = static_cast<std::uint8_t>(c);
  return cat(h, payload);
}

Bytes ipv6(const Ip6& src, const Ip6& dst, std::uint8_t next, const Bytes& payload, std::uint8_t hop) {
  Bytes h = {0x60, 0, 0, 0};
  put16(h, static_cast<std::uint16_t>(payload.size()));
  h.push_back(next);
  h.push_back(hop);
  h.insert(h.end(), src.begin(), src.end());
  h.insert(h.end(), dst.begin(), dst.end());
  return cat(h, payload);
}

namespace {

Bytes udp_with(const Bytes& pseudo, std::uint16_t sport, std::uint16_t dport, const Bytes& payload) {
  Bytes u;
  put16(u, sport);
  put16(u, dport);
  put16(u, static_cast<std::uint16_t>(8 + payload.size()));
  put16(u, 0);
  u = cat(u, payload);
  std::uint16_t c = inet_checksum(cat(pseudo, u));
  if (c == 0) c = 0xffff;
  u[6] = static_cast<std::uint8_t>(c >> 8);
  u[7] = static_cast<std::uint8_t>(c);
  return u;
}

Bytes pseudo6(const Ip6& src, const Ip6& dst, std::uint32_t len, std::uint8_t next) {
  Bytes p(src.begin(), src.end());
  p.insert(p.end(), dst.begin(), dst.end());
  p.push_back(static_cast<std::uint8_t>(len >> 24));
  p.push_back(static_cast<std::uint8_t>(len >> 16));
  p.push_back(static_cast<std::uint8_t>(len >> 8));
  p.push_back(static_cast<std::uint8_t>(len));
  p.insert(p.end(), {0, 0, 0, next});
  return p;
}

}  // namespace

Bytes udp4(const Ip4& src, const Ip4& dst, std::uint16_t sport, std::uint16_t dport, const Bytes& payload) {
  Bytes p(src.begin(), src.end());
  p.insert(p.end(), dst.begin(), dst.end());
  p.push_back(0);
  p.push_back(17);
  put16(p, static_cast<std::uint16_t>(8 + payload.size()));
  return udp_with(p, sport, dport, payload);
}

Bytes udp6(const Ip6& src, const Ip6& dst, std::uint16_t sport, std::uint16_t dport, const Bytes& payload) {
  return udp_with(pseudo6(src, dst, static_cast<std::uint32_t>(8 + payload.size()), 17), sport, dport, payload);
}

Bytes icmp6(const Ip6& src, const Ip6& dst, std::uint8_t type, std::uint8_t code, const Bytes& body) {
  Bytes m = {type, code, 0, 0};
  m = cat(m, body);
  const std::uint16_t c = inet_checksum(cat(pseudo6(src, dst, static_cast<std::uint32_t>(m.size()), 58), m));
  m[2] = static_cast<std::uint8_t>(c >> 8);
  m[3] = static_cast<std::uint8_t>(c);
  return m;
}

Bytes arp(std::uint16_t op, const Mac& sha, const Ip4& spa, const Mac& tha, const Ip4& tpa) {
  Bytes b = {0, 1, 0x08, 0x00, 6, 4};
  put16(b, op);
  b.insert(b.end(), sha.begin(), sha.end());
  b.insert(b.end(), spa.begin(), spa.end());
  b.insert(b.end(), tha.begin(), tha.end());
  b.insert(b.end(), tpa.begin(), tpa.end());
  return b;
}

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::uint16_t be16(const Bytes& b, std::size_t at) { return static_cast<std::uint16_t>(b.at(at) << 8 | b.at(at + 1)); }
std::uint32_t be32(const Bytes& b, std::size_t at) {
  return static_cast<std::uint32_t>(be16(b, at)) << 16 | be16(b, at + 2);
}

rte_mbuf* exact_mbuf(const Bytes& frame, std::uint16_t headroom) {
  rte_mbuf* m = rte_pktmbuf_alloc(test_pool());
  if (m == nullptr) return nullptr;
  const std::size_t size = frame.size() + headroom;
  auto* buf = new std::uint8_t[size == 0 ? 1 : size];
  if (!frame.empty()) std::memcpy(buf + headroom, frame.data(), frame.size());
  auto* shinfo = new rte_mbuf_ext_shared_info{};
  shinfo->free_cb = free_ext;
  shinfo->fcb_opaque = shinfo;
  rte_mbuf_ext_refcnt_set(shinfo, 1);
  rte_pktmbuf_attach_extbuf(m, buf, rte_mem_virt2iova(buf), static_cast<std::uint16_t>(size), shinfo);
  m->data_off = headroom;
  m->data_len = static_cast<std::uint16_t>(frame.size());
  m->pkt_len = static_cast<std::uint32_t>(frame.size());
  return m;
}

rte_mbuf* pool_mbuf(const Bytes& frame, std::size_t seg) {
  rte_mbuf* head = rte_pktmbuf_alloc(test_pool());
  if (head == nullptr) return nullptr;
  if (seg == 0) seg = frame.size() == 0 ? 1 : frame.size();
  rte_mbuf* tail = head;
  for (std::size_t at = 0; at < frame.size(); at += seg) {
    const std::size_t n = frame.size() - at < seg ? frame.size() - at : seg;
    if (at != 0) {
      rte_mbuf* s = rte_pktmbuf_alloc(test_pool());
      tail->next = s;
      tail = s;
      ++head->nb_segs;
    }
    std::memcpy(rte_pktmbuf_mtod(tail, std::uint8_t*), frame.data() + at, n);
    tail->data_len = static_cast<std::uint16_t>(n);
    head->pkt_len += static_cast<std::uint32_t>(n);
  }
  return head;
}

Bytes bytes_of(const rte_mbuf* m) { return bytes_of(m, 0, m->pkt_len); }

Bytes bytes_of(const rte_mbuf* m, std::uint32_t offset, std::uint32_t len) {
  Bytes out(len);
  const void* p = rte_pktmbuf_read(m, offset, len, out.data());
  if (p == nullptr) return {};
  if (p != out.data()) std::memcpy(out.data(), p, len);
  return out;
}

NetConfig default_config() {
  NetConfig c;
  std::memcpy(c.mac.addr_bytes, kOurMac.data(), 6);
  Prefix p4, p6;
  Prefix::parse("192.0.2.10/24", p4);
  Prefix::parse("2001:db8::10/64", p6);
  c.addresses = {p4, p6};
  IpAddress g4, g6;
  IpAddress::parse("192.0.2.1", g4);
  IpAddress::parse("fe80::1", g6);
  c.gateway4 = g4;
  c.gateway6 = g6;
  return c;
}

void NetStackTest::SetUp() {
  REQUIRE_EAL();
  pool_before_ = rte_mempool_avail_count(test_pool());
  small_before_ = rte_mempool_avail_count(small_pool());
  make_stack(default_config());
}

void NetStackTest::make_stack(const NetConfig& cfg) {
  stack_.reset();
  cfg_ = cfg;
  NetError err = NetError::ok;
  stack_ = NetStack::create(cfg, test_pool(), err);
  ASSERT_NE(stack_, nullptr) << to_string(err);
}

void NetStackTest::TearDown() {
  if (!eal_problem().empty()) return;
  for (auto* m : keep_) rte_pktmbuf_free(m);
  keep_.clear();
  stack_.reset();
  EXPECT_EQ(rte_mempool_avail_count(test_pool()), pool_before_) << "mbufs leaked";
  EXPECT_EQ(rte_mempool_avail_count(small_pool()), small_before_) << "small-pool mbufs leaked";
}

RxVerdict NetStackTest::feed(const Bytes& frame, std::int64_t now_ms) {
  rte_mbuf* m = exact_mbuf(frame, 16);
  out_ = SipDatagram{};
  const RxVerdict v = stack_->receive(m, sip::Millis{now_ms}, out_);
  if (v != RxVerdict::consumed) keep_.push_back(out_.m);
  return v;
}

std::vector<rte_mbuf*> NetStackTest::take_tx_mbufs() {
  std::vector<rte_mbuf*> v;
  rte_mbuf* burst[32];
  for (unsigned n; (n = stack_->take_tx(burst, 32)) > 0;) v.insert(v.end(), burst, burst + n);
  return v;
}

std::vector<Bytes> NetStackTest::drain_tx() {
  std::vector<Bytes> frames;
  for (auto* m : take_tx_mbufs()) {
    frames.push_back(bytes_of(m));
    rte_pktmbuf_free(m);
  }
  return frames;
}

}  // namespace sigrelay::dataplane::net::test
