// Call traces (docs/tracing.md): every SIP message the relay sends or
// receives, TLS legs already decrypted by the caller, written as one
// synthetic IPv4 or IPv6 packet each to a rotating classic pcap file that
// Wireshark and tshark decode as SIP.
//
// Threads: any number of producers (sip workers, tls workers) call record();
// one writer thread, owned by TraceWriter, builds the packets and writes the
// files; start() and stop() belong to the control thread.
#pragma once

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>

namespace sigrelay::control {

enum class TraceTransport : std::uint8_t { udp, tcp, tls };

struct TraceRecord {
  std::int64_t timestamp_us = 0;  // CLOCK_REALTIME in microseconds: trace_clock_us()
  sockaddr_storage src{};         // AF_INET or AF_INET6, port set
  sockaddr_storage dst{};
  TraceTransport transport = TraceTransport::udp;
  // Classic pcap has no direction field: src and dst say who sent it. This
  // flag only feeds the sent/received counters.
  bool sent = false;
  std::string_view bytes;  // exactly one SIP message; record() copies it
};

// CLOCK_REALTIME now, in microseconds since the epoch.
std::int64_t trace_clock_us() noexcept;

// The longest message kept whole: what fits in one IPv4 packet behind IPv4
// and TCP headers (65535 - 20 - 20). Longer messages are cut to this and
// counted as truncated.
inline constexpr std::size_t kMaxTracedBytes = 65495;

// A message with its addresses reduced to what the packet needs. IPv4-mapped
// IPv6 addresses facing an IPv4 peer are written as IPv4.
struct QueuedTrace {
  std::int64_t timestamp_us = 0;
  TraceTransport transport = TraceTransport::udp;
  bool sent = false;
  std::uint8_t ip_version = 4;            // 4: the first 4 bytes of src/dst are used
  std::array<std::uint8_t, 16> src{};     // network order
  std::array<std::uint8_t, 16> dst{};
  std::uint16_t src_port = 0;             // host order
  std::uint16_t dst_port = 0;
  std::uint32_t original_size = 0;        // before truncation
  std::string_view bytes;                 // points into the queue's batch
};

// The bounded hand-off from producers to the writer thread: two preallocated
// byte buffers, producers append to one under a mutex while the writer
// drains the other. A mutex is acceptable here, unlike on the relay's data
// path, because tracing is an operator-enabled debug feature, off by
// default; the critical section is one memcpy of one message, nothing in it
// waits, and a full buffer drops the record (counted) instead of waiting.
class TraceQueue {
 public:
  enum class Push : std::uint8_t { queued, full, closed, bad_address };

  struct Counts {
    std::uint64_t queued = 0;
    std::uint64_t sent = 0;       // queued records with TraceRecord::sent
    std::uint64_t received = 0;   // queued records without it
    std::uint64_t full = 0;       // dropped: no room
    std::uint64_t bad_address = 0;
    std::uint64_t truncated = 0;  // queued, cut to kMaxTracedBytes
  };

  // Bytes one message of message_size takes in a buffer.
  static std::size_t record_bytes(std::size_t message_size) noexcept;

  // Allocates two buffers of capacity_bytes each (keeping the old ones when
  // the size is unchanged) and accepts pushes. Not concurrent with take().
  [[nodiscard]] bool open(std::size_t capacity_bytes);
  // Refuses further pushes and wakes take(). Records already queued are
  // still handed out by the next take().
  void close();

  // Any thread. Never waits for the consumer.
  Push push(const TraceRecord& r) noexcept;

  // The one consumer. Waits up to `wait` for the buffer to fill halfway or
  // for close(), then hands over everything queued so far; the bytes stay
  // valid until the next take(). closed is true when nothing can follow.
  std::span<const std::byte> take(std::chrono::milliseconds wait, bool& closed);
  // Pops the first record off a batch from take(); false when it is empty.
  static bool next(std::span<const std::byte>& batch, QueuedTrace& out) noexcept;

  Counts counts() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<std::byte[]> fill_;   // producers append here (under mu_)
  std::unique_ptr<std::byte[]> drain_;  // the consumer's, between take()s
  std::size_t capacity_ = 0;
  std::size_t used_ = 0;
  bool open_ = false;
  bool wake_ = false;  // consumer woken for this fill already
  Counts counts_{};
};

struct TraceLimits {
  std::uint64_t max_bytes = 64ULL << 20;                     // per file, headers included
  std::chrono::nanoseconds max_age = std::chrono::hours(1);  // zero: no age limit
  std::uint32_t max_files = 10;                              // at least 1; older ones deleted
  std::size_t queue_bytes = 4U << 20;                        // per buffer (two are allocated)
};

// Stable values: logs and the control socket show them.
enum class TraceError : std::uint8_t {
  ok = 0,
  already_running,
  bad_limits,    // max_files 0, max_bytes below one file header, queue_bytes < kMinQueueBytes
  bad_path,      // empty, or names a directory
  no_memory,
  open_failed,   // the first file could not be created
  thread_failed,
};

std::string_view to_string(TraceError e);

inline constexpr std::size_t kMinQueueBytes = 1024;

struct TraceStats {
  TraceQueue::Counts queue;           // producer side
  std::uint64_t packets_written = 0;  // writer side, from here on
  std::uint64_t bytes_written = 0;    // file bytes, pcap headers included
  std::uint64_t files_opened = 0;
  std::uint64_t files_deleted = 0;
  std::uint64_t open_errors = 0;      // a rotation could not create its file
  std::uint64_t dropped_no_file = 0;  // records lost while no file was open
  std::uint64_t write_errors = 0;     // flush or close failed (disk full, ...)
};

class TraceWriter {
 public:
  TraceWriter();
  ~TraceWriter();  // stop()
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  // Control thread. Files are named <path>.<YYYYmmddTHHMMSSZ>.<NNNNNN>.pcap
  // (UTC, then a counter within the second) and created mode 0600; older
  // files of that name pattern beyond max_files, from this run or earlier
  // ones, are deleted. Creates the first file before returning, so a bad
  // path is reported here; error gets a sentence for the operator.
  TraceError start(const std::string& path, const TraceLimits& limits, std::string& error);
  // Control thread. Stops accepting, writes what is queued, closes the file
  // and joins the writer thread. Does nothing when not running.
  void stop();

  // Producers: one relaxed load, so a disabled trace costs nothing more.
  bool enabled() const noexcept { return enabled_.load(std::memory_order_relaxed); }
  // Producers: copies the message into the queue; false when tracing is off
  // or the record was dropped (counted in stats()). Never blocks on I/O.
  bool record(const TraceRecord& r) noexcept;

  TraceStats stats() const;

 private:
  struct Output;  // the writer thread's state: pcap handles, files, TCP flows

  // Written by the writer thread only (and reset by start()); read by stats().
  struct WriterCounts {
    std::atomic<std::uint64_t> packets_written{0};
    std::atomic<std::uint64_t> bytes_written{0};
    std::atomic<std::uint64_t> files_opened{0};
    std::atomic<std::uint64_t> files_deleted{0};
    std::atomic<std::uint64_t> open_errors{0};
    std::atomic<std::uint64_t> dropped_no_file{0};
    std::atomic<std::uint64_t> write_errors{0};
  };

  void run();

  std::atomic<bool> enabled_{false};
  TraceQueue queue_;
  WriterCounts counts_;
  std::unique_ptr<Output> out_;  // replaced by start(), used by the writer thread
  std::thread thread_;
};

}  // namespace sigrelay::control
