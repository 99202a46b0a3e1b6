// Tests for engine/security/cidr: IPv4 and IPv6 blocks, IPv4-mapped peers, canonical text, and
// the errors a mistyped allow-list entry produces.
#include "engine/security/cidr.h"

#include <gtest/gtest.h>

namespace labgate::security {
namespace {

using Poco::Net::IPAddress;

Cidr parsed(const std::string& text) {
  auto cidr = Cidr::parse(text);
  EXPECT_TRUE(cidr.isOk()) << text << ": " << cidr.status().toString();
  return cidr.value();
}

bool holds(const std::string& block, const std::string& address) {
  return parsed(block).contains(IPAddress(address));
}

std::string errorOf(const std::string& text) {
  auto cidr = Cidr::parse(text);
  EXPECT_FALSE(cidr.isOk()) << text << " parsed as " << cidr->toString();
  if (!cidr.isOk()) {
    EXPECT_EQ(cidr.status().code(), Status::Code::kInvalid);
  }
  return cidr.status().toString();
}

TEST(Cidr, Ipv4Blocks) {
  EXPECT_TRUE(holds("10.0.0.0/8", "10.1.2.3"));
  EXPECT_TRUE(holds("10.0.0.0/8", "10.255.255.255"));
  EXPECT_FALSE(holds("10.0.0.0/8", "11.0.0.0"));
  EXPECT_FALSE(holds("10.0.0.0/8", "9.255.255.255"));
  EXPECT_TRUE(holds("192.168.1.128/25", "192.168.1.200"));
  EXPECT_FALSE(holds("192.168.1.128/25", "192.168.1.127"));
  EXPECT_TRUE(holds("172.16.0.0/12", "172.31.0.1"));
  EXPECT_FALSE(holds("172.16.0.0/12", "172.32.0.1"));
  EXPECT_TRUE(holds("0.0.0.0/0", "203.0.113.9"));
}

TEST(Cidr, AnAddressAloneIsASingleHost) {
  EXPECT_EQ(parsed("192.168.1.7").toString(), "192.168.1.7/32");
  EXPECT_TRUE(holds("192.168.1.7", "192.168.1.7"));
  EXPECT_FALSE(holds("192.168.1.7", "192.168.1.8"));
  EXPECT_EQ(parsed("::1").toString(), "::1/128");
  EXPECT_TRUE(holds("::1", "::1"));
  EXPECT_FALSE(holds("::1", "::2"));
}

TEST(Cidr, Ipv6Blocks) {
  EXPECT_TRUE(holds("fd00::/8", "fd12:3456::1"));
  EXPECT_FALSE(holds("fd00::/8", "fe80::1"));
  EXPECT_TRUE(holds("2001:db8::/32", "2001:db8:ffff::1"));
  EXPECT_FALSE(holds("2001:db8::/32", "2001:db9::1"));
  EXPECT_TRUE(holds("2001:db8:0:8000::/49", "2001:db8:0:ffff::1"));
  EXPECT_FALSE(holds("2001:db8:0:8000::/49", "2001:db8:0:7fff::1"));
  EXPECT_TRUE(holds("::/0", "2001:db8::1"));
}

TEST(Cidr, FamiliesDoNotMix) {
  EXPECT_FALSE(holds("0.0.0.0/0", "::1"));
  EXPECT_FALSE(holds("0.0.0.0/0", "2001:db8::1"));
  EXPECT_FALSE(holds("::/0", "10.0.0.1"));
  // "::10.0.0.1" (IPv4-compatible, deprecated) is not a mapped address.
  EXPECT_FALSE(holds("10.0.0.0/8", "::10.0.0.1"));
}

TEST(Cidr, MappedPeersMatchAsIpv4) {
  EXPECT_TRUE(holds("10.0.0.0/8", "::ffff:10.1.2.3"));
  EXPECT_FALSE(holds("10.0.0.0/8", "::ffff:11.1.2.3"));
  EXPECT_TRUE(holds("192.168.1.7", "::ffff:192.168.1.7"));
  EXPECT_TRUE(holds("0.0.0.0/0", "::ffff:203.0.113.9"));
  // The same client as its plain IPv4 self: no IPv6 block holds it.
  EXPECT_FALSE(holds("::/0", "::ffff:10.1.2.3"));
}

TEST(Cidr, MappedBlocksAreIpv4Blocks) {
  EXPECT_EQ(parsed("::ffff:10.0.0.0/104").toString(), "10.0.0.0/8");
  EXPECT_EQ(parsed("::ffff:192.168.1.7").toString(), "192.168.1.7/32");
  EXPECT_TRUE(holds("::ffff:10.0.0.0/104", "10.9.8.7"));
  EXPECT_TRUE(holds("::ffff:10.0.0.0/104", "::ffff:10.9.8.7"));
}

TEST(Cidr, CanonicalText) {
  EXPECT_EQ(parsed("10.0.0.0/8").toString(), "10.0.0.0/8");
  EXPECT_EQ(parsed("  10.0.0.0/8 ").toString(), "10.0.0.0/8");
  EXPECT_EQ(parsed("FD00::/8").toString(), "fd00::/8");
  EXPECT_EQ(parsed("0:0:0:0:0:0:0:0/0").toString(), "::/0");
  EXPECT_EQ(parsed("2001:0db8:0000:0000:0000:0000:0000:0001").toString(), "2001:db8::1/128");
  // RFC 5952: the longest run of zeros is compressed, the first of equal runs, never just one.
  EXPECT_EQ(parsed("2001:0:0:1:0:0:0:1").toString(), "2001:0:0:1::1/128");
  EXPECT_EQ(parsed("2001:db8:0:0:1:0:0:1").toString(), "2001:db8::1:0:0:1/128");
  EXPECT_EQ(parsed("2001:db8:0:1:1:1:1:1").toString(), "2001:db8:0:1:1:1:1:1/128");
  EXPECT_EQ(parsed("1::").toString(), "1::/128");
  EXPECT_EQ(parsed("10.0.0.0/08").toString(), "10.0.0.0/8");
}

TEST(Cidr, HostBitsSetSuggestTheNetwork) {
  EXPECT_EQ(errorOf("10.0.0.1/8"), "10.0.0.1/8: host bits are set; did you mean 10.0.0.0/8?");
  EXPECT_EQ(errorOf("10.192.0.0/9"), "10.192.0.0/9: host bits are set; did you mean 10.128.0.0/9?");
  EXPECT_EQ(errorOf("fd00::1/8"), "fd00::1/8: host bits are set; did you mean fd00::/8?");
  EXPECT_EQ(errorOf("192.168.1.7/0"), "192.168.1.7/0: host bits are set; did you mean 0.0.0.0/0?");
}

TEST(Cidr, PrefixOutOfRangeOrMalformed) {
  EXPECT_NE(errorOf("10.0.0.0/33").find("out of range"), std::string::npos);
  EXPECT_NE(errorOf("::/129").find("out of range"), std::string::npos);
  EXPECT_NE(errorOf("10.0.0.0/").find("prefix length"), std::string::npos);
  EXPECT_NE(errorOf("10.0.0.0/-1").find("prefix length"), std::string::npos);
  EXPECT_NE(errorOf("10.0.0.0/8a").find("prefix length"), std::string::npos);
  EXPECT_NE(errorOf("10.0.0.0/ 8").find("prefix length"), std::string::npos);
  EXPECT_NE(errorOf("10.0.0.0/8/8").find("prefix length"), std::string::npos);
  EXPECT_NE(errorOf("10.0.0.0/0008").find("prefix length"), std::string::npos);
}

TEST(Cidr, NotAnAddress) {
  for (const char* text :
       {"", "   ", "/8", "localhost", "10.0.0", "10.1", "256.0.0.1", "010.0.0.1", "0x0a.0.0.1",
        "10.0.0.1.5", "fe80::1%eth0", "[::1]", "1:2:3:4:5:6:7:8:9", "::ffff:10.0.0.256"}) {
    const std::string error = errorOf(text);
    EXPECT_FALSE(error.empty()) << text;
  }
  EXPECT_EQ(errorOf("localhost"), "localhost: not an IPv4 or IPv6 address");
}

TEST(AllowList, EmptyAllowsEveryone) {
  const AllowList list;
  EXPECT_TRUE(list.empty());
  EXPECT_TRUE(list.allows(IPAddress("203.0.113.9")));
  EXPECT_TRUE(list.allows(IPAddress("2001:db8::1")));
  const auto parsedEmpty = AllowList::parse({});
  ASSERT_TRUE(parsedEmpty.isOk());
  EXPECT_TRUE(parsedEmpty->empty());
}

TEST(AllowList, AllowsAnyBlock) {
  const auto list = AllowList::parse({"10.0.0.0/8", "192.168.1.7", "fd00::/8"});
  ASSERT_TRUE(list.isOk()) << list.status().toString();
  EXPECT_FALSE(list->empty());
  EXPECT_TRUE(list->allows(IPAddress("10.20.30.40")));
  EXPECT_TRUE(list->allows(IPAddress("192.168.1.7")));
  EXPECT_TRUE(list->allows(IPAddress("::ffff:192.168.1.7")));
  EXPECT_TRUE(list->allows(IPAddress("fd99::5")));
  EXPECT_FALSE(list->allows(IPAddress("192.168.1.8")));
  EXPECT_FALSE(list->allows(IPAddress("::1")));
  EXPECT_FALSE(list->allows(IPAddress("127.0.0.1")));
  EXPECT_EQ(list->toStrings(),
            (std::vector<std::string>{"10.0.0.0/8", "192.168.1.7/32", "fd00::/8"}));
}

TEST(AllowList, ErrorsNameThePosition) {
  const auto list = AllowList::parse({"10.0.0.0/8", "10.0.0.1/8", "::1"});
  ASSERT_FALSE(list.isOk());
  EXPECT_EQ(list.status().code(), Status::Code::kInvalid);
  EXPECT_EQ(list.status().location(), "entry 2");
  EXPECT_EQ(list.status().toString(),
            "entry 2: 10.0.0.1/8: host bits are set; did you mean 10.0.0.0/8?");

  const auto blank = AllowList::parse({""});
  ASSERT_FALSE(blank.isOk());
  EXPECT_EQ(blank.status().toString(), "entry 1: empty address");

  const auto third = AllowList::parse({"::1", "10.0.0.0/8", "10.0.0.0/40"});
  ASSERT_FALSE(third.isOk());
  EXPECT_EQ(third.status().location(), "entry 3");
}

}  // namespace
}  // namespace labgate::security
