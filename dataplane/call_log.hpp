// What happened to each recent call, so that an operator can ask "why did
// this call fail?" (sigrelayctl why CALL-ID|NUMBER) without a packet
// capture. One bounded ring per sip worker: the worker is the only writer,
// the control thread reads. Each entry has a sequence number that is odd
// while the worker writes it (a seqlock), so a reader never returns a
// half-written entry and the writer never waits.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sigrelay::dataplane {

// Stable: shown by name and kept in the JSON.
enum class Decision : std::uint8_t {
  relayed = 0,         // the service's answer went to the switch (503 no action, 302 route, ...)
  blocked,             // the service answered 603: the switch blocks the call
  not_whitelisted,     // the service answered 403/404: this relay is not whitelisted there
  local_emergency,     // emergency number: local 503, never sent upstream
  local_no_upstream,   // fail-open: no upstream connection
  local_timeout,       // fail-open: the service did not answer in time
  local_overload,      // no transaction slot: local 503
  local_other,         // another local answer (400, 416, 483, 513 ...)
  cancelled,           // the switch cancelled (487)
  inline_answered,     // in-line: a destination answered 2xx
  inline_failed,       // in-line: the destinations' best failure went to the switch
  inline_declined,     // in-line: a destination's final ended the search (486, 6xx ...)
  shutdown,            // answered 503 at graceful shutdown
};

std::string_view to_string(Decision d);

struct CallRecord {
  std::uint64_t time_us = 0;      // wall clock (CLOCK_REALTIME) when the final went to the switch
  sockaddr_storage source{};      // the switch
  std::uint16_t final_code = 0;   // what the switch got
  std::uint16_t service_code = 0; // the service's final; 0 when it gave none
  std::uint32_t service_us = 0;   // service round trip; 0 when none
  std::uint32_t total_us = 0;     // INVITE in to final out
  Decision decision = Decision::relayed;
  std::uint8_t worker = 0;
  char call_id[96] = {};          // truncated when longer, always NUL-terminated
  char calling[32] = {};          // From user part as written
  char called[32] = {};           // Request-URI user part as written
  char detail[96] = {};           // e.g. the destination that answered, or why a local answer
};

class CallLog {
 public:
  explicit CallLog(std::size_t capacity);
  CallLog(const CallLog&) = delete;
  CallLog& operator=(const CallLog&) = delete;

  // Writer side (the owning sip worker only).
  void add(const CallRecord& r);

  // Reader side (any thread): every complete record matching `key` (a
  // Call-ID, or a number: compared with calling and called after removing
  // '+', a leading 1 and visual separators), oldest first.
  std::vector<CallRecord> find(std::string_view key) const;
  std::size_t capacity() const { return capacity_; }
  std::uint64_t written() const { return next_.load(std::memory_order_acquire); }

 private:
  // The record is kept as relaxed atomic words, so that a reader racing
  // the writer is well defined (and the sequence number tells it to retry).
  static constexpr std::size_t kWords = (sizeof(CallRecord) + 7) / 8;
  struct alignas(64) Slot {
    std::atomic<std::uint64_t> seq{0};  // even: stable; odd: being written
    std::atomic<std::uint64_t> words[kWords];
  };
  std::size_t capacity_;
  std::unique_ptr<Slot[]> slots_;
  std::atomic<std::uint64_t> next_{0};
};

// Copies `s` into a fixed field, truncating; always NUL-terminated.
template <std::size_t N>
void set_field(char (&field)[N], std::string_view s) {
  const std::size_t n = s.size() < N - 1 ? s.size() : N - 1;
  for (std::size_t i = 0; i < n; ++i) field[i] = s[i];
  field[n] = '\0';
}

// Digits of a telephone number as sigrelay compares them: '+', visual
// separators and a leading country code 1 of an 11-digit number removed.
std::string normalize_number(std::string_view s);

}  // namespace sigrelay::dataplane
