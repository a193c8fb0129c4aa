// Hash slots as Redis Cluster computes them, and one short tag per slot.
#include "latchkey/redis/slot.hpp"

#include <gtest/gtest.h>

using namespace latchkey::redis;

TEST(Slot, MatchesRedisClusterKeySlots) {
  // Values from CLUSTER KEYSLOT on a real server / the Redis Cluster specification.
  EXPECT_EQ(crc16("123456789"), 0x31C3);
  EXPECT_EQ(key_slot("foo"), 12182);
  EXPECT_EQ(key_slot("bar"), 5061);
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("{user1000}.followers"));
  EXPECT_EQ(key_slot("foo{}{bar}"), key_slot("foo{}{bar}"));
  EXPECT_EQ(key_slot("foo{}{bar}"), static_cast<std::uint16_t>(crc16("foo{}{bar}") % kSlotCount));
  EXPECT_EQ(key_slot("foo{{bar}}zap"), static_cast<std::uint16_t>(crc16("{bar") % kSlotCount));
}

TEST(Slot, EverySlotHasATagThatMapsToIt) {
  for (std::uint16_t s = 0; s < kSlotCount; ++s) {
    const std::string& tag = slot_tag(s);
    ASSERT_LE(tag.size(), 6u);
    ASSERT_EQ(key_slot("lk:s:" + tag + ":anything"), s) << tag;
  }
}
