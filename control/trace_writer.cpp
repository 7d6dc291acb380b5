#include "control/trace_writer.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <new>
#include <system_error>
#include <unordered_map>
#include <vector>

namespace sigrelay::control {

namespace {

// How one record sits in a queue buffer, followed by its message bytes.
// Copied in and out with memcpy, so records need no alignment.
struct StoredHeader {
  std::int64_t timestamp_us;
  std::uint32_t length;
  std::uint32_t original_size;
  std::array<std::uint8_t, 16> src;
  std::array<std::uint8_t, 16> dst;
  std::uint16_t src_port;
  std::uint16_t dst_port;
  std::uint8_t ip_version;
  std::uint8_t transport;
  std::uint8_t sent;
  std::uint8_t unused;
};

struct Endpoint {
  std::uint8_t version = 0;
  std::array<std::uint8_t, 16> addr{};
  std::uint16_t port = 0;
};

bool read_endpoint(const sockaddr_storage& s, Endpoint& e) {
  if (s.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(s);
    e.version = 4;
    std::memcpy(e.addr.data(), &v4.sin_addr, 4);
    e.port = ntohs(v4.sin_port);
    return true;
  }
  if (s.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(s);
    e.version = 6;
    std::memcpy(e.addr.data(), &v6.sin6_addr, 16);
    e.port = ntohs(v6.sin6_port);
    return true;
  }
  return false;
}

// ::ffff:a.b.c.d (RFC 4291 §2.5.5.2) becomes a.b.c.d, so a dual-stack
// socket talking to an IPv4 peer still yields one well-formed IPv4 packet.
bool unmap_v4(Endpoint& e) {
  static constexpr std::uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (e.version != 6 || std::memcmp(e.addr.data(), kPrefix, sizeof kPrefix) != 0) return false;
  std::memmove(e.addr.data(), e.addr.data() + 12, 4);
  std::fill(e.addr.begin() + 4, e.addr.end(), std::uint8_t{0});
  e.version = 4;
  return true;
}

bool fill_header(const TraceRecord& r, StoredHeader& h) {
  Endpoint src;
  Endpoint dst;
  if (!read_endpoint(r.src, src) || !read_endpoint(r.dst, dst)) return false;
  if (src.version != dst.version && !unmap_v4(src) && !unmap_v4(dst)) return false;
  const std::size_t length = std::min(r.bytes.size(), kMaxTracedBytes);
  h = StoredHeader{};
  h.timestamp_us = r.timestamp_us;
  h.length = static_cast<std::uint32_t>(length);
  h.original_size = static_cast<std::uint32_t>(std::min<std::size_t>(r.bytes.size(), UINT32_MAX));
  h.src = src.addr;
  h.dst = dst.addr;
  h.src_port = src.port;
  h.dst_port = dst.port;
  h.ip_version = src.version;
  h.transport = static_cast<std::uint8_t>(r.transport);
  h.sent = r.sent ? 1 : 0;
  return true;
}

std::string errno_text(int e) { return std::error_code(e, std::generic_category()).message(); }

}  // namespace

std::int64_t trace_clock_us() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// --- TraceQueue ---------------------------------------------------------

std::size_t TraceQueue::record_bytes(std::size_t message_size) noexcept {
  return sizeof(StoredHeader) + std::min(message_size, kMaxTracedBytes);
}

bool TraceQueue::open(std::size_t capacity_bytes) {
  std::lock_guard lock(mu_);
  if (capacity_bytes != capacity_ || !fill_ || !drain_) {
    std::unique_ptr<std::byte[]> a(new (std::nothrow) std::byte[capacity_bytes]);
    std::unique_ptr<std::byte[]> b(new (std::nothrow) std::byte[capacity_bytes]);
    if (!a || !b) return false;
    fill_ = std::move(a);
    drain_ = std::move(b);
    capacity_ = capacity_bytes;
  }
  used_ = 0;
  wake_ = false;
  counts_ = Counts{};
  open_ = true;
  return true;
}

void TraceQueue::close() {
  {
    std::lock_guard lock(mu_);
    open_ = false;
  }
  cv_.notify_one();
}

TraceQueue::Push TraceQueue::push(const TraceRecord& r) noexcept {
  StoredHeader h;
  const bool addressed = fill_header(r, h);
  const std::size_t need = record_bytes(r.bytes.size());
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (!open_) return Push::closed;
    if (!addressed) {
      ++counts_.bad_address;
      return Push::bad_address;
    }
    if (capacity_ - used_ < need) {
      ++counts_.full;
      return Push::full;
    }
    std::byte* at = fill_.get() + used_;
    std::memcpy(at, &h, sizeof h);
    std::memcpy(at + sizeof h, r.bytes.data(), h.length);
    used_ += need;
    ++counts_.queued;
    ++(r.sent ? counts_.sent : counts_.received);
    if (h.length < r.bytes.size()) ++counts_.truncated;
    // Wake the writer once per fill when half the room is gone; otherwise
    // it comes by on its own tick, and producers make no syscall.
    if (!wake_ && used_ >= capacity_ / 2) wake = wake_ = true;
  }
  if (wake) cv_.notify_one();
  return Push::queued;
}

std::span<const std::byte> TraceQueue::take(std::chrono::milliseconds wait, bool& closed) {
  std::unique_lock lock(mu_);
  if (open_ && !wake_) cv_.wait_for(lock, wait, [this] { return !open_ || wake_; });
  std::swap(fill_, drain_);
  const std::size_t n = used_;
  used_ = 0;
  wake_ = false;
  closed = !open_;
  return {drain_.get(), n};
}

bool TraceQueue::next(std::span<const std::byte>& batch, QueuedTrace& out) noexcept {
  if (batch.size() < sizeof(StoredHeader)) return false;
  StoredHeader h;
  std::memcpy(&h, batch.data(), sizeof h);
  if (batch.size() - sizeof h < h.length) return false;
  out.timestamp_us = h.timestamp_us;
  out.transport = static_cast<TraceTransport>(h.transport);
  out.sent = h.sent != 0;
  out.ip_version = h.ip_version;
  out.src = h.src;
  out.dst = h.dst;
  out.src_port = h.src_port;
  out.dst_port = h.dst_port;
  out.original_size = h.original_size;
  out.bytes = std::string_view(reinterpret_cast<const char*>(batch.data() + sizeof h), h.length);
  batch = batch.subspan(sizeof h + h.length);
  return true;
}

TraceQueue::Counts TraceQueue::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

// --- packets ------------------------------------------------------------

namespace {

constexpr std::size_t kPcapFileHeader = 24;
constexpr std::size_t kPcapRecordHeader = 16;
constexpr int kSnapLen = 262144;  // above any packet built here (IPv6 + TCP + 65495)
constexpr std::uint8_t kProtoTcp = 6;
constexpr std::uint8_t kProtoUdp = 17;
constexpr std::uint8_t kTcpPshAck = 0x18;
constexpr std::uint32_t kInitialSequence = 1;
constexpr auto kWriterTick = std::chrono::milliseconds(100);
constexpr auto kOpenRetry = std::chrono::seconds(1);

void put16(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

void put32(std::uint8_t* p, std::uint32_t v) {
  put16(p, v >> 16);
  put16(p + 2, v & 0xffff);
}

// The Internet checksum's running sum (RFC 1071): 16-bit big-endian words,
// an odd last byte padded with zero. Only the last piece may be odd.
std::uint64_t sum_words(const std::uint8_t* p, std::size_t n, std::uint64_t acc) {
  for (std::size_t i = 0; i + 1 < n; i += 2) acc += (std::uint32_t{p[i]} << 8) | p[i + 1];
  if (n % 2 != 0) acc += std::uint32_t{p[n - 1]} << 8;
  return acc;
}

std::uint16_t fold(std::uint64_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<std::uint16_t>(~acc & 0xffff);
}

std::size_t ip_header_size(const QueuedTrace& t) { return t.ip_version == 4 ? 20 : 40; }
std::size_t l4_header_size(const QueuedTrace& t) { return t.transport == TraceTransport::udp ? 8 : 20; }

// One direction of one TCP connection as the trace shows it.
using FlowKey = std::array<std::uint8_t, 37>;

FlowKey flow_key(std::uint8_t version, const std::array<std::uint8_t, 16>& from, std::uint16_t from_port,
                 const std::array<std::uint8_t, 16>& to, std::uint16_t to_port) {
  FlowKey k{};
  k[0] = version;
  std::copy(from.begin(), from.end(), k.begin() + 1);
  std::copy(to.begin(), to.end(), k.begin() + 17);
  put16(k.data() + 33, from_port);
  put16(k.data() + 35, to_port);
  return k;
}

struct FlowHash {
  std::size_t operator()(const FlowKey& k) const {
    return std::hash<std::string_view>{}(
        std::string_view(reinterpret_cast<const char*>(k.data()), k.size()));
  }
};

}  // namespace

// --- the writer thread's state -------------------------------------------

struct TraceWriter::Output {
  Output(const std::string& p, const TraceLimits& l, WriterCounts& c)
      : path(p), limits(l), counts(c), packet(40 + 20 + kMaxTracedBytes) {}
  ~Output() {
    close_file();
    if (dead != nullptr) pcap_close(dead);
  }
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  std::string path;
  TraceLimits limits;
  WriterCounts& counts;
  pcap_t* dead = nullptr;  // pcap_open_dead: link type and snap length for the dumper
  pcap_dumper_t* dumper = nullptr;
  std::uint64_t file_bytes = 0;
  std::uint64_t file_packets = 0;
  std::chrono::steady_clock::time_point opened_at{};
  std::chrono::steady_clock::time_point retry_after{};
  std::deque<std::string> files;  // ours by name, oldest first; the open one last
  std::string last_stamp;
  unsigned stamp_counter = 0;
  // Each file stands alone: sequence numbers start again in every file.
  std::unordered_map<FlowKey, std::uint32_t, FlowHash> next_sequence;
  std::uint16_t ip_id = 0;
  std::vector<std::uint8_t> packet;

  // Traces of earlier runs count against max_files too, so a restart loop
  // cannot fill the disk. Only names of exactly our pattern are touched.
  void adopt_existing() {
    namespace fs = std::filesystem;
    const fs::path p(path);
    const std::string base = p.filename().string() + ".";
    fs::path dir = p.parent_path();
    if (dir.empty()) dir = ".";
    std::vector<std::string> found;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.size() != base.size() + 28 || name.compare(0, base.size(), base) != 0) continue;
      const std::string_view rest = std::string_view(name).substr(base.size());
      if (!matches_stamp(rest)) continue;
      found.push_back(path + "." + std::string(rest));
    }
    std::sort(found.begin(), found.end());
    files.assign(found.begin(), found.end());
  }

  // "YYYYmmddTHHMMSSZ.NNNNNN.pcap"
  static bool matches_stamp(std::string_view s) {
    static constexpr std::string_view kShape = "dddddddd" "T" "dddddd" "Z.dddddd.pcap";
    if (s.size() != kShape.size()) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const bool ok = kShape[i] == 'd' ? (s[i] >= '0' && s[i] <= '9') : s[i] == kShape[i];
      if (!ok) return false;
    }
    return true;
  }

  bool open_next(std::string& error) {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    tm utc{};
    gmtime_r(&now.tv_sec, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
    if (last_stamp == stamp) {
      ++stamp_counter;
    } else {
      last_stamp = stamp;
      stamp_counter = 0;
    }
    // O_EXCL: never append to or truncate a file we did not just make
    // (a clock stepped back, two writers on one path).
    for (int attempt = 0; attempt < 64 && stamp_counter <= 999999; ++attempt, ++stamp_counter) {
      char suffix[48];
      std::snprintf(suffix, sizeof suffix, ".%s.%06u.pcap", stamp, stamp_counter);
      const std::string name = path + suffix;
      const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0) {
        if (errno == EEXIST) continue;
        error = name + ": " + errno_text(errno);
        return false;
      }
      FILE* f = fdopen(fd, "wb");
      if (f == nullptr) {
        error = name + ": " + errno_text(errno);
        ::close(fd);
        ::unlink(name.c_str());
        return false;
      }
      dumper = pcap_dump_fopen(dead, f);
      if (dumper == nullptr) {
        error = name + ": " + pcap_geterr(dead);
        std::fclose(f);
        ::unlink(name.c_str());
        return false;
      }
      file_bytes = kPcapFileHeader;
      file_packets = 0;
      opened_at = std::chrono::steady_clock::now();
      next_sequence.clear();
      ip_id = 0;
      files.push_back(name);
      counts.files_opened.fetch_add(1, std::memory_order_relaxed);
      counts.bytes_written.fetch_add(kPcapFileHeader, std::memory_order_relaxed);
      prune();
      return true;
    }
    error = path + ": no free file name for " + stamp;
    return false;
  }

  void prune() {
    while (files.size() > limits.max_files) {
      if (::unlink(files.front().c_str()) == 0 || errno == ENOENT) {
        counts.files_deleted.fetch_add(1, std::memory_order_relaxed);
      }
      files.pop_front();
    }
  }

  void flush() {
    if (dumper != nullptr && pcap_dump_flush(dumper) != 0) {
      counts.write_errors.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void close_file() {
    if (dumper == nullptr) return;
    flush();
    pcap_dump_close(dumper);
    dumper = nullptr;
  }

  bool rotation_due(std::uint64_t need, std::chrono::steady_clock::time_point now) const {
    if (file_packets == 0) return false;  // a lone oversized packet still gets a file
    if (file_bytes + need > limits.max_bytes) return true;
    return limits.max_age.count() > 0 && now - opened_at >= limits.max_age;
  }

  void write(const QueuedTrace& t) {
    const std::size_t size = ip_header_size(t) + l4_header_size(t) + t.bytes.size();
    const std::uint64_t need = kPcapRecordHeader + size;
    const auto now = std::chrono::steady_clock::now();
    if (dumper != nullptr && rotation_due(need, now)) close_file();
    if (dumper == nullptr) {
      std::string error;
      if (now < retry_after || !open_next(error)) {
        if (now >= retry_after) {
          counts.open_errors.fetch_add(1, std::memory_order_relaxed);
          retry_after = now + kOpenRetry;
        }
        counts.dropped_no_file.fetch_add(1, std::memory_order_relaxed);
        return;
      }
    }
    build(t);
    pcap_pkthdr hdr{};
    const std::int64_t us = std::max<std::int64_t>(t.timestamp_us, 0);
    hdr.ts.tv_sec = static_cast<time_t>(us / 1000000);
    hdr.ts.tv_usec = static_cast<suseconds_t>(us % 1000000);
    hdr.caplen = static_cast<bpf_u_int32>(size);
    hdr.len = static_cast<bpf_u_int32>(size);
    pcap_dump(reinterpret_cast<u_char*>(dumper), &hdr, packet.data());
    file_bytes += need;
    ++file_packets;
    counts.packets_written.fetch_add(1, std::memory_order_relaxed);
    counts.bytes_written.fetch_add(need, std::memory_order_relaxed);
  }

  // Sequence numbers advance by each message's length, and the ACK carries
  // what the other direction has sent so far, so Wireshark sees a tidy
  // stream and every segment starts one whole SIP message.
  void tcp_numbers(const QueuedTrace& t, std::uint32_t& seq, std::uint32_t& ack) {
    const FlowKey fwd = flow_key(t.ip_version, t.src, t.src_port, t.dst, t.dst_port);
    const FlowKey rev = flow_key(t.ip_version, t.dst, t.dst_port, t.src, t.src_port);
    auto f = next_sequence.try_emplace(fwd, kInitialSequence).first;
    seq = f->second;
    f->second += static_cast<std::uint32_t>(t.bytes.size());
    ack = next_sequence.try_emplace(rev, kInitialSequence).first->second;
  }

  void build(const QueuedTrace& t) {
    const bool tcp = t.transport != TraceTransport::udp;
    const std::uint8_t proto = tcp ? kProtoTcp : kProtoUdp;
    const std::size_t ip_len = ip_header_size(t);
    const std::size_t l4_len = l4_header_size(t);
    const std::size_t segment_len = l4_len + t.bytes.size();
    const std::size_t addr_len = t.ip_version == 4 ? 4 : 16;
    std::uint8_t* ip = packet.data();
    std::uint8_t* l4 = ip + ip_len;

    std::memcpy(l4 + l4_len, t.bytes.data(), t.bytes.size());
    put16(l4, t.src_port);
    put16(l4 + 2, t.dst_port);
    std::size_t checksum_at = 6;
    if (tcp) {
      std::uint32_t seq = 0;
      std::uint32_t ack = 0;
      tcp_numbers(t, seq, ack);
      put32(l4 + 4, seq);
      put32(l4 + 8, ack);
      l4[12] = 5 << 4;  // data offset: 5 words, no options
      l4[13] = kTcpPshAck;
      put16(l4 + 14, 65535);  // window
      put16(l4 + 16, 0);
      put16(l4 + 18, 0);  // urgent pointer
      checksum_at = 16;
    } else {
      put16(l4 + 4, static_cast<std::uint32_t>(segment_len));
      put16(l4 + 6, 0);
    }
    // Pseudo-header (RFC 768, RFC 9293 §3.1, RFC 8200 §8.1): addresses,
    // protocol and upper-layer length, summed as 16-bit words.
    std::uint64_t acc = 0;
    acc = sum_words(t.src.data(), addr_len, acc);
    acc = sum_words(t.dst.data(), addr_len, acc);
    acc += proto;
    acc += (segment_len >> 16) + (segment_len & 0xffff);
    acc = sum_words(l4, segment_len, acc);
    std::uint16_t checksum = fold(acc);
    if (!tcp && checksum == 0) checksum = 0xffff;  // UDP: zero means "none"
    put16(l4 + checksum_at, checksum);

    if (t.ip_version == 4) {
      ip[0] = 0x45;  // version 4, 5-word header
      ip[1] = 0;
      put16(ip + 2, static_cast<std::uint32_t>(ip_len + segment_len));
      put16(ip + 4, ip_id++);
      put16(ip + 6, 0x4000);  // don't fragment
      ip[8] = 64;
      ip[9] = proto;
      put16(ip + 10, 0);
      std::memcpy(ip + 12, t.src.data(), 4);
      std::memcpy(ip + 16, t.dst.data(), 4);
      put16(ip + 10, fold(sum_words(ip, 20, 0)));
    } else {
      put32(ip, 0x60000000);  // version 6, no traffic class, no flow label
      put16(ip + 4, static_cast<std::uint32_t>(segment_len));
      ip[6] = proto;
      ip[7] = 64;
      std::memcpy(ip + 8, t.src.data(), 16);
      std::memcpy(ip + 24, t.dst.data(), 16);
    }
  }
};

// --- TraceWriter ----------------------------------------------------------

std::string_view to_string(TraceError e) {
  switch (e) {
    case TraceError::ok: return "ok";
    case TraceError::already_running: return "already_running";
    case TraceError::bad_limits: return "bad_limits";
    case TraceError::bad_path: return "bad_path";
    case TraceError::no_memory: return "no_memory";
    case TraceError::open_failed: return "open_failed";
    case TraceError::thread_failed: return "thread_failed";
  }
  return "unknown";
}

TraceWriter::TraceWriter() = default;

TraceWriter::~TraceWriter() { stop(); }

TraceError TraceWriter::start(const std::string& path, const TraceLimits& limits,
                              std::string& error) {
  if (thread_.joinable()) {
    error = "tracing is already running";
    return TraceError::already_running;
  }
  if (limits.max_files < 1 || limits.max_bytes <= kPcapFileHeader ||
      limits.queue_bytes < kMinQueueBytes) {
    error = "trace limits: max_files must be at least 1, max_bytes above " +
            std::to_string(kPcapFileHeader) + ", queue_bytes at least " +
            std::to_string(kMinQueueBytes);
    return TraceError::bad_limits;
  }
  std::error_code ec;
  if (path.empty() || path.back() == '/' || std::filesystem::is_directory(path, ec)) {
    error = "trace path '" + path + "' must name a file prefix, not a directory";
    return TraceError::bad_path;
  }

  counts_.packets_written.store(0, std::memory_order_relaxed);
  counts_.bytes_written.store(0, std::memory_order_relaxed);
  counts_.files_opened.store(0, std::memory_order_relaxed);
  counts_.files_deleted.store(0, std::memory_order_relaxed);
  counts_.open_errors.store(0, std::memory_order_relaxed);
  counts_.dropped_no_file.store(0, std::memory_order_relaxed);
  counts_.write_errors.store(0, std::memory_order_relaxed);

  auto out = std::make_unique<Output>(path, limits, counts_);
  // LINKTYPE_RAW: each record is a bare IPv4 or IPv6 packet, told apart by
  // its version nibble, so one file holds both families.
  out->dead = pcap_open_dead_with_tstamp_precision(DLT_RAW, kSnapLen, PCAP_TSTAMP_PRECISION_MICRO);
  if (out->dead == nullptr) {
    error = "pcap_open_dead failed";
    return TraceError::no_memory;
  }
  if (!queue_.open(limits.queue_bytes)) {
    error = "no memory for a trace queue of " + std::to_string(limits.queue_bytes) + " bytes";
    return TraceError::no_memory;
  }
  out->adopt_existing();
  if (!out->open_next(error)) {
    queue_.close();
    return TraceError::open_failed;
  }
  out_ = std::move(out);
  try {
    thread_ = std::thread(&TraceWriter::run, this);
  } catch (const std::system_error& e) {
    queue_.close();
    out_->close_file();
    error = std::string("cannot start the trace writer thread: ") + e.what();
    return TraceError::thread_failed;
  }
  enabled_.store(true, std::memory_order_relaxed);
  return TraceError::ok;
}

void TraceWriter::stop() {
  if (!thread_.joinable()) return;
  enabled_.store(false, std::memory_order_relaxed);
  queue_.close();
  thread_.join();
}

bool TraceWriter::record(const TraceRecord& r) noexcept {
  if (!enabled()) return false;
  return queue_.push(r) == TraceQueue::Push::queued;
}

void TraceWriter::run() {
  Output& out = *out_;
  for (;;) {
    bool closed = false;
    std::span<const std::byte> batch = queue_.take(kWriterTick, closed);
    QueuedTrace t;
    bool wrote = false;
    while (TraceQueue::next(batch, t)) {
      out.write(t);
      wrote = true;
    }
    // Once per batch, so a trace being read live is at most a tick behind.
    if (wrote) out.flush();
    if (closed) break;
  }
  out.close_file();
}

TraceStats TraceWriter::stats() const {
  TraceStats s;
  s.queue = queue_.counts();
  s.packets_written = counts_.packets_written.load(std::memory_order_relaxed);
  s.bytes_written = counts_.bytes_written.load(std::memory_order_relaxed);
  s.files_opened = counts_.files_opened.load(std::memory_order_relaxed);
  s.files_deleted = counts_.files_deleted.load(std::memory_order_relaxed);
  s.open_errors = counts_.open_errors.load(std::memory_order_relaxed);
  s.dropped_no_file = counts_.dropped_no_file.load(std::memory_order_relaxed);
  s.write_errors = counts_.write_errors.load(std::memory_order_relaxed);
  return s;
}

}  // namespace sigrelay::control
