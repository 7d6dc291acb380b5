// Where the workers hand every SIP message they send or receive when the
// operator turned tracing on (trace.pcap, `sigrelayctl trace start`). The
// control plane implements it with its pcap writer (control/trace_writer.hpp).
// on() is one relaxed load, so a worker pays nothing more while tracing is
// off; record() copies the message and never blocks.
#pragma once

#include <sys/socket.h>

#include <string_view>

#include "dataplane/relay_engine.hpp"

namespace sigrelay::dataplane {

struct TracePoint {
  const sockaddr_storage* src = nullptr;
  const sockaddr_storage* dst = nullptr;
  Transport transport = Transport::udp;
  bool sent = false;  // by us
  std::string_view bytes;
};

class TraceSink {
 public:
  virtual bool on() const = 0;
  virtual void record(const TracePoint& p) = 0;

 protected:
  ~TraceSink() = default;
};

}  // namespace sigrelay::dataplane
