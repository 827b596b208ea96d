/*
 * autothreads.c - the automatic thread count (options.threads == 0), see
 * trainer.h. The trainer's weights do not depend on the count, so it may
 * change between any two mini-batches; this file only decides which count
 * runs next, from the wall-clock time of the runs.
 *
 * Why it is built this way (measured on a 2-vCPU VM, issue 12): one short
 * timed run per candidate (4 mini-batches, 2-8 ms), the all-threads one
 * first with a cold worker, often kept 1 thread where 2 were 1.35-1.6x
 * faster, for a whole epoch. So:
 * - timed runs last a time budget (a share of the epoch, 2-10 ms), not a
 *   batch count; the first round starts with one untimed-for-the-decision
 *   calibration run per candidate (it wakes the worker and warms the caches);
 * - candidates alternate A B B A A B ..., so neither always runs right after
 *   a switch;
 * - the decision is the median of several samples; it comes early (after
 *   two samples each) only when the samples do not overlap and the medians
 *   differ by DECISIVE: a wide gap is cheap to see, and a narrow one is
 *   cheap to get wrong;
 * - the choice is re-examined soon (a few rounds' time later), then on a
 *   schedule that doubles while rounds keep confirming it, and at once when the chosen count runs clearly slower
 *   than it was measured (the machine's load changed).
 */
#include "trainer.h"

#define CALIBRATION_BATCHES 2
#define BUDGET_MIN 0.002   /* seconds per timed run, at least */
#define BUDGET_MAX 0.010   /* and at most */
#define BUDGET_SHARE 50    /* of the estimated epoch: timed runs are epoch/50 */
#define SAMPLES_MIN 2
#define DECISIVE 1.10      /* early decision: medians this far apart, no overlap */
#define SETTLE_ROUNDS 4    /* the first re-examination comes this many rounds' time later, */
#define SETTLE_MAX 4.0     /* and the schedule doubles up to this many seconds */
#define PIECE_BUDGETS 8    /* settled runs are timed in pieces this many budgets long */
#define SLOWER 1.25        /* a piece this much slower per batch than measured ... */
#define SLOW_PIECES 2      /* ... this many times in a row: re-examine now */
#define CHUNK_MAX ((size_t)1 << 20)

static double median(const double *v, unsigned n) {
  double s[HDRNN_AUTO_SAMPLES];
  for (unsigned i = 0; i < n; i++) {
    unsigned j = i;
    for (; j > 0 && s[j - 1] > v[i]; j--) s[j] = s[j - 1];
    s[j] = v[i];
  }
  return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

static double min_of(const double *v, unsigned n) {
  double m = v[0];
  for (unsigned i = 1; i < n; i++) m = v[i] < m ? v[i] : m;
  return m;
}

static double max_of(const double *v, unsigned n) {
  double m = v[0];
  for (unsigned i = 1; i < n; i++) m = v[i] > m ? v[i] : m;
  return m;
}

/* Batches that take about `seconds` at `per_batch`. */
static size_t batches_for(double seconds, double per_batch) {
  if (!(per_batch > 0.0)) return CHUNK_MAX;
  const double n = seconds / per_batch;
  return n < 1.0 ? 1 : n > (double)CHUNK_MAX ? CHUNK_MAX : (size_t)n;
}

static void begin_round(hdrnn_auto_threads *a) {
  a->probing = 1;
  a->turn = 0;
  a->run_seconds = 0.0;
  a->run_batches = 0;
  for (unsigned i = 0; i < a->count; i++) a->taken[i] = 0;
}

/* The candidate of the round's next timed run: calibration runs first (in
 * order, first round only), then A B B A A B ..., skipping the full ones. */
static unsigned next_candidate(hdrnn_auto_threads *a) {
  if (a->calibrating < a->count) return a->calibrating;
  for (;;) {
    const unsigned pass = a->turn / a->count, i = a->turn % a->count;
    const unsigned c = pass % 2 == 0 ? i : a->count - 1 - i;
    if (a->taken[c] < HDRNN_AUTO_SAMPLES) return c;
    a->turn++; /* terminates: the round ends before every candidate is full */
  }
}

/* Moves to the round's next timed run, with a short untimed warm-up when it
 * changes the count (not for calibration runs, which are all warm-up). */
static void next_turn(hdrnn_auto_threads *a) {
  const unsigned previous = a->current;
  a->current = next_candidate(a);
  a->warm_left = a->calibrating == a->count && a->current != previous
                     ? (a->chunk[a->current] / 4 > 0 ? a->chunk[a->current] / 4 : 1)
                     : 0;
}

void hdrnn_auto_init(hdrnn_auto_threads *a, unsigned threads, size_t batches_per_epoch) {
  *a = (hdrnn_auto_threads){0};
  a->enabled = 1;
  /* Candidates: all of them, one, and half when there are four or more. */
  a->candidates[a->count++] = threads;
  a->candidates[a->count++] = 1;
  if (threads >= 4) a->candidates[a->count++] = threads / 2;
  a->batches_per_epoch = batches_per_epoch;
  a->budget = BUDGET_MIN;
  for (unsigned i = 0; i < a->count; i++) a->chunk[i] = CALIBRATION_BATCHES;
  begin_round(a);
  next_turn(a);
}

size_t hdrnn_auto_plan(hdrnn_auto_threads *a, size_t left, unsigned *active) {
  size_t want;
  if (a->probing) {
    *active = a->candidates[a->current];
    want = a->warm_left > 0 ? a->warm_left
                            : a->chunk[a->current] - a->run_batches; /* > 0: a run ends at its chunk */
  } else {
    *active = a->candidates[a->best];
    want = a->piece - a->run_batches;
  }
  return left < want ? left : want;
}

/* After a sample: the decision if there is one yet, else 0. */
static int decide(hdrnn_auto_threads *a, unsigned *winner, double *winner_median) {
  double med[HDRNN_AUTO_CANDIDATES];
  unsigned full = 1, b = 0;
  for (unsigned i = 0; i < a->count; i++) {
    if (a->taken[i] < SAMPLES_MIN) return 0;
    full = full && a->taken[i] >= HDRNN_AUTO_SAMPLES;
    med[i] = median(a->samples[i], a->taken[i]);
    if (med[i] < med[b]) b = i;
  }
  int clear = 1;
  for (unsigned i = 0; i < a->count; i++)
    if (i != b)
      clear = clear && min_of(a->samples[i], a->taken[i]) > max_of(a->samples[b], a->taken[b]) &&
              med[i] > DECISIVE * med[b];
  if (!clear && !full) return 0;
  *winner = b;
  *winner_median = med[b];
  return 1;
}

static void settle_on(hdrnn_auto_threads *a, unsigned winner, double per_batch) {
  const int confirmed = a->decided && winner == a->best;
  /* Soon at first: a new worker often starts on its caller's CPU until the
   * scheduler moves it, so the first timed runs of all threads can be slow
   * (seen as 1.6x in the first 20-30 ms of an epoch). A round's time is
   * about candidates x 2 samples x budget. */
  const double first = SETTLE_ROUNDS * 2.0 * a->count * a->budget;
  a->settle = confirmed ? (a->settle * 2 < SETTLE_MAX ? a->settle * 2 : SETTLE_MAX) : first;
  a->decided = 1;
  a->best = winner;
  a->best_per_batch = per_batch;
  a->probing = 0;
  a->settled = 0.0;
  a->slow = 0;
  a->piece = batches_for(PIECE_BUDGETS * a->budget, per_batch);
}

void hdrnn_auto_record(hdrnn_auto_threads *a, size_t batches, double seconds) {
  if (batches == 0) return;
  a->run_seconds += seconds;
  a->run_batches += batches;
  if (!a->probing) {
    a->settled += seconds;
    if (a->run_batches < a->piece) return;
    const double per_batch = a->run_seconds / (double)a->run_batches;
    a->slow = per_batch > SLOWER * a->best_per_batch ? a->slow + 1 : 0;
    a->run_seconds = 0.0;
    a->run_batches = 0;
    if (a->slow >= SLOW_PIECES || a->settled >= a->settle) {
      if (a->slow >= SLOW_PIECES) a->decided = 0; /* the schedule starts over */
      begin_round(a);
      a->current = a->best;
      next_turn(a);
    }
    return;
  }
  if (a->warm_left > 0) {
    /* The first batches after a switch are not timed: the other threads'
     * share of the weights is still in the previous count's caches. */
    a->warm_left = a->warm_left > batches ? a->warm_left - batches : 0;
    a->run_seconds = 0.0;
    a->run_batches = 0;
    return;
  }
  if (a->run_batches < a->chunk[a->current]) return; /* the run goes on in the next step */
  const unsigned c = a->current;
  const double per_batch = a->run_seconds / (double)a->run_batches;
  a->run_seconds = 0.0;
  a->run_batches = 0;
  if (a->calibrating < a->count) {
    /* Calibration: sizes the budget from the fastest candidate's estimate
     * of the epoch, and each candidate's timed runs to that budget. */
    a->calibration[c] = per_batch;
    if (++a->calibrating == a->count) {
      const double fastest = min_of(a->calibration, a->count);
      const double epoch = fastest * (double)a->batches_per_epoch;
      const double b = epoch / BUDGET_SHARE;
      a->budget = b < BUDGET_MIN ? BUDGET_MIN : b > BUDGET_MAX ? BUDGET_MAX : b;
      for (unsigned i = 0; i < a->count; i++) a->chunk[i] = batches_for(a->budget, a->calibration[i]);
    }
    next_turn(a);
    return;
  }
  a->samples[c][a->taken[c]++] = per_batch;
  a->chunk[c] = batches_for(a->budget, per_batch);
  a->turn++;
  unsigned winner;
  double winner_per_batch;
  if (decide(a, &winner, &winner_per_batch)) {
    settle_on(a, winner, winner_per_batch);
    return;
  }
  next_turn(a);
}
