// /v1/oauth/clients... and /v1/oauth/authorizations: the admin side of the OAuth server
// (JSON, admin key). The RFC endpoints under /oauth2/ come with the token endpoint. The
// logic is oauth::Service (src/engine/oauth/).
#include "server/handlers/common.hpp"
#include "server/routes.hpp"
#include "server/services.hpp"

#include "latchkey/config.hpp"
#include "latchkey/log.hpp"

#include <boost/json.hpp>

namespace latchkey::server::handlers {
namespace {

namespace json = boost::json;
using boost::asio::awaitable;

json::object client_json(const oauth::Client& c) {
  json::array uris, grants;
  for (const auto& u : c.redirect_uris) uris.push_back(json::string(u));
  for (const auto& g : c.grant_types) grants.push_back(json::string(g));
  json::array response_types;
  if (c.allows_grant("authorization_code")) response_types.push_back("code");
  return json::object{
      {"client_id", c.client_id},
      {"client_name", c.client_name},
      {"redirect_uris", std::move(uris)},
      {"grant_types", std::move(grants)},
      {"response_types", std::move(response_types)},
      {"scope", c.scope},
      {"token_endpoint_auth_method", oauth::auth_method_name(c.auth_method)},
      {"client_id_issued_at", c.created_at},
      {"dpop_bound_access_tokens", c.dpop_bound},
      {"backchannel_logout_uri",
       c.backchannel_logout_uri.empty() ? json::value(nullptr) : json::value(json::string(c.backchannel_logout_uri))}};
}

// An array of strings, or why not.
std::optional<std::vector<std::string>> string_array(const json::value& v) {
  if (!v.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& e : v.as_array()) {
    if (!e.is_string()) return std::nullopt;
    out.emplace_back(e.as_string());
  }
  return out;
}

// POST /v1/oauth/clients (RFC 7591 style)
awaitable<HttpResponse> register_client(RequestContext& ctx) {
  auto parsed = read_body(ctx, {"client_name", "redirect_uris", "grant_types", "scope", "token_endpoint_auth_method",
                                "dpop_bound_access_tokens", "backchannel_logout_uri"});
  if (auto* r = std::get_if<HttpResponse>(&parsed)) co_return std::move(*r);
  auto& body = std::get<json::object>(parsed);
  oauth::NewClient c;
  if (const auto* v = body.if_contains("client_name")) {
    if (!v->is_string()) co_return refuse(ctx, errc::invalid_client_metadata, "client_name must be a string");
    c.client_name = std::string(v->as_string());
  }
  if (const auto* v = body.if_contains("redirect_uris")) {
    auto a = string_array(*v);
    if (!a) co_return refuse(ctx, errc::invalid_redirect_uri, "redirect_uris must be an array of strings");
    c.redirect_uris = std::move(*a);
  }
  if (const auto* v = body.if_contains("grant_types")) {
    auto a = string_array(*v);
    if (!a) co_return refuse(ctx, errc::invalid_client_metadata, "grant_types must be an array of strings");
    c.grant_types = std::move(*a);
  }
  if (const auto* v = body.if_contains("scope")) {
    if (!v->is_string()) co_return refuse(ctx, errc::invalid_client_metadata, "scope must be a string");
    c.scope = std::string(v->as_string());
  }
  if (const auto* v = body.if_contains("token_endpoint_auth_method")) {
    auto m = v->is_string() ? oauth::auth_method_from_name(v->as_string()) : std::nullopt;
    if (!m)
      co_return refuse(ctx, errc::invalid_client_metadata,
                       "token_endpoint_auth_method must be client_secret_basic, client_secret_post or none");
    c.auth_method = *m;
  }
  if (const auto* v = body.if_contains("dpop_bound_access_tokens")) {
    if (!v->is_bool())
      co_return refuse(ctx, errc::invalid_client_metadata, "dpop_bound_access_tokens must be a boolean");
    c.dpop_bound = v->as_bool();
  }
  if (const auto* v = body.if_contains("backchannel_logout_uri"); v && !v->is_null()) {
    if (!v->is_string())
      co_return refuse(ctx, errc::invalid_client_metadata, "backchannel_logout_uri must be a string");
    c.backchannel_logout_uri = std::string(v->as_string());
  }
  if (auto e = oauth::Service::check(c)) co_return engine_error(ctx, *e);
  auto out = co_await ctx.services.oauth.register_client(ctx.redis, std::move(c));
  if (!out) co_return engine_error(ctx, out.error());
  auto o = client_json(out->client);
  if (!out->client.is_public()) {
    o["client_secret"] = out->client_secret;
    o["client_secret_expires_at"] = 0;
  }
  ctx.events.emit(events::Event(events::Type::client_created).with("client_id", out->client.client_id));
  log::event(log::Level::info,
             "oauth client registered: " + out->client.client_id + " (request " + ctx.request_id + ")");
  auto r = HttpResponse::json(201, o);
  r.headers.emplace_back("Pragma", "no-cache");
  co_return r;
}

// GET /v1/oauth/clients?after=&limit=: every client, in client_id order, a page at a time.
awaitable<HttpResponse> list_clients(RequestContext& ctx) {
  auto limit = limit_param(ctx, 100);
  if (auto* r = std::get_if<HttpResponse>(&limit)) co_return std::move(*r);
  std::string after;
  if (auto a = query_param(ctx.request.query, "after")) {
    if (!oauth::valid_client_id(*a)) co_return bad(ctx, "after must be a client_id (the next of an earlier answer)");
    after = *a;
  }
  auto page = co_await ctx.services.oauth.list_clients(ctx.redis, std::move(after), std::get<std::size_t>(limit));
  if (!page) co_return engine_error(ctx, page.error());
  json::array clients;
  for (const auto& c : page->clients) clients.push_back(client_json(c));
  json::value next = nullptr;
  if (!page->next.empty()) next = json::string(page->next);
  co_return HttpResponse::json(200, json::object{{"clients", std::move(clients)}, {"next", std::move(next)}});
}

// GET /v1/oauth/clients/{client_id}
awaitable<HttpResponse> get_client(RequestContext& ctx) {
  auto c = co_await ctx.services.oauth.client(ctx.redis, std::string(ctx.param("client_id")));
  if (!c) {
    if (c.error() == make_error_code(errc::not_found)) co_return error_response(errc::not_found, "no such client");
    co_return engine_error(ctx, c.error());
  }
  co_return HttpResponse::json(200, client_json(*c));
}

// DELETE /v1/oauth/clients/{client_id}
awaitable<HttpResponse> delete_client(RequestContext& ctx) {
  std::string id(ctx.param("client_id"));
  auto r = co_await ctx.services.oauth.delete_client(ctx.redis, id);
  if (!r) {
    if (r.error() == make_error_code(errc::not_found)) co_return error_response(errc::not_found, "no such client");
    co_return engine_error(ctx, r.error());
  }
  ctx.events.emit(events::Event(events::Type::client_deleted).with("client_id", id));
  log::event(log::Level::info, "oauth client deleted: " + id + " (request " + ctx.request_id + ")");
  co_return HttpResponse::empty(204);
}

// POST /v1/oauth/authorizations: the backend has authenticated user_id and hands latchkey the
// authorization request it received; latchkey validates it and issues a code.
awaitable<HttpResponse> authorize(RequestContext& ctx) {
  auto parsed =
      read_body(ctx, {"client_id", "redirect_uri", "response_type", "scope", "state", "code_challenge",
                      "code_challenge_method", "user_id", "nonce", "auth_time", "acr", "amr", "claims", "max_age"});
  if (auto* r = std::get_if<HttpResponse>(&parsed)) co_return std::move(*r);
  auto& body = std::get<json::object>(parsed);
  oauth::AuthorizationRequest q;
  const std::pair<const char*, std::string*> fields[] = {{"client_id", &q.client_id},
                                                         {"redirect_uri", &q.redirect_uri},
                                                         {"response_type", &q.response_type},
                                                         {"scope", &q.scope},
                                                         {"state", &q.state},
                                                         {"code_challenge", &q.code_challenge},
                                                         {"code_challenge_method", &q.code_challenge_method},
                                                         {"user_id", &q.user_id}};
  for (const auto& [name, target] : fields) {
    if (const auto* v = body.if_contains(name)) {
      if (!v->is_string()) co_return bad(ctx, std::string(name) + " must be a string");
      *target = std::string(v->as_string());
    }
  }
  // OpenID Connect: what the backend knows of the login.
  const std::pair<const char*, std::string*> login_strings[] = {{"nonce", &q.login.nonce}, {"acr", &q.login.acr}};
  for (const auto& [name, target] : login_strings) {
    if (const auto* v = body.if_contains(name)) {
      if (!v->is_string() || v->as_string().empty())
        co_return bad(ctx, std::string(name) + " must be a non-empty string");
      *target = std::string(v->as_string());
    }
  }
  for (const char* name : {"auth_time", "max_age"}) {
    const auto* v = body.if_contains(name);
    if (!v) continue;
    if (!v->is_int64() && !v->is_uint64()) co_return bad(ctx, std::string(name) + " must be an integer (seconds)");
    if (v->is_uint64() && v->as_uint64() > static_cast<std::uint64_t>(INT64_MAX))
      co_return bad(ctx, std::string(name) + " is out of range");
    std::int64_t n = v->is_int64() ? v->as_int64() : static_cast<std::int64_t>(v->as_uint64());
    (std::string_view(name) == "auth_time" ? q.login.auth_time : q.max_age) = n;
  }
  if (const auto* v = body.if_contains("amr")) {
    auto a = string_array(*v);
    if (!a) co_return bad(ctx, "amr must be an array of strings");
    q.login.amr = std::move(*a);
  }
  if (const auto* v = body.if_contains("claims")) {
    if (!v->is_object()) co_return bad(ctx, "claims must be an object of the user's standard claims");
    if (auto why = oidc::check_claims(v->as_object())) co_return bad(ctx, *why);
    q.login.claims_json = json::serialize(*v);
  }
  auto out = co_await ctx.services.oauth.authorize(ctx.redis, std::move(q));
  if (!out) {
    const auto& f = out.error();
    if (f.redirect_to.empty()) co_return engine_error(ctx, f);
    // Beside the error, where the backend sends the user (RFC 6749 4.1.2.1), once trusted.
    co_return engine_error(ctx, f, json::object{{"redirect_to", f.redirect_to}});
  }
  auto r = HttpResponse::json(
      201, json::object{{"code", out->code}, {"redirect_to", out->redirect_to}, {"expires_in", out->expires_in}});
  r.headers.emplace_back("Pragma", "no-cache");
  co_return r;
}

}  // namespace

void add_oauth(Router& r) {
  r.add("POST", "/v1/oauth/clients", Access::admin, admin_listener, register_client);
  r.add("GET", "/v1/oauth/clients", Access::admin_read, admin_listener, list_clients);
  r.add("GET", "/v1/oauth/clients/{client_id}", Access::admin_read, admin_listener, get_client);
  r.add("DELETE", "/v1/oauth/clients/{client_id}", Access::admin, admin_listener, delete_client);
  r.add("POST", "/v1/oauth/authorizations", Access::admin, admin_listener, authorize);
}

}  // namespace latchkey::server::handlers
