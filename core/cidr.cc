// IP addresses and CIDR blocks; see core/cidr.h for the contracts.
#include "core/cidr.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace ocsp {

namespace {

constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

unsigned bitsOf(const IpAddress& a) { return a.v6 ? 128 : 32; }

}  // namespace

std::optional<IpAddress> parseIpAddress(std::string_view text) {
  // inet_pton reads a C string: a NUL inside would hide the rest.
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN || text.find('\0') != text.npos) {
    return std::nullopt;
  }
  const std::string s(text);
  IpAddress out;
  if (inet_pton(AF_INET, s.c_str(), out.bytes.data()) == 1) return out;
  if (inet_pton(AF_INET6, s.c_str(), out.bytes.data()) != 1) return std::nullopt;
  if (std::memcmp(out.bytes.data(), kV4MappedPrefix.data(), kV4MappedPrefix.size()) == 0) {
    std::memmove(out.bytes.data(), out.bytes.data() + 12, 4);
    std::memset(out.bytes.data() + 4, 0, 12);
    return out;
  }
  out.v6 = true;
  return out;
}

CidrParse parseCidr(std::string_view text) {
  const size_t slash = text.find('/');
  auto address = parseIpAddress(text.substr(0, slash));
  // A mapped address written in a block is an IPv6 block in intent; refusing it is clearer
  // than guessing.
  if (!address || (slash != text.npos && text.substr(0, slash).find(':') != text.npos &&
                   !address->v6)) {
    return {std::nullopt, "not an IPv4 or IPv6 address block (expected ADDRESS/LENGTH)"};
  }
  Cidr block{*address, bitsOf(*address)};
  if (slash != text.npos) {
    const std::string_view len = text.substr(slash + 1);
    unsigned prefix = 0;
    auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), prefix);
    if (len.empty() || ec != std::errc() || end != len.data() + len.size() ||
        prefix > bitsOf(*address) || (len.size() > 1 && len[0] == '0')) {
      return {std::nullopt, "prefix length must be 0.." + std::to_string(bitsOf(*address))};
    }
    block.prefix = prefix;
  }
  for (unsigned bit = block.prefix; bit < bitsOf(*address); ++bit) {
    if ((block.base.bytes[bit / 8] >> (7 - bit % 8)) & 1) {
      Cidr fixed = block;
      for (unsigned b = block.prefix; b < bitsOf(*address); ++b) {
        fixed.base.bytes[b / 8] &= static_cast<uint8_t>(~(1u << (7 - b % 8)));
      }
      return {std::nullopt, "address has bits set past the prefix length (the block is " +
                                cidrText(fixed) + ")"};
    }
  }
  return {block, ""};
}

bool cidrContains(const Cidr& block, const IpAddress& address) {
  if (block.base.v6 != address.v6) return false;
  const unsigned whole = block.prefix / 8;
  if (std::memcmp(block.base.bytes.data(), address.bytes.data(), whole) != 0) return false;
  const unsigned rest = block.prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (block.base.bytes[whole] & mask) == (address.bytes[whole] & mask);
}

std::string cidrText(const Cidr& block) {
  char buf[INET6_ADDRSTRLEN] = "";
  inet_ntop(block.base.v6 ? AF_INET6 : AF_INET, block.base.bytes.data(), buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(block.prefix);
}

}  // namespace ocsp
