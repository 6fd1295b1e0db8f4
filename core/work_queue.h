#pragma once
// One background thread that runs posted jobs in order: CPU-heavy work (parsing a large CRL)
// that must not block an event loop. A job hands its result back through a Mailbox.
//
// Threading: post() from any thread. The destructor drops jobs not yet started, waits for the
// running one, and joins the thread.
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace ocsp {

class WorkQueue {
 public:
  WorkQueue();
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void post(std::function<void()> job);

 private:
  void run();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after the members it uses exist
};

}  // namespace ocsp
