/*
 * priority.c - lowering a training thread below the host's own work.
 *
 * On the target the trainer shares four cores with the vehicle's services:
 * a background run must only take CPU nobody else wants. Linux schedules
 * threads, not processes, so each thread lowers itself: the idle class
 * (SCHED_IDLE) when the kernel allows it, else nice 19 for that thread.
 * Threads it starts afterwards inherit both.
 */
#define _GNU_SOURCE
#include "hdrnn.h"
#include "internal.h"

#if defined(__linux__)
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

hdrnn_code hdrnn_thread_background(hdrnn_status *status) {
#if defined(__linux__)
  struct sched_param param;
  param.sched_priority = 0;
  int idle = 0;
#ifdef SCHED_IDLE
  idle = sched_setscheduler(0, SCHED_IDLE, &param) == 0; /* 0: the calling thread */
#endif
  /* nice is per thread on Linux (setpriority on the thread id); set it too,
   * so that the thread stays low should the class be changed back. */
  const int niced = setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19) == 0;
  if (!idle && !niced)
    return hdrnn_fail(status, HDRNN_ERR_SYSTEM, "could not lower the thread's priority");
  return hdrnn_ok(status);
#else
  return hdrnn_fail(status, HDRNN_ERR_UNSUPPORTED, "background priority needs Linux");
#endif
}
