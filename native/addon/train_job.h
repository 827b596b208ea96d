// train_job.h - a training run on a dedicated native thread.
//
// Why not libuv's pool: a run takes minutes, and holding one of the pool's
// four threads that long would starve the host service's fs, dns, crypto and
// zlib work. The run gets its own thread (which drives the core's worker
// threads) and talks to JavaScript through a thread-safe function: progress
// after every epoch (and every N mini-batches if asked), then one final
// "done" or "error" event.
#ifndef HDRNN_ADDON_TRAIN_JOB_H
#define HDRNN_ADDON_TRAIN_JOB_H

#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "addon.h"
#include "dataset.h"
#include "net_state.h"

namespace hdrnn_addon {

// Abort requests from JavaScript; outlives the job (the handle's abort()
// may be called at any time, also long after the run ended).
struct AbortToken {
  explicit AbortToken(std::shared_ptr<NetState> s) : state(std::move(s)) {}
  void Abort();   // raises the network's interrupt once, while running
  void Finish();  // the run ended: lower it again if raised
  bool aborted() const { return requested.load(); }
  // The epoch gate (options.waitEpochs): after each epoch the training
  // thread waits until JavaScript has answered for it (its onEpoch settled),
  // so 'stop' ends the run exactly at that boundary. An abort also wakes it.
  void Answer(uint32_t epoch, unsigned flags);
  unsigned Wait(uint32_t epoch); // the answer's flags; kStop when aborted
  static constexpr unsigned kStop = 1, kKeepBest = 2, kRestoreBest = 4;

  std::shared_ptr<NetState> state;
  std::mutex mutex;
  std::atomic<bool> requested{false};
  int cancel = 0; // raised with the abort; read by the C evaluation (__atomic)
  bool raised = false;
  bool finished = false;
  std::condition_variable answered_cv;
  uint32_t answered = 0; // the last epoch JavaScript answered for
  unsigned answer = 0;
};

struct TrainEvent;
// A list, not a deque: GCC 12's deque growth references
// std::__throw_bad_array_new_length (GLIBCXX_3.4.29), which the glibc 2.31
// boards' libstdc++ lacks (scripts/check-glibc.sh); list nodes do not.
using EventQueue = std::list<std::unique_ptr<TrainEvent>>;

class TrainJob {
 public:
  // net.train(train, test | null, options, onEvent) -> { abort() }
  friend Napi::Value StartTraining(const Napi::CallbackInfo &info, std::shared_ptr<NetState> state);
  // Environment teardown: stop within a mini-batch and wait for the thread.
  void StopAndJoin();

 private:
  struct Config {
    uint32_t epochs = 1;
    size_t progress_every = 0; // mini-batches between "batch" events; 0: none
    bool wait_epochs = false;  // wait for JavaScript's answer after each epoch
    hdrnn_train_options options{};
    hdrnn_run_options eval_options{};
    std::vector<uint8_t> resume; // trainer state to continue from (issue 10)
    bool keep_state = false;     // epoch events carry the trainer state
  };
  static void CallJs(Napi::Env env, Napi::Function callback, TrainJob *job, TrainEvent *event);
  static void Finalize(Napi::Env env, void *unused, TrainJob *job);
  using Tsfn = Napi::TypedThreadSafeFunction<TrainJob, TrainEvent, &TrainJob::CallJs>;

  TrainJob() = default;
  void Run();
  void Post(TrainEvent *event);
  void Deliver(Napi::Env env, Napi::Function callback);
  bool Aborted() const { return token_->aborted(); }

  std::shared_ptr<NetState> state_;
  std::shared_ptr<AbortToken> token_;
  DatasetRef train_;
  DatasetRef test_;
  bool has_test_ = false;
  Config config_;
  Tsfn tsfn_;
  std::thread thread_;
  AddonData *data_ = nullptr;

  // Events waiting for JavaScript, bounded: mini-batch progress queues up to
  // kMaxPendingProgress, and past that the latest replaces the newest one
  // nobody has seen yet (coalesced: latest wins), epoch reports
  // and the final event queue in order and are never dropped, but the
  // trainer waits while kMaxPendingEpochs of them are unseen. One
  // thread-safe call is outstanding at a time; it delivers all there is.
  static constexpr size_t kMaxPendingEpochs = 8;
  static constexpr size_t kMaxPendingProgress = 1024; // ~400 KB of events at most
  std::mutex mail_mutex_;
  std::condition_variable mail_cv_;
  EventQueue progress_;
  EventQueue reports_;
  bool wake_pending_ = false;
};

Napi::Value StartTraining(const Napi::CallbackInfo &info, std::shared_ptr<NetState> state);

}  // namespace hdrnn_addon

#endif
