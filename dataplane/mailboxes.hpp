// The rings between threads: one single-producer/single-consumer ring per
// ordered pair of threads that talk (STYLE.md practice 2), and one wake-up
// eventfd per thread so an idle thread can sleep in epoll instead of
// spinning on a shared 2-core machine.
//
// Thread indices: sip workers 0..sip-1, then tls workers.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dataplane/packet.hpp"
#include "dataplane/spsc_ring.hpp"

namespace sigrelay::dataplane {

class Mailboxes {
 public:
  // Creates rings for every pair except tls->tls (they never talk).
  static std::unique_ptr<Mailboxes> create(unsigned sip_workers, unsigned tls_workers, std::uint32_t ring_size,
                                           std::string& error);
  ~Mailboxes();

  unsigned threads() const { return sip_ + tls_; }
  unsigned sip_workers() const { return sip_; }
  unsigned tls_workers() const { return tls_; }
  bool is_sip(unsigned t) const { return t < sip_; }

  // Producer side (thread `from`): enqueue and wake the consumer if it sleeps.
  // Returns how many were taken; the caller owns the rest.
  unsigned send(unsigned from, unsigned to, std::span<Packet* const> packets);
  bool send_one(unsigned from, unsigned to, Packet* p) { return send(from, to, std::span(&p, 1)) == 1; }
  // Consumer side (thread `to`).
  unsigned receive(unsigned from, unsigned to, std::span<Packet*> out);
  bool has_ring(unsigned from, unsigned to) const { return ring(from, to) != nullptr; }

  // The sleeping protocol: call prepare_sleep(), check the rings once more,
  // then wait on wake_fd(self) (it becomes readable when a producer wrote);
  // call woke() after the wait, which also drains the eventfd.
  int wake_fd(unsigned self) const { return wake_fds_[self]; }
  void prepare_sleep(unsigned self);
  void woke(unsigned self);
  void wake(unsigned thread);

 private:
  Mailboxes(unsigned sip, unsigned tls);
  SpscRing<Packet>* ring(unsigned from, unsigned to) const;

  unsigned sip_;
  unsigned tls_;
  std::vector<std::unique_ptr<SpscRing<Packet>>> rings_;  // [from * threads + to]
  std::vector<int> wake_fds_;
  std::unique_ptr<std::atomic<bool>[]> sleeping_;
};

}  // namespace sigrelay::dataplane
