// The EAL argument string as dataplane.eal gives it: split like a shell
// would for the simple cases operators write (words, quoted words).
#include "dataplane/dpdk_port.hpp"

#include <gtest/gtest.h>

namespace sigrelay::dataplane {
namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  EXPECT_TRUE(split_arguments(s, out)) << s;
  return out;
}

TEST(SplitArguments, WordsAtWhiteSpace) {
  EXPECT_EQ(split("-l 0-1  --no-huge\t-m 512"),
            (std::vector<std::string>{"-l", "0-1", "--no-huge", "-m", "512"}));
  EXPECT_TRUE(split("").empty());
  EXPECT_TRUE(split("   ").empty());
}

TEST(SplitArguments, QuotesGroupAndDisappear) {
  EXPECT_EQ(split("--vdev='net_af_packet0,iface=eth 1' -a \"0000:03:00.0\""),
            (std::vector<std::string>{"--vdev=net_af_packet0,iface=eth 1", "-a", "0000:03:00.0"}));
  EXPECT_EQ(split("''"), (std::vector<std::string>{""}));
  EXPECT_EQ(split("a\"b c\"d"), (std::vector<std::string>{"ab cd"}));
}

TEST(SplitArguments, UnterminatedQuoteIsAnError) {
  std::vector<std::string> out;
  EXPECT_FALSE(split_arguments("--vdev='net_tap0", out));
}

}  // namespace
}  // namespace sigrelay::dataplane
