#include "dataplane/net/tx_queue.hpp"

namespace sigrelay::dataplane::net {

TxQueue::~TxQueue() {
  rte_mbuf* m = nullptr;
  while (take(&m, 1) == 1) rte_pktmbuf_free(m);
}

bool TxQueue::push(rte_mbuf* m) {
  const unsigned cap = static_cast<unsigned>(ring_.size());
  if (count_ == cap) {
    rte_pktmbuf_free(m);
    return false;
  }
  unsigned at = head_ + count_;
  if (at >= cap) at -= cap;
  ring_[at] = m;
  ++count_;
  return true;
}

unsigned TxQueue::take(rte_mbuf** out, unsigned max) {
  const unsigned cap = static_cast<unsigned>(ring_.size());
  unsigned n = 0;
  while (n < max && count_ > 0) {
    out[n++] = ring_[head_];
    if (++head_ == cap) head_ = 0;
    --count_;
  }
  return n;
}

}  // namespace sigrelay::dataplane::net
