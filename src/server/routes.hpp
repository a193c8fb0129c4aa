// The routing table of latchkey: every endpoint, in one place. Handlers live in
// src/server/handlers/, one file per capability.
#pragma once

#include "server/router.hpp"

namespace latchkey::server {

Router make_routes();

namespace handlers {
void add_operations(Router& r);  // /healthz, /readyz, /metrics, /openapi.json, /v1/server
void add_sessions(Router& r);    // /v1/sessions..., /v1/users/{user_id}/sessions...
void add_tokens(Router& r);      // /v1/tokens..., /v1/users/{user_id}/tokens, /.well-known/jwks.json
void add_oauth(Router& r);       // /v1/oauth/clients..., /v1/oauth/authorizations
void add_oauth2(Router& r);      // /oauth2/token, /introspect, /revoke, OAuth metadata
void add_ratelimit(Router& r);   // /v1/ratelimit/check
void add_events(Router& r);      // /v1/events
void add_logins(Router& r);      // /v1/logins/..., /v1/users/{user_id}/lockout
}  // namespace handlers

}  // namespace latchkey::server
