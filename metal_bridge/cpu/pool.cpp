// pool.cpp — persistent worker threads.
#include "pool.h"

#include "platform.h"

#include <pthread.h>

#include <algorithm>

namespace mbcpu::rt {

Pool::Pool(unsigned workers) {
  workers = std::max(1u, workers);
  for (unsigned i = 0; i < workers; ++i) workers_.push_back(std::make_unique<Worker>());
  threads_.reserve(workers - 1);
  for (unsigned i = 1; i < workers; ++i) threads_.emplace_back([this, i] { helper_loop(i); });
}

Pool::~Pool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_ready_.notify_all();
  for (auto& thread : threads_) thread.join();
}

void Pool::run(Job& job) {
  // Wake only as many helpers as there are groups left after the caller's first grab.
  const uint64_t grabs = (job.total + job.chunk - 1) / job.chunk;
  const auto helpers =
      static_cast<unsigned>(std::min<uint64_t>(threads_.size(), grabs > 0 ? grabs - 1 : 0));
  if (helpers > 0) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &job;
      helper_slots_ = helpers;
      ++generation_;
    }
    if (helpers == threads_.size()) {
      work_ready_.notify_all();
    } else {
      for (unsigned i = 0; i < helpers; ++i) work_ready_.notify_one();
    }
  }
  workers_[0]->run(job);
  if (helpers > 0) {
    std::unique_lock<std::mutex> lock(mutex_);
    job_ = nullptr;  // helpers that wake from now on find nothing to join
    helper_slots_ = 0;
    work_done_.wait(lock, [this] { return busy_ == 0; });
  }
}

unsigned Pool::interrupt(const Job* job) {
  unsigned interrupted = 0;
  for (auto& worker : workers_) interrupted += worker->interrupt(job) ? 1 : 0;
  return interrupted;
}

void Pool::helper_loop(unsigned index) {
  name_this_thread("mb-cpu-worker");
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_ready_.wait(lock, [&] {
      return stop_ || (job_ != nullptr && generation_ != seen && helper_slots_ > 0);
    });
    if (stop_) return;
    seen = generation_;
    Job* job = job_;
    --helper_slots_;
    ++busy_;
    lock.unlock();
    workers_[index]->run(*job);
    lock.lock();
    if (--busy_ == 0) work_done_.notify_one();
  }
}

}  // namespace mbcpu::rt
