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

  std::shared_ptr<NetState> state;
  std::mutex mutex;
  std::atomic<bool> requested{false};
  bool raised = false;
  bool finished = false;
};

struct TrainEvent;

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
};

Napi::Value StartTraining(const Napi::CallbackInfo &info, std::shared_ptr<NetState> state);

}  // namespace hdrnn_addon

#endif
