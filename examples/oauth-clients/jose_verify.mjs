// panva jose: verify a token against the JWKS named by the RFC 8414 metadata.
// Usage: node jose_verify.mjs BASE_URL ISSUER AUDIENCE < token   (prints the subject)
// Run it from a folder whose node_modules holds jose.
import { createRemoteJWKSet, jwtVerify } from "jose";
import { readFileSync } from "node:fs";

const [base, issuer, audience] = process.argv.slice(2);
const meta = await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json();
const jwks = createRemoteJWKSet(new URL(meta.jwks_uri), { timeoutDuration: 5000 });
const token = readFileSync(0, "utf8").trim();
const { payload } = await jwtVerify(token, jwks, { issuer, audience });
console.log(payload.sub);
