#!/usr/bin/python3
"""latchkey against PyJWT (Debian's python3-jwt), an independent JWT implementation.

  pyjwt_interop.py verify <jwks-url> <issuer> <token>...     verify through latchkey's JWKS
  pyjwt_interop.py verify-hs <issuer> <secret-b64url> <token>...
  pyjwt_interop.py verify-id <jwks-file> <issuer> <tokens-file>
      OpenID Connect ID tokens, one per line "<client_id> <nonce or -> <access_token> <id_token>":
      signature by a key of the JWKS, typ JWT, iss, aud = azp = client_id, nonce, at_hash
  pyjwt_interop.py verify-logout <jwks-file> <issuer> <audience> <token>
      an OpenID Connect Back-Channel Logout token: typ logout+jwt, iss, aud, iat, jti, the
      backchannel-logout event, sub or sid, no nonce
  pyjwt_interop.py sign <alg> <kid> <key-file> <issuer> <sub>
      key-file: PKCS#8 PEM, or for HS256 the secret as base64url; prints one token
Prints "ok <n>" after verifying n tokens; exits non-zero on the first failure.
"""
import base64
import hashlib
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
    elif cmd == "verify-id":
        jwks_file, issuer, tokens_file = args
        keys = {k.key_id: k for k in jwt.PyJWKSet.from_json(open(jwks_file).read()).keys}
        n = 0
        for line in open(tokens_file).read().split("\n"):
            if not line:
                continue
            client_id, nonce, access_token, token = line.split(" ")
            header = jwt.get_unverified_header(token)
            if header.get("typ") != "JWT":
                raise SystemExit(f"ID token typ is {header.get('typ')!r}")
            claims = jwt.decode(token, keys[header["kid"]].key, algorithms=ALGS, issuer=issuer, audience=client_id,
                                options={"require": ["exp", "iat", "iss", "sub", "aud"]})
            if claims.get("azp") != client_id:
                raise SystemExit("azp is not the client")
            if nonce != "-" and claims.get("nonce") != nonce:
                raise SystemExit(f"nonce {claims.get('nonce')!r}, expected {nonce!r}")
            if nonce == "-" and "nonce" in claims:
                raise SystemExit("a refreshed ID token carries a nonce")
            # OIDC Core 3.1.3.6: the left half of the hash that goes with the algorithm.
            digest = (hashlib.sha512 if header["alg"] == "EdDSA" else hashlib.sha256)(access_token.encode()).digest()
            want = base64.urlsafe_b64encode(digest[:len(digest) // 2]).rstrip(b"=").decode()
            if claims.get("at_hash") != want:
                raise SystemExit("at_hash does not match the access token")
            n += 1
        print(f"ok {n}")
    elif cmd == "verify-logout":
        jwks_file, issuer, audience, token = args
        keys = {k.key_id: k for k in jwt.PyJWKSet.from_json(open(jwks_file).read()).keys}
        header = jwt.get_unverified_header(token)
        if header.get("typ") != "logout+jwt":
            raise SystemExit(f"logout token typ is {header.get('typ')!r}")
        claims = jwt.decode(token, keys[header["kid"]].key, algorithms=ALGS, issuer=issuer, audience=audience,
                            options={"require": ["iat", "iss", "aud", "jti"]})
        if "http://schemas.openid.net/event/backchannel-logout" not in claims.get("events", {}):
            raise SystemExit("no backchannel-logout event")
        if "nonce" in claims or not (claims.get("sub") or claims.get("sid")):
            raise SystemExit("a nonce, or neither sub nor sid")
        print("ok 1")
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
