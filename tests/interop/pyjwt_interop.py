#!/usr/bin/python3
"""latchkey against PyJWT (Debian's python3-jwt), an independent JWT implementation.

  pyjwt_interop.py verify <jwks-url> <issuer> <token>...     verify through latchkey's JWKS
  pyjwt_interop.py verify-hs <issuer> <secret-b64url> <token>...
  pyjwt_interop.py sign <alg> <kid> <key-file> <issuer> <sub>
      key-file: PKCS#8 PEM, or for HS256 the secret as base64url; prints one token
Prints "ok <n>" after verifying n tokens; exits non-zero on the first failure.
"""
import base64
import sys
import time

import jwt

ALGS = ["EdDSA", "ES256", "RS256", "HS256"]


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check(token, key, issuer):
    header = jwt.get_unverified_header(token)
    if header.get("typ") != "at+jwt":
        raise SystemExit(f"typ is {header.get('typ')!r}, expected at+jwt")
    claims = jwt.decode(token, key, algorithms=ALGS, issuer=issuer,
                        options={"require": ["exp", "iat", "nbf", "iss", "sub", "jti"], "verify_aud": False})
    if not claims["sub"]:
        raise SystemExit("empty sub")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "verify":
        url, issuer, tokens = args[0], args[1], args[2:]
        client = jwt.PyJWKClient(url, cache_keys=True)
        for token in tokens:
            check(token, client.get_signing_key_from_jwt(token).key, issuer)
        print(f"ok {len(tokens)}")
    elif cmd == "verify-hs":
        issuer, secret, tokens = args[0], b64url_decode(args[1]), args[2:]
        for token in tokens:
            check(token, secret, issuer)
        print(f"ok {len(tokens)}")
    elif cmd == "sign":
        alg, kid, path, issuer, sub = args
        text = open(path).read().strip()
        key = b64url_decode(text) if alg == "HS256" else text
        now = int(time.time())
        claims = {"iss": issuer, "sub": sub, "iat": now, "nbf": now, "exp": now + 300,
                  "jti": f"pyjwt-{time.time_ns()}", "via": "pyjwt"}
        print(jwt.encode(claims, key, algorithm=alg, headers={"kid": kid, "typ": "at+jwt"}))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
