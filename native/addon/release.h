// release.h - freeing big native memory off the JavaScript thread.
//
// Finalizers run on the JavaScript thread. Freeing a 64 MB buffer there
// (the pages go back to the kernel) took tens of milliseconds on a busy
// machine, in the middle of whatever the event loop was doing; so the last
// reference to anything big is dropped on a short-lived thread of its own.
#ifndef HDRNN_ADDON_RELEASE_H
#define HDRNN_ADDON_RELEASE_H

#include <cstddef>
#include <memory>
#include <thread>
#include <utility>

namespace hdrnn_addon {

constexpr size_t kReleaseInlineBytes = 4u << 20; // smaller frees are quicker than a thread

// Destroys `owned` (any movable owner) here if small, else on another thread.
template <typename T>
void ReleaseLater(T &&owned, size_t bytes) {
  if (bytes < kReleaseInlineBytes) return; // destroyed with the caller's copy
  try {
    std::thread([o = std::forward<T>(owned)]() mutable { T gone(std::move(o)); }).detach();
  } catch (...) {
    // No thread: the lambda (and the memory) is destroyed right here.
  }
}

}  // namespace hdrnn_addon

#endif
