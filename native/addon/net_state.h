// net_state.h - a network shared between JavaScript and native threads.
//
// Policy (documented in README): one training at a time per network (a second
// train() fails with ERR_HDRNN_BUSY); every read (infer, evaluate, toBuffer,
// save) may run during training and sees the weights as they were between
// two mini-batches, never half-updated. The trainer holds `mutex` while it
// runs mini-batches; a reader announces itself in `interrupt`, which makes
// the trainer stop after the mini-batch in hand and let it in.
#ifndef HDRNN_ADDON_NET_STATE_H
#define HDRNN_ADDON_NET_STATE_H

#include <atomic>
#include <mutex>

#include "hdrnn.h"

namespace hdrnn_addon {

// interrupt = number of waiting readers + kAbortBit while a stop is requested.
constexpr int kAbortBit = 1 << 24;
constexpr int kReaderMask = kAbortBit - 1;

struct NetState {
  explicit NetState(hdrnn_network *n) : net(n) {}
  ~NetState() { hdrnn_network_free(net); }
  NetState(const NetState &) = delete;
  NetState &operator=(const NetState &) = delete;

  hdrnn_network *const net;
  std::mutex mutex;
  int interrupt = 0; // read by the C trainer with __atomic builtins
  std::atomic<bool> training{false};
};

// Holds the network's mutex for a reader, cutting into a training run at the
// next mini-batch boundary instead of waiting for it to finish.
class ReadGuard {
 public:
  explicit ReadGuard(NetState &s) : state_(s) {
    __atomic_add_fetch(&state_.interrupt, 1, __ATOMIC_ACQ_REL);
    state_.mutex.lock();
    __atomic_sub_fetch(&state_.interrupt, 1, __ATOMIC_ACQ_REL);
  }
  ~ReadGuard() { state_.mutex.unlock(); }
  ReadGuard(const ReadGuard &) = delete;
  ReadGuard &operator=(const ReadGuard &) = delete;

 private:
  NetState &state_;
};

}  // namespace hdrnn_addon

#endif
