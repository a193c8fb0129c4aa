// Errors raised by the latchkey client. Every failure is one of these; none is ever "valid".
// LatchkeyError > BadRequest 400, Unauthorized 401 (> InvalidSession, InvalidToken, InvalidGrant,
// InvalidCredentials), Forbidden 403, NotFound 404, Conflict 409, PayloadTooLarge 413,
// RateLimited 429 (retryAfter), Unavailable (503, unreachable, timeout, garbage: fail closed).
export class LatchkeyError extends Error {
  constructor(status, error, description = "", body = {}) {
    super(description ? `${status} ${error}: ${description}` : `${status} ${error}`);
    this.name = new.target.name;
    this.status = status;
    this.error = error;
    this.description = description;
    this.body = body;
  }
}
export class BadRequest extends LatchkeyError {}
export class Unauthorized extends LatchkeyError {}
export class InvalidSession extends Unauthorized {}
export class InvalidToken extends Unauthorized {}
export class InvalidGrant extends Unauthorized {}
export class InvalidCredentials extends Unauthorized {
  constructor(failures, locked, retryAfter) {
    super(401, "invalid_credentials", "wrong user name or password" + (locked ? " (now locked)" : ""));
    Object.assign(this, { failures, locked, retryAfter });
  }
}
export class Forbidden extends LatchkeyError {}
export class NotFound extends LatchkeyError {}
export class Conflict extends LatchkeyError {}
export class PayloadTooLarge extends LatchkeyError {}
export class RateLimited extends LatchkeyError {
  constructor(status, error, description, body, retryAfter = 1) {
    super(status, error, description, body);
    this.retryAfter = Math.max(1, retryAfter);
  }
}
export class Unavailable extends LatchkeyError {
  constructor(error = "unavailable", description = "", body = {}, retryAfter = 1, status = 503) {
    super(status, error, description, body);
    this.retryAfter = Math.max(1, retryAfter);
  }
}
export class OAuthError extends LatchkeyError {
  constructor(status, error, description, body) {
    super(status, error, description, body);
    this.redirectTo = body?.redirect_to ?? null;
  }
}

const byCode = { invalid_session: InvalidSession, invalid_token: InvalidToken, invalid_grant: InvalidGrant };
const byStatus = { 400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 413: PayloadTooLarge };

export function errorFor(status, body, retryAfterHeader) {
  const code = (body && typeof body.error === "string" && body.error) || `http_${status}`;
  const text = (body && typeof body.error_description === "string" && body.error_description) || "";
  const after = Number.parseInt(retryAfterHeader ?? body?.retry_after ?? "1", 10) || 1;
  if (status === 429) return new RateLimited(status, code, text, body, after);
  if (status >= 500) return new Unavailable(code, text, body, after, status);
  const Cls = byCode[code] ?? byStatus[status] ?? LatchkeyError;
  return new Cls(status, code, text, body);
}
