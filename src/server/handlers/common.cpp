// Helpers shared by the JSON handlers.
#include "server/handlers/common.hpp"

#include "latchkey/config.hpp"

#include <boost/json.hpp>

#include <charconv>

namespace latchkey::server::handlers {

namespace json = boost::json;

HttpResponse refuse(const RequestContext& ctx, errc code, std::string description) {
  return engine_error(ctx, Failure(code, std::move(description)));
}

std::variant<json::object, HttpResponse> read_body(const RequestContext& ctx,
                                                   std::initializer_list<std::string_view> allowed,
                                                   json::storage_ptr storage) {
  std::string why;
  auto body = parse_json_object(ctx.request, why, std::move(storage));
  if (!body) return error_response(Failure(body.error()).code, why);  // Failure checks the category
  for (const auto& [k, v] : *body) {
    bool known = false;
    for (auto a : allowed) known = known || k == a;
    if (!known) return bad(ctx, "unknown field '" + std::string(k) + "'");
  }
  return std::move(*body);
}

std::variant<std::size_t, HttpResponse> limit_param(const RequestContext& ctx, std::size_t fallback) {
  auto l = query_param(ctx.request.query, "limit");
  if (!l) return fallback;
  std::size_t n = 0;
  auto [p, ec] = std::from_chars(l->data(), l->data() + l->size(), n);
  if (l->empty() || ec != std::errc() || p != l->data() + l->size() || n < 1 || n > kMaxPageLimit)
    return bad(ctx, "limit must be an integer from 1 to 1000");
  return n;
}

std::optional<std::string> user_param(const RequestContext& ctx) {
  auto id = percent_decode(ctx.param("user_id"));
  if (!id || !valid_user_id(*id)) return std::nullopt;
  return id;
}

}  // namespace latchkey::server::handlers
