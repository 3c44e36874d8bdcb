// A real OpenID provider for tests and demos: panva's `oidc-provider` (OpenID Certified), configured from a
// JSON file: node scripts/oidc-provider.mjs CONFIG.json
//   { "issuer": "http://127.0.0.1:PORT", "port": PORT, "clients": [...oidc-provider client metadata],
//     "accounts": { "login": { "email": ..., "name": ..., "groups": [...] } }, "jwks": { "keys": [private JWK] } }
// Sign-in uses the provider's own development interaction pages (any password; the login names the account).
// Consent is granted for the configured first-party clients, as an institution's IdP does for its services.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const dir = process.env.AICC_OIDC_PROVIDER_DIR || '/var/cache/aicc-oidc-provider';
const { default: Provider } = await import(pathToFileURL(`${dir}/node_modules/oidc-provider/lib/index.js`).href);

const accounts = config.accounts || {};
const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: config.jwks,
  cookies: { keys: [config.cookie_key || 'aicc-test-cookie-key-not-secret'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
  scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    revocation: { enabled: true },
  },
  conformIdTokenClaims: false,
  async findAccount(ctx, id) {
    const known = accounts[id] || {};
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: known.email, email_verified: Boolean(known.email), name: known.name,
                 groups: known.groups || [] };
      },
    };
  },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile groups');
    grant.addOIDCClaims(['email', 'email_verified', 'name', 'groups']);
    await grant.save();
    return grant;
  },
});
provider.proxy = false;
const server = provider.listen(config.port, '127.0.0.1', () => {
  console.log(`oidc-provider ${config.issuer} ready`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
