// pool.h — a device's persistent worker threads (internal).
//
// Threads and their Workers are created once per device: creating them per dispatch was
// measured slower with two workers than running on one. The thread that calls run() (the
// device's queue thread) is itself worker 0, so a one-group dispatch wakes nobody.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "vec.h"
#include "worker.h"

namespace mbcpu::rt {

class Pool {
 public:
  explicit Pool(unsigned workers);  // workers >= 1, counting the caller of run()
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  unsigned size() const { return static_cast<unsigned>(workers_.size()); }
  // Runs every group of `job` and returns when all of them are done (or the job failed).
  // Always called from the same thread.
  void run(Job& job);
  // From another thread (the watchdog): interrupts the kernel code of every worker running
  // `job`. Returns how many were.
  unsigned interrupt(const Job* job);

 private:
  void helper_loop(unsigned index);

  Vec<std::unique_ptr<Worker>> workers_;
  Vec<std::thread> threads_;  // helpers: worker i + 1 runs on threads_[i]

  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable work_done_;
  Job* job_ = nullptr;         // the open job, or null
  uint64_t generation_ = 0;    // bumped per opened job
  unsigned helper_slots_ = 0;  // helpers the open job still takes
  unsigned busy_ = 0;          // helpers inside Worker::run
  bool stop_ = false;
};

}  // namespace mbcpu::rt
