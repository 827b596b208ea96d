/*
 * optimizers.c - the optimizer table and the learning-rate schedules (see
 * optimizers.h).
 */
#include <math.h>

#include "optimizers.h"

/*
 * Moments below this are set to 0. A moment that only decays (a weight whose
 * input is almost always 0, as MNIST's border pixels) would otherwise sink
 * into the subnormal range, where every operation on it costs ~100 cycles on
 * x86 and Arm alike: that made momentum 4x slower than SGD on 784-100-10.
 * The flush is an ordinary per-element comparison, the same on every thread
 * count and kernel set, so the determinism contract holds. (Flush-to-zero
 * modes of the FPU would be process-wide state; the core keeps none.)
 */
#define MOMENT_FLOOR 1e-30f

#define FLUSH(x) (fabsf(x) < MOMENT_FLOOR ? 0.0f : (x))

/* SGD (with weight decay, or behind a schedule): w -= eta (g + lambda w). */
static void sgd_step(const hdrnn_step *s, float *restrict w, const float *restrict g, float *m,
                     float *v, size_t n, int weights) {
  (void)m;
  (void)v;
  const float decay = weights ? s->decay : 0.0f;
  for (size_t i = 0; i < n; i++) w[i] -= s->eta * (g[i] * s->inv_rows + decay * w[i]);
}

/* Classical momentum: v = mu v - eta (g + lambda w); w += v. */
static void momentum_step(const hdrnn_step *s, float *restrict w, const float *restrict g,
                          float *restrict m, float *v, size_t n, int weights) {
  (void)v;
  const float decay = weights ? s->decay : 0.0f;
  for (size_t i = 0; i < n; i++) {
    const float velocity = s->mu * m[i] - s->eta * (g[i] * s->inv_rows + decay * w[i]);
    m[i] = FLUSH(velocity);
    w[i] += m[i];
  }
}

/* Adam (Kingma & Ba 2015, algorithm 1) with L2 added to the gradient.
 * Built with -fno-math-errno, so sqrtf is an instruction and the loop
 * vectorises on x64 (ARMv7 NEON has no vector sqrt or division: a VFP loop
 * there). */
static void adam_step(const hdrnn_step *s, float *restrict w, const float *restrict g,
                      float *restrict m, float *restrict v, size_t n, int weights) {
  const float decay = weights ? s->decay : 0.0f;
  for (size_t i = 0; i < n; i++) {
    const float grad = g[i] * s->inv_rows + decay * w[i];
    const float first = s->beta1 * m[i] + (1.0f - s->beta1) * grad;
    const float second = s->beta2 * v[i] + (1.0f - s->beta2) * grad * grad;
    m[i] = FLUSH(first);
    v[i] = FLUSH(second);
    const float mhat = m[i] * s->correct1, vhat = v[i] * s->correct2;
    w[i] -= s->eta * mhat / (sqrtf(vhat) + s->epsilon);
  }
}

static const hdrnn_optimizer_ops table[HDRNN_OPTIMIZER_COUNT] = {
    [HDRNN_OPTIMIZER_SGD] = {"sgd", 0, sgd_step},
    [HDRNN_OPTIMIZER_MOMENTUM] = {"momentum", 1, momentum_step},
    [HDRNN_OPTIMIZER_ADAM] = {"adam", 2, adam_step},
};

const hdrnn_optimizer_ops *hdrnn_optimizer_ops_of(hdrnn_optimizer o) {
  return (unsigned)o < HDRNN_OPTIMIZER_COUNT ? &table[o] : NULL;
}

void hdrnn_optimizer_defaults(hdrnn_train_options *o) {
  if (o->momentum == 0.0f) o->momentum = 0.9f;
  if (o->beta1 == 0.0f) o->beta1 = 0.9f;
  if (o->beta2 == 0.0f) o->beta2 = 0.999f;
  if (o->epsilon == 0.0f) o->epsilon = 1e-8f;
}

static int in_unit(float x) { return isfinite(x) && x >= 0.0f && x < 1.0f; }

hdrnn_code hdrnn_optimizer_check(const hdrnn_train_options *o, hdrnn_status *status) {
  if (hdrnn_optimizer_ops_of((hdrnn_optimizer)o->optimizer) == NULL)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "unknown optimizer %d", o->optimizer);
  if (!in_unit(o->momentum) || !in_unit(o->beta1) || !in_unit(o->beta2))
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT,
                      "momentum, beta1 and beta2 must be in [0, 1) (0: the default)");
  if (!isfinite(o->epsilon) || o->epsilon < 0.0f)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "epsilon must be a finite number >= 0");
  if (!isfinite(o->weight_decay) || o->weight_decay < 0.0f)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "weight decay must be a finite number >= 0");
  switch (o->schedule) {
    case HDRNN_SCHEDULE_CONSTANT:
      break;
    case HDRNN_SCHEDULE_STEP:
      if (o->schedule_every == 0 || !isfinite(o->schedule_factor) || !(o->schedule_factor > 0.0f))
        return hdrnn_fail(status, HDRNN_ERR_ARGUMENT,
                          "a step schedule needs every >= 1 and a factor above 0");
      break;
    case HDRNN_SCHEDULE_COSINE:
      if (o->schedule_epochs == 0 || !isfinite(o->schedule_min) || o->schedule_min < 0.0f)
        return hdrnn_fail(status, HDRNN_ERR_ARGUMENT,
                          "a cosine schedule needs its number of epochs and a minimum >= 0");
      break;
    default:
      return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "unknown schedule %d", o->schedule);
  }
  return hdrnn_ok(status);
}

float hdrnn_schedule_rate(const hdrnn_train_options *o, uint32_t e) {
  const float eta = o->learning_rate;
  switch (o->schedule) {
    case HDRNN_SCHEDULE_STEP:
      return (float)(eta * pow(o->schedule_factor, (double)(e / o->schedule_every)));
    case HDRNN_SCHEDULE_COSINE: {
      const double pi = 3.14159265358979323846;
      const double x = e >= o->schedule_epochs ? 1.0 : (double)e / o->schedule_epochs;
      return (float)(o->schedule_min + (eta - o->schedule_min) * 0.5 * (1.0 + cos(pi * x)));
    }
    default:
      return eta;
  }
}

hdrnn_code hdrnn_train_options_check(const hdrnn_train_options *options, hdrnn_status *status) {
  if (options == NULL) return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "missing options");
  hdrnn_train_options o = *options;
  hdrnn_optimizer_defaults(&o);
  return hdrnn_optimizer_check(&o, status);
}
