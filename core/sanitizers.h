#pragma once
// Whether this build runs under AddressSanitizer (build-san: clang, or g++ with
// -fsanitize=address): code that hides blocks from ASan (the entry arena) or that only
// measures (timed tests) behaves differently there.

namespace ocsp {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#else
inline constexpr bool kAddressSanitizer = false;
#endif

}  // namespace ocsp
