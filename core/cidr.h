#pragma once
// IP addresses and address blocks (RFC 4632 CIDR notation for IPv4, RFC 4291 §2.3 for IPv6),
// for rules that name groups of clients (distrust[].clients, docs/ARCHITECTURE.md §9).
// Contracts:
//   - parseIpAddress reads an IPv4 or IPv6 literal; an IPv4-mapped IPv6 address
//     (::ffff:10.0.0.1, what a dual-stack listener reports for an IPv4 client) is read as the
//     IPv4 address, so that an IPv4 block matches the client either way.
//   - parseCidr reads "ADDRESS/LENGTH" (0..32 for IPv4, 0..128 for IPv6) or a bare address (one
//     host: /32 or /128). Bits set past the prefix length are refused (10.20.0.1/16 is more
//     likely a typo than a block), and the reason is given.
//   - An address is in a block only if both are of the same family.
// Pure functions, no allocation on the matching path.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ocsp {

struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4: the first 4 bytes, network order
};

struct Cidr {
  IpAddress base;       // host bits all zero
  unsigned prefix = 0;  // bits of `base` that must match
};

std::optional<IpAddress> parseIpAddress(std::string_view text);

// The block, or why `text` is not one (for a config error message).
struct CidrParse {
  std::optional<Cidr> cidr;
  std::string error;  // set when cidr is absent
};
CidrParse parseCidr(std::string_view text);

bool cidrContains(const Cidr& block, const IpAddress& address);

// "10.20.0.0/16", "2001:db8::/32": the canonical text of the block.
std::string cidrText(const Cidr& block);

}  // namespace ocsp
