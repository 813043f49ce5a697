// A real OpenID Connect provider for camnet's single sign-on tests: oidc-provider on loopback.
//
// Environment: OIDC_RIG_PORT (0: any free port), OIDC_RIG_REDIRECT_URIS (comma-separated callback
// URLs of the camnet under test), OIDC_RIG_CLIENT_SECRET. Prints one line, "issuer <url>", once
// it listens. Accounts are set by the tests: PUT /rig/accounts/<id> with the account's claims as
// JSON; any password signs in (the provider's development login form).
//
// Clients, all with the same secret and redirect URIs:
//   camnet-good      a well-behaved client
//   camnet-wrongaud  its token responses carry an ID token that the provider issued to another
//                    client (aud "camnet-other"), signed with the provider's real key: a token
//                    substitution that the relying party must catch by the audience
//   camnet-expired   ID tokens live 1 s (ttl.IdToken) and the token response is held 2.1 s, so the
//                    ID token arrives expired (the relying party is run with no clock leeway)
import crypto from 'node:crypto';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

import * as jose from 'jose';
import Provider from 'oidc-provider';

const host = process.env.OIDC_RIG_HOST || '127.0.0.1';
const port = Number(process.env.OIDC_RIG_PORT || 0);
const redirectUris = (process.env.OIDC_RIG_REDIRECT_URIS || '').split(',').map((s) => s.trim()).filter(Boolean);
const clientSecret = process.env.OIDC_RIG_CLIENT_SECRET || 'camnet-rig-secret';
const EXPIRED_HOLD_MS = 2100;

if (!redirectUris.length) {
  console.error('OIDC_RIG_REDIRECT_URIS is empty');
  process.exit(2);
}

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const kid = 'rig-' + crypto.randomBytes(4).toString('hex');
const signingJwk = { ...(await jose.exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };

const accounts = new Map(); // account id -> claims

const server = http.createServer();
await new Promise((resolve) => { server.listen(port, host, resolve); });
const issuer = `http://${host}:${server.address().port}`;

const client = (clientId) => ({
  client_id: clientId,
  client_secret: clientSecret,
  redirect_uris: redirectUris,
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
});

const SCOPES = ['openid', 'profile', 'email', 'groups'];

const provider = new Provider(issuer, {
  clients: ['camnet-good', 'camnet-wrongaud', 'camnet-expired', 'camnet-other'].map(client),
  jwks: { keys: [signingJwk] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  scopes: SCOPES,
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  ttl: { IdToken: (ctx, token, c) => (c.clientId === 'camnet-expired' ? 1 : 600) },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() { return { sub: id, ...(accounts.get(id) || {}) }; },
    };
  },
  // First-party clients: no consent screen, the requested scopes are granted.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope(SCOPES.join(' '));
    await grant.save();
    return grant;
  },
});

provider.use(async (ctx, next) => {
  if (ctx.path.startsWith('/rig/accounts/') && ctx.method === 'PUT') {
    const id = decodeURIComponent(ctx.path.slice('/rig/accounts/'.length));
    const chunks = [];
    for await (const chunk of ctx.req) chunks.push(chunk);
    accounts.set(id, JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'));
    ctx.status = 204;
    return;
  }
  await next();
  const clientId = ctx.oidc?.client?.clientId;
  if (ctx.oidc?.route !== 'token' || ctx.status !== 200 || !ctx.body?.id_token) return;
  if (clientId === 'camnet-wrongaud') {
    const claims = jose.decodeJwt(ctx.body.id_token);
    ctx.body.id_token = await new jose.SignJWT({ ...claims, aud: 'camnet-other' })
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
      .sign(privateKey);
  } else if (clientId === 'camnet-expired') {
    await sleep(EXPIRED_HOLD_MS);
  }
});

server.on('request', provider.callback());
console.log(`issuer ${issuer}`);

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
