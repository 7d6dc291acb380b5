// Frames waiting for the caller's rte_eth_tx_burst, in the order they were
// produced. Fixed capacity, allocated once; one owner thread.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>
#include <vector>

namespace sigrelay::dataplane::net {

class TxQueue {
 public:
  explicit TxQueue(unsigned capacity) : ring_(capacity) {}
  ~TxQueue();
  TxQueue(const TxQueue&) = delete;
  TxQueue& operator=(const TxQueue&) = delete;

  // False when full: the frame is freed (the caller counts the drop).
  bool push(rte_mbuf* m);
  unsigned take(rte_mbuf** out, unsigned max);
  unsigned size() const { return count_; }

 private:
  std::vector<rte_mbuf*> ring_;
  unsigned head_ = 0;
  unsigned count_ = 0;
};

}  // namespace sigrelay::dataplane::net
