#include "cache/redis_status.h"

#include <algorithm>

namespace ocsp {

RedisStatus::RedisStatus(int workers, std::string target)
    : slots_(static_cast<size_t>(std::max(workers, 1))), target_(std::move(target)) {}

void RedisStatus::setUp(int worker, const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  if (worker < 0 || static_cast<size_t>(worker) >= slots_.size()) return;
  slots_[static_cast<size_t>(worker)] = Slot{true, address};
}

void RedisStatus::setDown(int worker) {
  std::lock_guard<std::mutex> lock(mu_);
  if (worker < 0 || static_cast<size_t>(worker) >= slots_.size()) return;
  slots_[static_cast<size_t>(worker)].up = false;
}

bool RedisStatus::up(int worker) const {
  std::lock_guard<std::mutex> lock(mu_);
  return worker >= 0 && static_cast<size_t>(worker) < slots_.size() &&
         slots_[static_cast<size_t>(worker)].up;
}

int RedisStatus::upCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(
      std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return s.up; }));
}

bool RedisStatus::allUp() const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::all_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.up; });
}

std::string RedisStatus::describe() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (slots_.empty()) return "redis: not configured";
  std::vector<std::string> addresses;  // distinct, in worker order (sentinel mode may differ)
  size_t up = 0;
  for (const Slot& s : slots_) {
    if (!s.up) continue;
    ++up;
    if (std::find(addresses.begin(), addresses.end(), s.address) == addresses.end()) {
      addresses.push_back(s.address);
    }
  }
  std::string out =
      "redis: " + std::to_string(up) + "/" + std::to_string(slots_.size()) + " connections up";
  if (addresses.empty()) return out + " (" + target_ + ")";
  out += " to ";
  for (size_t i = 0; i < addresses.size(); ++i) {
    if (i > 0) out += ", ";
    out += addresses[i];
  }
  return out;
}

}  // namespace ocsp
