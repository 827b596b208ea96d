// train_job.cc - see train_job.h.
#include "train_job.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "errors.h"
#include "model.h"

namespace hdrnn_addon {

struct TrainEvent {
  enum Type { kBatch, kEpoch, kDone, kError } type = kBatch;
  uint32_t epoch = 0;  // 1-based
  size_t batch = 0;    // mini-batches done in this epoch
  size_t batches = 0;  // mini-batches per epoch
  double loss = 0;     // mean training cost so far this epoch
  bool has_test = false;
  size_t correct = 0, total = 0;
  double test_loss = 0;
  bool regression = false;   // test data with float targets: rmse and mae below
  double test_rmse = 0, test_mae = 0;
  double seconds = 0;      // training time of this epoch (or of the run, for done)
  double eval_seconds = 0; // time spent evaluating the test set
  uint32_t epochs_done = 0;
  unsigned threads = 0;    // threads the epoch's last mini-batches ran on
  bool aborted = false;
  bool stopped = false; // ended by JavaScript's answer at an epoch gate
  hdrnn_status status{};
  std::vector<uint8_t> state; // trainer state after the epoch (keepState)
};

void AbortToken::Abort() {
  std::lock_guard<std::mutex> lock(mutex);
  requested.store(true);
  answered_cv.notify_all(); // a run waiting at an epoch gate stops too
  __atomic_store_n(&cancel, 1, __ATOMIC_RELEASE);
  if (!finished && !raised) {
    raised = true;
    __atomic_add_fetch(&state->interrupt, kAbortBit, __ATOMIC_ACQ_REL);
  }
}

void AbortToken::Answer(uint32_t epoch, unsigned flags) {
  std::lock_guard<std::mutex> lock(mutex);
  if (epoch <= answered) return; // late or repeated: already answered
  answered = epoch;
  answer = flags;
  answered_cv.notify_all();
}

unsigned AbortToken::Wait(uint32_t epoch) {
  std::unique_lock<std::mutex> lock(mutex);
  // wait_for, not wait: GCC 12's std::condition_variable::wait is versioned
  // GLIBCXX_3.4.30, which the glibc 2.31 boards' libstdc++ lacks (the gate
  // in check:glibc); wait_for is inline over pthread_cond_clockwait.
  while (!answered_cv.wait_for(lock, std::chrono::seconds(60),
                               [&] { return answered >= epoch || requested.load(); })) {
  }
  return answered >= epoch ? answer : kStop;
}

void AbortToken::Finish() {
  std::lock_guard<std::mutex> lock(mutex);
  finished = true;
  if (raised) {
    raised = false;
    __atomic_sub_fetch(&state->interrupt, kAbortBit, __ATOMIC_ACQ_REL);
  }
}

namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

void TrainJob::Post(TrainEvent *event) {
  std::unique_ptr<TrainEvent> owned(event);
  std::unique_lock<std::mutex> lock(mail_mutex_);
  if (event->type == TrainEvent::kBatch) {
    if (progress_.size() >= kMaxPendingProgress)
      progress_.back() = std::move(owned); // JavaScript is behind: latest wins
    else
      progress_.push_back(std::move(owned));
  } else {
    // Never dropped; but a JavaScript thread that does not keep up makes
    // the trainer wait instead of the queue grow (an abort ends the wait).
    if (event->type == TrainEvent::kEpoch)
      while (reports_.size() >= kMaxPendingEpochs && !Aborted())
        mail_cv_.wait_for(lock, std::chrono::milliseconds(20));
    reports_.push_back(std::move(owned));
  }
  if (wake_pending_) return;
  wake_pending_ = true;
  lock.unlock();
  // Fails only while the environment is going away (nobody to tell).
  if (tsfn_.NonBlockingCall(static_cast<TrainEvent *>(nullptr)) != napi_ok) {
    std::lock_guard<std::mutex> relock(mail_mutex_);
    wake_pending_ = false;
  }
}

void TrainJob::Run() {
  hdrnn_status status{};
  hdrnn_trainer *trainer = nullptr;
  config_.options.interrupt = &state_->interrupt;
  config_.eval_options.cancel = &token_->cancel; // abort() also stops the test evaluation
  // Background priority: this thread first (it runs a share of every
  // mini-batch and the test evaluation); the threads it starts inherit it.
  if (config_.options.priority == HDRNN_PRIORITY_BACKGROUND) hdrnn_thread_background(nullptr);
  uint32_t epochs_done = 0;
  const Clock::time_point start = Clock::now();
  hdrnn_code code = hdrnn_trainer_create(&trainer, state_->net, &train_.data, &config_.options,
                                         &status);
  // The weights at the start of the epoch, to fall back on if the epoch
  // makes one NaN or infinite (huge inputs, a learning rate far too high):
  // a network of NaN would only spread NaN and could not even be saved
  // and loaded again.
  hdrnn_network *snapshot = nullptr;
  if (code == HDRNN_OK) code = hdrnn_network_clone(state_->net, &snapshot, &status);
  hdrnn_network *best = nullptr; // the epoch JavaScript asked to keep (early stopping)
  bool stopped = false;          // JavaScript's onEpoch said 'stop'
  if (code == HDRNN_OK && !config_.resume.empty())
    code = hdrnn_trainer_set_state(trainer, config_.resume.data(), config_.resume.size(), &status);
  for (uint32_t epoch = 1; code == HDRNN_OK && epoch <= config_.epochs && !Aborted(); epoch++) {
    const Clock::time_point epoch_start = Clock::now();
    hdrnn_network_copy_parameters(snapshot, state_->net, nullptr); // we are its only writer
    hdrnn_trainer_begin_epoch(trainer);
    const size_t batches = hdrnn_trainer_batches_per_epoch(trainer);
    size_t reported = 0;
    while (hdrnn_trainer_batches_done(trainer) < batches && !Aborted()) {
      const size_t done_so_far = hdrnn_trainer_batches_done(trainer);
      size_t want = batches - done_so_far;
      if (config_.progress_every > 0) {
        const size_t next = (done_so_far / config_.progress_every + 1) * config_.progress_every;
        want = (next < batches ? next : batches) - done_so_far;
      }
      size_t done = 0;
      {
        std::lock_guard<std::mutex> lock(state_->mutex);
        code = hdrnn_trainer_step(trainer, want, &done, &status);
      }
      if (code != HDRNN_OK) break;
      // Readers waiting for the weights go first; they take the lock as soon
      // as we let it go, and we wait until each of them has it.
      while ((__atomic_load_n(&state_->interrupt, __ATOMIC_ACQUIRE) & kReaderMask) != 0 &&
             !Aborted())
        std::this_thread::yield();
      const size_t now = hdrnn_trainer_batches_done(trainer);
      if (config_.progress_every > 0 && now != reported &&
          (now % config_.progress_every == 0 || now == batches)) {
        reported = now;
        auto *event = new TrainEvent();
        event->type = TrainEvent::kBatch;
        event->epoch = epoch;
        event->batch = now;
        event->batches = batches;
        event->loss = hdrnn_trainer_epoch_loss(trainer);
        event->seconds = Since(epoch_start);
        Post(event);
      }
    }
    if (code == HDRNN_OK && hdrnn_network_check_finite(state_->net, nullptr) != HDRNN_OK) {
      {
        std::lock_guard<std::mutex> lock(state_->mutex);
        hdrnn_network_copy_parameters(state_->net, snapshot, nullptr);
      }
      code = status.code = HDRNN_ERR_DIVERGED;
      std::snprintf(status.message, sizeof status.message,
                    "training diverged in epoch %u: a weight became NaN or infinite (inputs "
                    "too large, or the learning rate too high); the network keeps its weights "
                    "from the start of that epoch",
                    (unsigned)epoch);
    }
    if (code != HDRNN_OK || Aborted()) break;
    auto *event = new TrainEvent();
    event->type = TrainEvent::kEpoch;
    event->epoch = epoch;
    event->batch = event->batches = batches;
    event->loss = hdrnn_trainer_epoch_loss(trainer);
    event->seconds = Since(epoch_start);
    event->threads = hdrnn_trainer_threads(trainer);
    if (config_.keep_state) {
      event->state.resize(hdrnn_trainer_state_size(trainer));
      hdrnn_trainer_get_state(trainer, event->state.data(), event->state.size(), nullptr);
    }
    if (has_test_) {
      // This thread is the network's only writer, so it may read the
      // weights without the lock.
      const Clock::time_point eval_start = Clock::now();
      hdrnn_evaluation result{};
      code = hdrnn_evaluate(state_->net, &test_.data, &config_.eval_options, &result, &status);
      if (code == HDRNN_ERR_CANCELLED) { // aborted mid-evaluation: the run ends as aborted
        code = HDRNN_OK;
        status = hdrnn_status{};
      }
      if (code != HDRNN_OK || Aborted()) {
        delete event;
        break;
      }
      event->has_test = true;
      event->correct = result.correct;
      event->total = result.total;
      event->test_loss = result.loss;
      event->regression = test_.data.targets != nullptr;
      event->test_rmse = result.rmse;
      event->test_mae = result.mae;
      event->eval_seconds = Since(eval_start);
    }
    epochs_done = epoch;
    Post(event);
    if (config_.wait_epochs) {
      // JavaScript sees exactly these weights (nothing trains while it
      // decides); its answer can stop here and keep or restore the best epoch.
      const unsigned answer = token_->Wait(epoch);
      if (answer & AbortToken::kKeepBest) {
        if (best == nullptr) code = hdrnn_network_clone(state_->net, &best, &status);
        else hdrnn_network_copy_parameters(best, state_->net, nullptr);
      }
      if ((answer & AbortToken::kRestoreBest) && best != nullptr) {
        std::lock_guard<std::mutex> lock(state_->mutex);
        hdrnn_network_copy_parameters(state_->net, best, nullptr);
      }
      if ((answer & AbortToken::kStop) && !Aborted()) stopped = true;
      if (stopped || code != HDRNN_OK) break;
    }
  }
  hdrnn_trainer_free(trainer);
  hdrnn_network_free(snapshot);
  hdrnn_network_free(best);
  auto *final_event = new TrainEvent();
  final_event->type = code == HDRNN_OK ? TrainEvent::kDone : TrainEvent::kError;
  final_event->status = status;
  final_event->epochs_done = epochs_done;
  final_event->aborted = code == HDRNN_OK && Aborted() && !stopped;
  final_event->stopped = stopped;
  final_event->seconds = Since(start);
  // The network is free for the next run before JavaScript hears "done".
  token_->Finish();
  state_->training.store(false);
  Post(final_event);
  tsfn_.Release();
}

namespace {

void SendEvent(Napi::Env env, Napi::Function callback, const TrainEvent *event) {
  Napi::Object o = Napi::Object::New(env);
  static const char *const kTypes[] = {"batch", "epoch", "done", "error"};
  o.Set("type", Napi::String::New(env, kTypes[event->type]));
  o.Set("epoch", Napi::Number::New(env, event->epoch));
  o.Set("batch", Napi::Number::New(env, (double)event->batch));
  o.Set("batches", Napi::Number::New(env, (double)event->batches));
  o.Set("loss", Napi::Number::New(env, event->loss));
  o.Set("seconds", Napi::Number::New(env, event->seconds));
  if (event->type == TrainEvent::kEpoch) o.Set("threads", Napi::Number::New(env, event->threads));
  if (!event->state.empty())
    o.Set("state", Napi::Buffer<uint8_t>::Copy(env, event->state.data(), event->state.size()));
  if (event->has_test) {
    o.Set("correct", Napi::Number::New(env, (double)event->correct));
    o.Set("total", Napi::Number::New(env, (double)event->total));
    o.Set("testLoss", Napi::Number::New(env, event->test_loss));
    if (event->regression) {
      o.Set("testRmse", Napi::Number::New(env, event->test_rmse));
      o.Set("testMae", Napi::Number::New(env, event->test_mae));
    }
    o.Set("evalSeconds", Napi::Number::New(env, event->eval_seconds));
  }
  if (event->type == TrainEvent::kDone || event->type == TrainEvent::kError) {
    o.Set("epochsDone", Napi::Number::New(env, event->epochs_done));
    o.Set("aborted", Napi::Boolean::New(env, event->aborted));
    o.Set("stopped", Napi::Boolean::New(env, event->stopped));
  }
  if (event->type == TrainEvent::kError) o.Set("error", MakeError(env, event->status).Value());
  callback.Call({o});
}

}  // namespace

void TrainJob::CallJs(Napi::Env env, Napi::Function callback, TrainJob *job, TrainEvent *) {
  if (env == nullptr || callback == nullptr) return; // environment is going away
  job->Deliver(env, callback);
}

// Everything waiting, in order: each epoch's progress before its report.
void TrainJob::Deliver(Napi::Env env, Napi::Function callback) {
  EventQueue progress, reports;
  {
    std::lock_guard<std::mutex> lock(mail_mutex_);
    progress.swap(progress_);
    reports.swap(reports_);
    wake_pending_ = false;
  }
  mail_cv_.notify_all();
  // A callback that throws does not cost the events after it (the final
  // one settles the Promise): they are still delivered, and the first
  // error is left pending afterwards, for Node to report like any uncaught
  // exception.
  bool failed = false;
  Napi::Error first;
  while (!progress.empty() || !reports.empty()) {
    Napi::HandleScope scope(env);
    const bool take_progress =
        !progress.empty() && (reports.empty() || progress.front()->epoch <= reports.front()->epoch);
    EventQueue &from = take_progress ? progress : reports;
    std::unique_ptr<TrainEvent> event = std::move(from.front());
    from.pop_front();
    try {
      SendEvent(env, callback, event.get());
    } catch (const Napi::Error &e) {
      if (!failed) first = e;
      failed = true;
    }
  }
  if (failed) first.ThrowAsJavaScriptException();
}

void TrainJob::Finalize(Napi::Env, void *, TrainJob *job) {
  // Normally the thread has released the function and is ending; on
  // environment teardown it may still be training, so stop it first.
  job->StopAndJoin();
  job->data_->jobs.erase(job);
  delete job;
}

void TrainJob::StopAndJoin() {
  token_->Abort();
  if (thread_.joinable()) thread_.join();
}

Napi::Value StartTraining(const Napi::CallbackInfo &info, std::shared_ptr<NetState> state) {
  Napi::Env env = info.Env();
  DatasetRef train = ExpectDataset(env, info[0], "data", true);
  const bool has_test = !info[1].IsUndefined() && !info[1].IsNull();
  DatasetRef test;
  if (has_test) test = ExpectDataset(env, info[1], "testData", true);
  Napi::Object o = ExpectObject(env, info[2], "options");
  if (!info[3].IsFunction()) ThrowType(env, "onEvent must be a function");

  TrainJob::Config config;
  hdrnn_train_options_default(&config.options);
  Napi::Value v;
  if (!(v = Option(o, "epochs")).IsUndefined())
    config.epochs = (uint32_t)ExpectInteger(env, v, "epochs", 1, 1e6);
  if (!(v = Option(o, "batchSize")).IsUndefined())
    config.options.batch_size = (size_t)ExpectInteger(env, v, "batchSize", 1, 1e7);
  if (!(v = Option(o, "learningRate")).IsUndefined()) {
    if (!v.IsNumber()) ThrowType(env, "learningRate must be a number");
    const double lr = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(lr) || lr <= 0 || lr > 1e6 || (float)lr <= 0.0f)
      ThrowRange(env, "learningRate must be a finite number above 0 (and at most 1e6)");
    config.options.learning_rate = (float)lr;
  }
  if (!(v = Option(o, "shuffle")).IsUndefined()) {
    if (!v.IsBoolean()) ThrowType(env, "shuffle must be a boolean");
    config.options.shuffle = v.As<Napi::Boolean>().Value() ? 1 : 0;
  }
  if (!(v = Option(o, "seed")).IsUndefined()) config.options.seed = ExpectSeed(env, v);
  // 0 (the default): automatic, up to all CPUs (see hdrnn_train_options).
  if (!(v = Option(o, "threads")).IsUndefined())
    config.options.threads = (unsigned)ExpectInteger(env, v, "threads", 0, 1024);
  if (!(v = Option(o, "algorithm")).IsUndefined()) {
    const std::string a = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
    if (a == "batched") config.options.algorithm = HDRNN_ALGORITHM_BATCHED;
    else if (a == "reference") config.options.algorithm = HDRNN_ALGORITHM_REFERENCE;
    else ThrowType(env, "algorithm must be 'batched' or 'reference'");
  }
  config.options.kernels = ExpectKernels(env, Option(o, "kernels"));
  if (!(v = Option(o, "priority")).IsUndefined()) {
    const std::string p = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
    if (p == "normal") config.options.priority = HDRNN_PRIORITY_NORMAL;
    else if (p == "background") config.options.priority = HDRNN_PRIORITY_BACKGROUND;
    else ThrowType(env, "priority must be 'normal' or 'background'");
  }
  if (!(v = Option(o, "progressEvery")).IsUndefined())
    config.progress_every = (size_t)ExpectInteger(env, v, "progressEvery", 0, 1e9);
  if (!(v = Option(o, "waitEpochs")).IsUndefined()) {
    if (!v.IsBoolean()) ThrowType(env, "waitEpochs must be a boolean");
    config.wait_epochs = v.As<Napi::Boolean>().Value();
  }
  ExpectOptimizer(env, o, config.epochs, &config.options);
  if (!(v = Option(o, "resume")).IsUndefined()) {
    const TypedBytes t = ExpectTypedArray(env, v, "resume");
    if (t.type != napi_uint8_array) ThrowType(env, "resume must be a Uint8Array (a trainer state)");
    config.resume.assign(t.data, t.data + t.length);
    // A cosine schedule of this run's length continues the resumed one's:
    // it spans the epochs the state has done plus these.
    const Napi::Value sched = Option(o, "schedule");
    if (config.options.schedule == HDRNN_SCHEDULE_COSINE && t.length >= 12 &&
        Option(sched.As<Napi::Object>(), "epochs").IsUndefined()) {
      const uint32_t done = (uint32_t)t.data[8] | (uint32_t)t.data[9] << 8 |
                            (uint32_t)t.data[10] << 16 | (uint32_t)t.data[11] << 24;
      if (done <= 1000000u) config.options.schedule_epochs = config.epochs + done;
    }
  }
  if (!(v = Option(o, "keepState")).IsUndefined()) {
    if (!v.IsBoolean()) ThrowType(env, "keepState must be a boolean");
    config.keep_state = v.As<Napi::Boolean>().Value();
  }
  config.eval_options.threads = config.options.threads; // 0: all CPUs
  config.eval_options.kernels = config.options.kernels;

  // Check the data against the network now, so mistakes reject at once
  // with a clear message instead of arriving later as an "error" event.
  hdrnn_status status;
  if (hdrnn_dataset_check(&train.data, state->net, 1, &status) != HDRNN_OK)
    throw MakeError(env, status);
  if (train.data.count == 0)
    throw MakeError(env, "ERR_HDRNN_INVALID_ARGUMENT", "training data has no examples");
  if (has_test && hdrnn_dataset_check(&test.data, state->net, 1, &status) != HDRNN_OK)
    throw MakeError(env, status);

  bool expected = false;
  if (!state->training.compare_exchange_strong(expected, true))
    throw MakeError(env, "ERR_HDRNN_BUSY",
                    "this network is already training; wait for that run to end (or abort it) "
                    "before starting another");

  auto *job = new TrainJob();
  job->state_ = state;
  job->token_ = std::make_shared<AbortToken>(state);
  job->train_ = std::move(train);
  job->test_ = std::move(test);
  job->has_test_ = has_test;
  job->config_ = config;
  job->data_ = &Data(env);
  try {
    job->tsfn_ = TrainJob::Tsfn::New(env, info[3].As<Napi::Function>(), "hdrnn:train", 0, 1, job,
                                     &TrainJob::Finalize, (void *)nullptr);
  } catch (...) {
    state->training.store(false);
    delete job;
    throw;
  }
  job->data_->jobs.insert(job);
  try {
    job->thread_ = std::thread(&TrainJob::Run, job);
  } catch (const std::system_error &) {
    state->training.store(false);
    job->token_->Finish();
    job->tsfn_.Release(); // Finalize deletes the job
    throw MakeError(env, "ERR_HDRNN_SYSTEM", "could not start the training thread");
  }

  std::shared_ptr<AbortToken> token = job->token_;
  Napi::Object handle = Napi::Object::New(env);
  handle.Set("abort", Napi::Function::New(env, [token](const Napi::CallbackInfo &) {
               token->Abort();
             }, "abort"));
  // answer(epoch, flags): JavaScript's word at an epoch gate (waitEpochs).
  handle.Set("answer", Napi::Function::New(env, [token](const Napi::CallbackInfo &info) {
               Napi::Env e = info.Env();
               const uint32_t epoch = (uint32_t)ExpectInteger(e, info[0], "epoch", 1, 1e6);
               const unsigned flags = (unsigned)ExpectInteger(e, info[1], "flags", 0, 7);
               token->Answer(epoch, flags);
             }, "answer"));
  return handle;
}

}  // namespace hdrnn_addon
