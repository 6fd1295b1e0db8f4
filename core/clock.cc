#include "core/clock.h"

#include <chrono>

namespace ocsp {

int64_t monotonicMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace ocsp
