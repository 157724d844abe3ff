// panva openid-client (v6): discovery from /.well-known/openid-configuration, a
// refresh-token grant with rotation, a client-credentials grant, revocation and
// introspection, each through the library's own calls.
// Usage: node openid_client_flow.mjs < request.json   (prints what it saw as JSON)
// request.json: {issuer, client_id, client_secret, refresh_token, revoke_refresh_token}.
// Secrets come on stdin, never on the command line. Run it from a folder whose
// node_modules holds openid-client.
import * as client from "openid-client";
import { readFileSync } from "node:fs";

const req = JSON.parse(readFileSync(0, "utf8"));
// The server under test listens on loopback over plain HTTP; openid-client
// refuses that unless told.
const options = { execute: [client.allowInsecureRequests], algorithm: "oidc", timeout: 5 };
const issuer = new URL(req.issuer);
// A first-party app refreshing its login: a public client, no secret.
const app = await client.discovery(issuer, "spa", undefined, client.None(), options);
// A service with its own credentials.
const service = await client.discovery(
  issuer,
  req.client_id,
  undefined,
  client.ClientSecretBasic(req.client_secret),
  options,
);

/** The OAuth error name a call was refused with, or null when it succeeded. */
async function refusal(call) {
  try {
    await call();
    return null;
  } catch (e) {
    if (e instanceof client.ResponseBodyError) return e.error;
    throw e;
  }
}

/** GET a protected route with a bearer token: status and JSON body. */
async function get(config, token, path) {
  const r = await client.fetchProtectedResource(config, token, new URL(path, req.issuer), "GET");
  return { status: r.status, body: r.ok ? await r.json() : null };
}

const meta = app.serverMetadata();
const refreshed = await client.refreshTokenGrant(app, req.refresh_token);
const me = await get(app, refreshed.access_token, "/auth/me");
const products = await get(app, refreshed.access_token, "/api/products");
const introspected = await client.tokenIntrospection(service, refreshed.access_token);
// Rotation: the refresh token just spent is refused from now on.
const reuse = await refusal(() => client.refreshTokenGrant(app, req.refresh_token));

const cc = await client.clientCredentialsGrant(service);
const ccProducts = await get(service, cc.access_token, "/api/products");
const ccIntrospected = await client.tokenIntrospection(service, cc.access_token);

await client.tokenRevocation(app, req.revoke_refresh_token);
const afterRevoke = await refusal(() => client.refreshTokenGrant(app, req.revoke_refresh_token));

console.log(
  JSON.stringify({
    issuer: meta.issuer,
    token_endpoint: meta.token_endpoint,
    refreshed: {
      access_token: refreshed.access_token,
      refresh_token: refreshed.refresh_token,
      token_type: refreshed.token_type,
      expires_in: refreshed.expiresIn(),
    },
    me,
    products_status: products.status,
    introspected: { active: introspected.active, sub: introspected.sub },
    reuse_error: reuse,
    client_credentials: {
      access_token: cc.access_token,
      has_refresh_token: cc.refresh_token !== undefined,
      products_status: ccProducts.status,
      introspected: { active: ccIntrospected.active, client_id: ccIntrospected.client_id },
    },
    after_revoke_error: afterRevoke,
  }),
);
