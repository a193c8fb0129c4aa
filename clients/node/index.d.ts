// Type declarations of @latchkey/node (src/index.js).
export interface LatchkeyOptions {
  baseUrl: string; apiKey: string; publicUrl?: string; timeoutMs?: number; issuer?: string;
  jwksTtlMs?: number; cookieName?: string;
}
export interface Session {
  session_id: string; user_id: string; data: Record<string, unknown>; device: Record<string, unknown>; ip: string;
  created_at: number; last_seen_at: number; idle_expires_at: number; expires_at: number; version: number;
}
export interface NewSession extends Omit<Session, "data" | "device" | "ip"> { token: string; evicted: string[]; setCookie: string | null; }
export interface SessionInfo { session_id: string; created_at: number; last_seen_at: number; idle_expires_at: number; expires_at: number; device: Record<string, unknown>; ip: string; }
export interface TokenPair { access_token: string; token_type: string; expires_in: number; refresh_token?: string; scope?: string; }
export interface Claims { iss: string; sub: string; aud?: string | string[]; iat: number; nbf?: number; exp: number; jti: string; sid?: string; scope?: string; client_id?: string; [claim: string]: unknown; }
export interface RateLimitResult { allowed: boolean; limit: number; remaining: number; reset_after: number; retry_after: number; shadow_denied?: boolean; fail_open?: boolean; }
export interface Lockout { user_id: string; failures: number; lockouts: number; locked: boolean; locked_until: number; }
export interface ClientAuth { clientId: string; clientSecret?: string; }
export interface RateLimitSpec { policy?: string; algorithm?: "fixed_window" | "sliding_window" | "gcra"; limit?: number; windowSec?: number; burst?: number; cost?: number; }

export class Latchkey {
  constructor(options: LatchkeyOptions);
  readonly cookieName: string;
  ready(): Promise<boolean>;
  server(): Promise<Record<string, unknown>>;
  sessions: {
    create(o: { userId: string; data?: object; device?: object; ip?: string; idleTtl?: number; absoluteTtl?: number; cookie?: boolean }): Promise<NewSession>;
    validate(token: string | null | undefined, o?: { touch?: boolean }): Promise<Session | null>;
    update(token: string, data: object, o: { version: number }): Promise<Session>;
    rotate(token: string): Promise<NewSession>;
    destroy(token: string): Promise<void>;
    listForUser(userId: string): Promise<SessionInfo[]>;
    logoutEverywhere(userId: string, o?: { keep?: string }): Promise<number>;
    revoke(userId: string, sessionId: string): Promise<boolean>;
  };
  tokens: {
    issue(o: { userId: string; claims?: object; scope?: string; audience?: string }): Promise<TokenPair>;
    refresh(refreshToken: string): Promise<TokenPair>;
    introspect(token: string, o?: { audience?: string; acceptOauth?: boolean }): Promise<Claims>;
    verify(token: string, o?: { audience?: string; scopes?: string[]; checkRevocation?: boolean; acceptOauth?: boolean }): Promise<Claims>;
    revoke(token: string): Promise<boolean>;
    revokeUser(userId: string): Promise<number>;
    families(userId: string): Promise<Array<{ family_id: string; client_id: string | null; scope: string; audience: string; created_at: number; last_used_at: number; idle_expires_at: number; expires_at: number }>>;
    revokeFamily(userId: string, familyId: string): Promise<boolean>;
  };
  events: {
    list(o?: { after?: string; type?: string; userId?: string; ip?: string; limit?: number }): Promise<{ events: Array<Record<string, unknown>>; next?: string }>;
    summary(): Promise<Record<string, unknown> & { locked_accounts: unknown[]; locked_ips: unknown[]; top_accounts: unknown[]; top_ips: unknown[]; failures_per_minute: number[] }>;
  };
  oauth: {
    createClient(o: { redirectUris?: string[]; clientName?: string; grantTypes?: string[]; scope?: string; tokenEndpointAuthMethod?: string }): Promise<Record<string, unknown> & { client_id: string; client_secret?: string }>;
    getClient(clientId: string): Promise<Record<string, unknown> | null>;
    listClients(o?: { limit?: number; after?: string }): Promise<{ clients: Array<Record<string, unknown> & { client_id: string }>; next: string | null }>;
    deleteClient(clientId: string): Promise<boolean>;
    authorize(o: { userId: string; clientId: string; redirectUri?: string; responseType?: string; scope?: string; state?: string; codeChallenge?: string; codeChallengeMethod?: string }): Promise<{ code: string; redirect_to: string; expires_in: number }>;
    token(form: Record<string, string>, auth: ClientAuth): Promise<TokenPair>;
    introspect(token: string, auth: ClientAuth): Promise<{ active: boolean; [k: string]: unknown }>;
    revoke(token: string, auth: ClientAuth): Promise<void>;
  };
  rateLimit: { hit(key: string, spec: RateLimitSpec): Promise<RateLimitResult> };
  logins: {
    check(userId: string, ip: string, o?: { deviceToken?: string }): Promise<void>;
    failure(userId: string, ip: string, o?: { deviceToken?: string }): Promise<{ failures: number; locked: boolean; retry_after: number }>;
    success(userId: string, ip: string, o?: { deviceToken?: string }): Promise<string>;
    flow(userId: string, ip: string, verifyPassword: () => boolean | Promise<boolean>, o?: { deviceToken?: string }): Promise<string>;
    lockout(userId: string): Promise<Lockout>;
    unlock(userId: string): Promise<void>;
  };
}

export class LatchkeyError extends Error { status: number; error: string; description: string; body: Record<string, unknown>; }
export class BadRequest extends LatchkeyError {}
export class Unauthorized extends LatchkeyError {}
export class InvalidSession extends Unauthorized {}
export class InvalidToken extends Unauthorized {}
export class InvalidGrant extends Unauthorized {}
export class InvalidCredentials extends Unauthorized { failures: number; locked: boolean; retryAfter: number; }
export class Forbidden extends LatchkeyError {}
export class NotFound extends LatchkeyError {}
export class Conflict extends LatchkeyError {}
export class PayloadTooLarge extends LatchkeyError {}
export class RateLimited extends LatchkeyError { retryAfter: number; }
export class Unavailable extends LatchkeyError { retryAfter: number; }
export class OAuthError extends LatchkeyError { redirectTo: string | null; }

export function sessionCookie(token: string, o: { maxAge: number; name?: string; secure?: boolean; sameSite?: "Strict" | "Lax" | "None" }): string;
export function clearSessionCookie(o?: { name?: string; secure?: boolean; sameSite?: "Strict" | "Lax" | "None" }): string;
export function tokenFromCookieHeader(header: string | undefined | null, name?: string): string | null;
