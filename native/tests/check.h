/*
 * check.h - a tiny test helper for the C tests (header only, one test program
 * per executable).
 *
 *   CHECK(cond)                    records a failure if cond is false
 *   CHECK_MSG(cond, fmt, ...)      the same with a printf-style explanation
 *   CHECK_NEAR(a, b, tol)          |a - b| <= tol (as doubles; NaN fails)
 *   CHECK_CODE(expr, expected)     an hdrnn_code call returns expected
 *   check_summary(name)            prints the totals; returns the exit code
 *
 * A failed check prints file:line and what was expected, then the test goes
 * on, so one run shows every failure. Each macro evaluates to 1 when the
 * check passed and 0 when it failed, so a test can stop early on its own.
 */
#ifndef HDRNN_CHECK_H
#define HDRNN_CHECK_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "hdrnn.h"

typedef struct check_totals {
  unsigned long checks;
  unsigned long failures;
  const char *current; /* name of the running test, for the failure lines */
} check_totals;

static check_totals check_state = {0, 0, "?"};

/* Begins a named test (only used to label failure lines). */
static void check_begin(const char *name) {
  check_state.current = name;
  printf("-- %s\n", name);
  fflush(stdout);
}

static int check_record(int ok, const char *file, int line, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static int check_record(int ok, const char *file, int line, const char *format, ...) {
  check_state.checks++;
  if (ok) return 1;
  check_state.failures++;
  /* Limit the noise of a check failing inside a big loop. */
  if (check_state.failures <= 200) {
    va_list args;
    va_start(args, format);
    fprintf(stderr, "%s:%d: FAILED in %s: ", file, line, check_state.current);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
  } else if (check_state.failures == 201) {
    fprintf(stderr, "(further failures not printed)\n");
  }
  return 0;
}

static int check_near(double a, double b, double tol, const char *file, int line,
                      const char *ea, const char *eb) {
  const double diff = fabs(a - b);
  return check_record(diff <= tol, file, line, "%s = %.9g, %s = %.9g, |diff| %.3g > %.3g", ea,
                      a, eb, b, diff, tol);
}

static int check_code(hdrnn_code got, hdrnn_code expected, const char *file, int line,
                      const char *expr) {
  return check_record(got == expected, file, line, "%s returned %s (%d), expected %s (%d)",
                      expr, hdrnn_code_name(got), (int)got, hdrnn_code_name(expected),
                      (int)expected);
}

#define CHECK(cond) check_record((cond) ? 1 : 0, __FILE__, __LINE__, "%s", #cond)
#define CHECK_MSG(cond, ...) check_record((cond) ? 1 : 0, __FILE__, __LINE__, __VA_ARGS__)
#define CHECK_NEAR(a, b, tol) \
  check_near((double)(a), (double)(b), (double)(tol), __FILE__, __LINE__, #a, #b)
#define CHECK_CODE(expr, expected) check_code((expr), (expected), __FILE__, __LINE__, #expr)

/* Prints the totals; returns 0 when every check passed, 1 otherwise. */
static int check_summary(const char *program) {
  printf("%s: %lu checks, %lu failed\n", program, check_state.checks, check_state.failures);
  return check_state.failures == 0 ? 0 : 1;
}

#endif /* HDRNN_CHECK_H */
