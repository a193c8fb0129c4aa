// Type declarations of @latchkey/node/express (src/express.js).
import type { RequestHandler, ErrorRequestHandler, Request } from "express";
import type { Latchkey, Session, Claims, RateLimitSpec } from "./index.js";
declare global { namespace Express { interface Request { latchkey?: { session?: Session | null; claims?: Claims } } } }
export function requireSession(lk: Latchkey, o?: { optional?: boolean; touch?: boolean; csrf?: boolean }): RequestHandler;
export function requireToken(lk: Latchkey, o?: { scopes?: string[]; audience?: string; checkRevocation?: boolean; acceptOauth?: boolean }): RequestHandler;
export function rateLimit(lk: Latchkey, keyFn: (req: Request) => string, policy: string | RateLimitSpec): RequestHandler;
export function errorHandler(): ErrorRequestHandler;
