// Rate limits: argument checks and the call of lua/ratelimit_<algorithm>.lua.
#include "latchkey/ratelimit.hpp"

#include "engine/ratelimit/replies.hpp"
#include "latchkey/key_schema.hpp"
#include "latchkey/redis/connection.hpp"
#include "latchkey/redis/reply.hpp"

namespace latchkey::ratelimit {

using boost::asio::awaitable;
using redis::integer_of;
using redis::unexpected_reply;

awaitable<result<Decision>> Service::check(redis::Connection& redis, std::string scope, std::string key, Limit l,
                                           std::int64_t cost) const {
  if (check_limit(l, cost)) co_return make_error_code(errc::invalid_request);
  static constexpr const char* kScript[] = {"ratelimit_fixed_window", "ratelimit_sliding_window", "ratelimit_gcra"};
  auto i = static_cast<std::size_t>(l.algorithm);
  std::string id = s_.ids.of(scope, key);
  std::vector<std::string> keys;
  switch (l.algorithm) {
    case Algorithm::fixed_window: keys.push_back(key_schema::ratelimit_fixed_window(s_.key_prefix, id)); break;
    case Algorithm::sliding_window:  // the log and its unit count, one hash tag: one slot
      keys.push_back(key_schema::ratelimit_sliding_log(s_.key_prefix, id));
      keys.push_back(key_schema::ratelimit_sliding_count(s_.key_prefix, id));
      break;
    case Algorithm::gcra: keys.push_back(key_schema::ratelimit_gcra(s_.key_prefix, id)); break;
  }
  std::vector<std::string> args{std::to_string(l.limit), std::to_string(l.window_ms), std::to_string(cost)};
  if (l.algorithm == Algorithm::gcra) args.push_back(std::to_string(l.burst == 0 ? l.limit : l.burst));
  auto r = co_await redis.eval(kScript[i], std::move(keys), std::move(args));
  if (!r) co_return r.error();
  auto limited = replies::ratelimit(*r, kScript[i]);
  if (!limited) co_return limited.error();
  Decision d;
  d.allowed = limited->allowed;
  d.limit = l.limit;
  d.remaining = std::max<std::int64_t>(0, limited->remaining);
  d.reset_after_ms = std::max<std::int64_t>(0, limited->reset_after_ms);
  d.retry_after_ms = d.allowed ? 0 : std::max<std::int64_t>(1, limited->retry_after_ms);
  co_return d;
}

}  // namespace latchkey::ratelimit
