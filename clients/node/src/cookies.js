// Session cookies with secure defaults (latchkey's cookie mode makes the same header itself).
const TOKEN = /^[A-Za-z0-9_-]{16,128}$/;
const NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function sessionCookie(token, { maxAge, name = "__Host-session", secure = true, sameSite = "Lax" }) {
  if (!NAME.test(name)) throw new TypeError(`not a cookie name: ${name}`);
  if (!TOKEN.test(token)) throw new TypeError("not a latchkey token");
  if (!["Strict", "Lax", "None"].includes(sameSite)) throw new TypeError("sameSite must be Strict, Lax or None");
  if (name.startsWith("__Host-") && !secure) throw new TypeError("a __Host- cookie must be Secure");
  if (sameSite === "None" && !secure) throw new TypeError("SameSite=None needs Secure");
  return [`${name}=${token}`, "Path=/", `Max-Age=${Math.max(0, Math.floor(maxAge))}`, "HttpOnly",
    ...(secure ? ["Secure"] : []), `SameSite=${sameSite}`].join("; ");
}
export function clearSessionCookie({ name = "__Host-session", secure = true, sameSite = "Lax" } = {}) {
  return [`${name}=`, "Path=/", "Max-Age=0", "HttpOnly", ...(secure ? ["Secure"] : []), `SameSite=${sameSite}`].join("; ");
}
export function tokenFromCookieHeader(header, name = "__Host-session") {
  if (typeof header !== "string") return null;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) {
      const v = part.slice(i + 1).trim();
      return TOKEN.test(v) ? v : null;
    }
  }
  return null;
}
