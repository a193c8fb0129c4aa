// The per-thread cache of client records: freshness, deletion (counted before the read that
// filled an entry), and its size bound.
#include "engine/oauth/client_cache.hpp"

#include <gtest/gtest.h>

#include <thread>

using latchkey::oauth::Client;
using latchkey::oauth::ClientCache;
using namespace std::chrono_literals;

namespace {
Client named(std::string id) {
  Client c;
  c.client_id = std::move(id);
  c.scope = "read";
  c.secret_hash = "h";
  return c;
}
}  // namespace

TEST(ClientCache, KeepsARecordUntilItsDeadline) {
  ClientCache cache;
  auto t0 = ClientCache::Clock::time_point{} + 1000s;
  EXPECT_EQ(cache.get("a", t0), nullptr);
  cache.put(named("a"), ClientCache::deletions(), t0 + 2s, t0);
  const Client* hit = cache.get("a", t0 + 1999ms);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->scope, "read");
  EXPECT_EQ(cache.get("b", t0), nullptr);
  EXPECT_EQ(cache.get("a", t0 + 2s), nullptr);  // the deadline itself is past
  EXPECT_EQ(cache.size(), 0u);                  // and the stale entry is gone
}

TEST(ClientCache, NothingIsKeptWithoutATimeToLive) {
  ClientCache cache;
  auto t0 = ClientCache::Clock::time_point{} + 1000s;
  cache.put(named("a"), ClientCache::deletions(), t0, t0);  // oauth_client_cache_ttl 0
  EXPECT_EQ(cache.get("a", t0), nullptr);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ClientCache, AnyDeletionDropsEveryThreadsEntries) {
  ClientCache here;
  ClientCache there;
  auto t0 = ClientCache::Clock::time_point{} + 1000s;
  here.put(named("a"), ClientCache::deletions(), t0 + 60s, t0);
  std::thread([&] { there.put(named("a"), ClientCache::deletions(), t0 + 60s, t0); }).join();
  ASSERT_NE(here.get("a", t0), nullptr);
  std::thread([] { ClientCache::deleted(); }).join();  // a deletion on another thread
  EXPECT_EQ(here.get("a", t0), nullptr);
  EXPECT_EQ(there.get("a", t0), nullptr);
  // Entries read after the deletion are kept again.
  here.put(named("a"), ClientCache::deletions(), t0 + 60s, t0);
  EXPECT_NE(here.get("a", t0), nullptr);
}

TEST(ClientCache, ARecordReadBeforeADeletionIsNeverKept) {
  // The read started, a deletion landed while it was in flight, then its reply arrived: the
  // record may be the deleted one.
  ClientCache cache;
  auto t0 = ClientCache::Clock::time_point{} + 1000s;
  std::uint64_t before_read = ClientCache::deletions();
  ClientCache::deleted();
  cache.put(named("a"), before_read, t0 + 60s, t0);
  EXPECT_EQ(cache.get("a", t0), nullptr);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ClientCache, StaysWithinItsSizeBound) {
  ClientCache cache;
  auto t0 = ClientCache::Clock::time_point{} + 1000s;
  auto d = ClientCache::deletions();
  // Half expire early: at the bound they are the ones dropped.
  for (std::size_t i = 0; i < ClientCache::kMaxEntries; ++i)
    cache.put(named("c" + std::to_string(i)), d, t0 + (i % 2 ? 60s : 1s), t0);
  EXPECT_EQ(cache.size(), ClientCache::kMaxEntries);
  cache.put(named("new"), d, t0 + 60s, t0 + 2s);
  EXPECT_EQ(cache.size(), ClientCache::kMaxEntries / 2 + 1);
  EXPECT_NE(cache.get("new", t0 + 2s), nullptr);
  EXPECT_NE(cache.get("c1", t0 + 2s), nullptr);
  // Full of live entries: the cache starts over rather than grow.
  for (std::size_t i = 0; cache.size() < ClientCache::kMaxEntries; ++i)
    cache.put(named("d" + std::to_string(i)), d, t0 + 60s, t0 + 2s);
  cache.put(named("last"), d, t0 + 60s, t0 + 2s);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_NE(cache.get("last", t0 + 2s), nullptr);
  // Replacing a present entry at the bound keeps the others.
  for (std::size_t i = 0; cache.size() < ClientCache::kMaxEntries; ++i)
    cache.put(named("e" + std::to_string(i)), d, t0 + 60s, t0 + 2s);
  cache.put(named("last"), d, t0 + 90s, t0 + 2s);
  EXPECT_EQ(cache.size(), ClientCache::kMaxEntries);
}
