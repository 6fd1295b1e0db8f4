#pragma once
// CRL request coalescing (docs/ARCHITECTURE.md §8): however many clients and workers ask for
// one CRL URL at once, the stages below see one lookup (one Redis read, one download, one
// parse). It is also where a lookup moves from the caller's thread to the CRL thread.
// Rules:
//   - the first lookup of a URL not in flight is the leader: it is logged (event=crl_miss,
//     debug) and continues on the CRL thread (through `crl_thread`); every later lookup of
//     the URL waits for the leader's result;
//   - the result, on the CRL thread, goes to every lookup that waited, the leader included,
//     each on its own thread (CrlQuery::reply_to): no CRL work runs on a worker's loop, and
//     no reply runs on the CRL thread;
//   - the stages below store a CRL before replying, so once the URL leaves the in-flight
//     table a new lookup finds it stored;
//   - lead() (the refresh timer, CRL thread) starts a lookup nobody waits for, unless the
//     URL is in flight already: then that lookup brings the newer CRL.
// Threading: lookup() from any thread; one mutex over the in-flight table.
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/crl_source.h"
#include "core/mailbox.h"

namespace ocsp {

class CrlCoalescer final : public CrlSource {
 public:
  // `crl_thread` and `next` must outlive this object; `next` is called on the CRL thread.
  CrlCoalescer(Mailbox& crl_thread, CrlSource& next) : crl_thread_(crl_thread), next_(next) {}

  // `query.reply_to` must be set: `done` runs there.
  void lookup(CrlQuery query, CrlReply done) override;
  // CRL thread. False (and nothing started) if `query.key` is in flight.
  bool lead(CrlQuery query);
  size_t inflight() const;

 private:
  struct Waiter {
    Mailbox* mailbox;
    CrlReply done;
  };
  void start(CrlQuery query);  // CRL thread
  void deliver(const std::string& key, const Result<std::shared_ptr<const CrlEntry>>& result);

  Mailbox& crl_thread_;
  CrlSource& next_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::vector<Waiter>> waiting_;  // key present = in flight
};

}  // namespace ocsp
