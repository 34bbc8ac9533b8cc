#!/usr/bin/env node
// A real OpenID Connect provider for Portolan's tests, shaped like the production identity
// provider's tenant (issuer path, claims, group overage marker).
//
// It runs the certified `oidc-provider` package on 127.0.0.1, mounted under `/<tenant>/v2.0`, so the
// issuer is `http://127.0.0.1:PORT/<tenant>/v2.0` and discovery is at
// `<issuer>/.well-known/openid-configuration`. Test users sign in without a person: through a small
// HTML form (a browser test fills it) or with `login_hint=<login>` on the authorization request
// (an HTTP-only test just follows redirects). See README.md next to this file.
//
// As a programme:  node tests/oidc/provider.mjs --port 0
//   prints one JSON line on stdout, {"issuer":"…","port":N,"tenant":"…","graph":"…"}, then runs
//   until killed.
//   `--help` lists the options.
// As a module:     import { startProvider, USERS, GROUPS, TENANT } from './provider.mjs';
//   const op = await startProvider({ port: 0 }); … await op.close();
//
// For negative tests only, `--allow-misbehaviour` (option `allowMisbehaviour`) adds
// `POST /__test/misbehave {"mode": …}`, which makes the token endpoint hand out bad ID tokens on
// purpose (see MISBEHAVIOURS below). Off by default: without the flag the endpoint does not exist.
//
// It is also a stand-in for the production directory's Graph API, as far as Portolan uses it: the
// client credentials grant (`scope=<graph>/.default`, as the production tenant takes it) gives an
// app-only access token, and `POST <origin>/graph/v1.0/users/<oid>/getMemberObjects` with that
// token lists the user's groups (GRAPH_PATH below).

import {
  createHash, createPrivateKey, generateKeyPairSync, randomBytes, randomUUID, sign,
} from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import Provider, { errors, interactionPolicy } from 'oidc-provider';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// --- the tenant, the groups and the users ---------------------------------------------------------

/** The test tenant's id (the `tid` claim and the first path segment of the issuer). */
export const TENANT = '11111111-2222-4333-8444-555555555555';

/** The mail domain of the test users (`preferred_username` and `email` are `<login>@DOMAIN`). */
export const DOMAIN = 'acme.example';

/** Group object ids, as they appear in the `groups` claim. */
export const GROUPS = Object.freeze({
  'prod-approvers': 'bbbbbbbb-0000-4000-8000-000000000001',
  developers: 'bbbbbbbb-0000-4000-8000-000000000002',
});

/** The client the tests (and Portolan in tests) use. */
export const CLIENT_ID = 'portolan-test';
export const CLIENT_SECRET = 'portolan-test-secret';

/**
 * The groups of the `overage` user, as the Graph stand-in lists them: more than an ID token can
 * carry (production replaces the `groups` claim by the overage marker past 200), among them
 * `prod-approvers` and `developers` and otherwise groups that mean nothing to Portolan.
 */
export const OVERAGE_GROUPS = Object.freeze([
  GROUPS['prod-approvers'],
  GROUPS.developers,
  ...Array.from({ length: 248 }, (_, i) => `cccccccc-0000-4000-8000-${String(i + 1).padStart(12, '0')}`),
]);

/** Where the Graph stand-in lives on the provider's origin: its base URL is `<origin>/graph`. */
export const GRAPH_PATH = '/graph';

/** `GET` here: how many client credentials tokens were issued and Graph requests answered. */
export const GRAPH_STATS_PATH = '/__test/graph';

/** Where the overage marker says the groups are (the production shape; tests use GRAPH_PATH). */
const overageEndpoint = (oid) => `https://graph.microsoft.com/v1.0/users/${oid}/getMemberObjects`;

// login → [object id, display name, app roles, groups ('overage' for the overage marker)]
const PEOPLE = [
  ['viewer', 'aaaaaaaa-0000-4000-8000-000000000001', 'Test Viewer', ['viewer'], []],
  ['developer', 'aaaaaaaa-0000-4000-8000-000000000002', 'Test Developer', ['developer'], []],
  ['approver', 'aaaaaaaa-0000-4000-8000-000000000003', 'Test Approver', ['approver'], []],
  ['approver-prod', 'aaaaaaaa-0000-4000-8000-000000000004', 'Test Production Approver', ['approver'],
    [GROUPS['prod-approvers']]],
  ['sre', 'aaaaaaaa-0000-4000-8000-000000000005', 'Test Site Reliability Engineer', ['sre'], []],
  ['admin', 'aaaaaaaa-0000-4000-8000-000000000006', 'Test Administrator', ['admin'], []],
  ['norole', 'aaaaaaaa-0000-4000-8000-000000000007', 'Test No Role', [], []],
  ['grouponly', 'aaaaaaaa-0000-4000-8000-000000000008', 'Test Group Only', [], [GROUPS.developers]],
  ['overage', 'aaaaaaaa-0000-4000-8000-000000000009', 'Test Overage', ['developer'], 'overage'],
];

/**
 * The subject (`sub`) of a user: as in production, an opaque string that differs from `oid`
 * (production's is pairwise per application; here it is the same for every client).
 */
function subjectFor(tenant, oid) {
  return createHash('sha256').update(`portolan-test-subject:${tenant}:${oid}`).digest('base64url');
}

/**
 * The users of a tenant: login → the user's claims exactly as the ID token carries them (with the
 * `profile` and `email` scopes). An empty role list or group list means the claim is absent, as
 * production omits it; the `overage` user carries `_claim_names`/`_claim_sources` instead of `groups`.
 */
export function usersFor(tenant = TENANT) {
  const users = {};
  for (const [login, oid, name, roles, groups] of PEOPLE) {
    const claims = {
      sub: subjectFor(tenant, oid),
      oid,
      tid: tenant,
      name,
      preferred_username: `${login}@${DOMAIN}`,
      email: `${login}@${DOMAIN}`,
    };
    if (roles.length) claims.roles = [...roles];
    if (groups === 'overage') {
      claims._claim_names = { groups: 'src1' };
      claims._claim_sources = { src1: { endpoint: overageEndpoint(oid) } };
    } else if (groups.length) {
      claims.groups = [...groups];
    }
    users[login] = claims;
  }
  return users;
}

/** The users of the default tenant (login → ID token claims). */
export const USERS = deepFreeze(usersFor(TENANT));

/**
 * The groups the Graph stand-in lists for a user (`getMemberObjects`): their `groups` claim, or
 * OVERAGE_GROUPS for a user whose ID token carries the overage marker instead.
 */
export function memberObjectsOf(claims) {
  if (claims._claim_names?.groups) return [...OVERAGE_GROUPS];
  return [...(claims.groups ?? [])];
}

/** What tests/oidc/users.json holds (regenerate it with `node tests/oidc/provider.mjs --write-users`). */
export function usersDocument() {
  return {
    comment: 'Generated by tests/oidc/provider.mjs (--write-users); do not edit by hand.',
    tenant: TENANT,
    domain: DOMAIN,
    client: { client_id: CLIENT_ID, client_secret: CLIENT_SECRET },
    groups: { ...GROUPS },
    users: usersFor(TENANT),
    // login → the group ids the Graph stand-in lists for that user
    member_objects: Object.fromEntries(
      Object.entries(usersFor(TENANT)).map(([login, claims]) => [login, memberObjectsOf(claims)]),
    ),
  };
}

export const USERS_JSON_PATH = path.join(HERE, 'users.json');

/** Writes usersDocument() to `file` (default: tests/oidc/users.json). */
export function writeUsersJson(file = USERS_JSON_PATH) {
  fs.writeFileSync(file, `${JSON.stringify(usersDocument(), null, 2)}\n`);
  return file;
}

// --- clients ----------------------------------------------------------------------------------------

/**
 * Loopback redirect URIs are registered without a port and accepted on any port (see
 * allowLoopbackPorts below), because the application under test listens on a random port.
 */
const LOOPBACK_CALLBACKS = ['http://127.0.0.1/auth/callback', 'http://localhost/auth/callback'];
const LOOPBACK_ROOTS = ['http://127.0.0.1/', 'http://localhost/'];

/** The default client; `startProvider({clients})` entries are merged over these values. */
export const DEFAULT_CLIENT = Object.freeze({
  client_id: CLIENT_ID,
  client_secret: CLIENT_SECRET,
  client_name: 'Portolan (tests)',
  redirect_uris: LOOPBACK_CALLBACKS,
  post_logout_redirect_uris: LOOPBACK_ROOTS,
  response_types: ['code'],
  // client_credentials: the app-only token for the Graph stand-in.
  grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
  // client_secret_post is accepted as well: the provider takes either for a secret-based client.
  token_endpoint_auth_method: 'client_secret_basic',
});

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** True when `uri` is `registered` on another port of the same loopback host (http only). */
function loopbackMatch(uri, registered) {
  const u = URL.parse(uri);
  if (!u || u.protocol !== 'http:' || !LOOPBACK_HOSTS.has(u.hostname)) return false;
  if (u.username || u.password || u.hash || uri.includes('#')) return false;
  return registered.some((r) => {
    const a = URL.parse(r);
    return a && a.protocol === 'http:' && a.hostname === u.hostname
      && a.pathname === u.pathname && a.search === u.search;
  });
}

/**
 * oidc-provider only ignores loopback ports for `application_type: native` clients (and those are
 * always sent to the consent prompt). Portolan is a web client, so the per-provider Client class
 * gets the same rule for its registered loopback URIs: exact matches as before, and any port on
 * 127.0.0.1 / localhost / [::1] for an http URI with the same host, path and query.
 */
function allowLoopbackPorts(provider) {
  const proto = provider.Client.prototype;
  const redirectUriAllowed = proto.redirectUriAllowed;
  const postLogoutRedirectUriAllowed = proto.postLogoutRedirectUriAllowed;
  proto.redirectUriAllowed = function allowed(uri) {
    return redirectUriAllowed.call(this, uri) || loopbackMatch(uri, this.redirectUris ?? []);
  };
  proto.postLogoutRedirectUriAllowed = function allowed(uri) {
    return postLogoutRedirectUriAllowed.call(this, uri)
      || loopbackMatch(uri, this.postLogoutRedirectUris ?? []);
  };
}

// --- storage ---------------------------------------------------------------------------------------

/** A per-provider in-memory adapter (the package's own prints a warning on every start). */
function memoryAdapter() {
  const store = new Map(); // `${model}:${id}` → {payload, expiresAt}
  const byUid = new Map();
  const byUserCode = new Map();
  const byGrant = new Map(); // `${model}:${grantId}` → Set of keys
  const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
    'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

  return class MemoryAdapter {
    constructor(model) {
      this.model = model;
    }

    key(id) {
      return `${this.model}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
      const key = this.key(id);
      const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
      store.set(key, { payload: structuredClone(payload), expiresAt });
      if (this.model === 'Session' && payload.uid) byUid.set(payload.uid, id);
      if (payload.userCode) byUserCode.set(payload.userCode, id);
      if (GRANTABLE.has(this.model) && payload.grantId) {
        const g = `${this.model}:${payload.grantId}`;
        if (!byGrant.has(g)) byGrant.set(g, new Set());
        byGrant.get(g).add(key);
      }
    }

    async find(id) {
      const key = this.key(id);
      const entry = store.get(key);
      if (!entry) return undefined;
      if (entry.expiresAt <= Date.now()) {
        store.delete(key);
        return undefined;
      }
      return structuredClone(entry.payload);
    }

    async findByUid(uid) {
      const id = byUid.get(uid);
      return id === undefined ? undefined : this.find(id);
    }

    async findByUserCode(userCode) {
      const id = byUserCode.get(userCode);
      return id === undefined ? undefined : this.find(id);
    }

    async consume(id) {
      const entry = store.get(this.key(id));
      if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id) {
      store.delete(this.key(id));
    }

    async revokeByGrantId(grantId) {
      const g = `${this.model}:${grantId}`;
      for (const key of byGrant.get(g) ?? []) store.delete(key);
      byGrant.delete(g);
    }
  };
}

// --- pages -----------------------------------------------------------------------------------------

const esc = (value) => String(value ?? '').replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
})[c]);

const STYLE = `body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:46rem;padding:0 1rem;color:#1b1f24}
code{background:#eef1f4;padding:0 .25rem;border-radius:3px}form{margin:1.5rem 0;display:flex;gap:.5rem;align-items:center;flex-wrap:wrap}
input{font-size:1rem;padding:.4rem;min-width:16rem}button{font-size:1rem;padding:.4rem 1rem}
.error{color:#a40e26;background:#fdebed;padding:.5rem .75rem;border-radius:4px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #d8dee4;vertical-align:top}`;

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

function loginPage({ action, users, tenant, clientId, error, login }) {
  const rows = Object.entries(users).map(([name, c]) => {
    const groups = c._claim_names ? 'overage (groups claim replaced by _claim_names/_claim_sources)'
      : (c.groups ?? []).join(', ');
    return `<tr data-login="${esc(name)}"><td><code>${esc(name)}</code></td><td>${esc(c.name)}</td>`
      + `<td>${esc((c.roles ?? []).join(', '))}</td><td>${esc(groups)}</td></tr>`;
  }).join('\n');
  return page('Sign in - test identity provider', `<h1>Sign in</h1>
<p>Test identity provider, tenant <code>${esc(tenant)}</code>, signing in to <code>${esc(clientId)}</code>.</p>
${error ? `<p class="error" id="error" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="${esc(action)}" id="login-form">
<label for="login">User</label>
<input id="login" name="login" autocomplete="username" autofocus required value="${esc(login)}">
<button type="submit" id="sign-in">Sign in</button>
<button type="submit" id="cancel" name="cancel" value="1" formnovalidate>Cancel</button>
</form>
<h2>Test users</h2>
<p>Sign in with a login below (or <code>login@${esc(DOMAIN)}</code>); there is no password.</p>
<table id="users">
<thead><tr><th>Login</th><th>Name</th><th>Roles</th><th>Groups</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`);
}

function send(res, status, html, headers = {}) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(html);
}

function sendJson(res, status, value, headers = {}) {
  res.writeHead(status, {
    'content-type': 'application/json', 'cache-control': 'no-store', ...headers,
  });
  res.end(`${JSON.stringify(value)}\n`);
}

async function readBody(req, limit = 64 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readForm(req) {
  return new URLSearchParams(await readBody(req));
}

// --- options ---------------------------------------------------------------------------------------

function envSeconds(name) {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive number of seconds`);
  return n;
}

function seconds(name, value, fallback) {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v <= 0) throw new TypeError(`${name} must be a positive integer (seconds)`);
  return v;
}

/** An RS256 signing key (private JWK) generated now. */
function generateSigningKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

// --- misbehaviour (negative tests only) --------------------------------------------------------------

/** Where the misbehaviour switch lives, on the provider's origin (outside the issuer path). */
export const MISBEHAVE_PATH = '/__test/misbehave';

/** The client id a `wrong-audience` ID token is meant for. */
export const OTHER_CLIENT_ID = 'some-other-application';

/** The tenant whose issuer a `wrong-issuer` ID token names (TENANT when the provider runs as it). */
export const FOREIGN_TENANT = '99999999-8888-4777-8666-555555555555';

/** How far in the past an `expired` ID token's `exp` lies, in seconds. */
export const EXPIRED_AGO = 600;

/**
 * What each mode does to the `id_token` of every token-endpoint response (authorization code and
 * refresh token grants alike), or to the Graph stand-in, until the mode changes.
 */
export const MISBEHAVIOURS = Object.freeze({
  none: 'ID tokens as issued',
  tamper: 'payload altered after signing ("roles": ["admin"], "tampered": true); header and signature kept, so the signature no longer matches',
  expired: `exp ${EXPIRED_AGO} s in the past (iat moved back as much, same lifetime); re-signed with the provider's key`,
  'wrong-issuer': `iss is the issuer of another tenant (${FOREIGN_TENANT}) on the same host; re-signed with the provider's key`,
  'wrong-audience': `aud is "${OTHER_CLIENT_ID}"; re-signed with the provider's key`,
  'graph-down': 'ID tokens as issued; the Graph stand-in answers every request with 503 serviceNotAvailable',
  'graph-denied': 'ID tokens as issued; the Graph stand-in answers a valid token with 403 Authorization_RequestDenied, as Graph does when the application lacks the permission',
});

/** The modes that leave ID tokens alone and change the Graph stand-in instead. */
const GRAPH_MISBEHAVIOURS = new Set(['graph-down', 'graph-denied']);

const b64json = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
const jsonb64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * `jwt` made bad as `mode` says. `keys` are the provider's private signing keys (JWKs); a re-signed
 * token keeps its header (so its `kid`) and is signed with the key of that `kid`.
 */
export function misbehaveIdToken(jwt, mode, { keys, issuer, tenant }) {
  if (mode === 'none' || GRAPH_MISBEHAVIOURS.has(mode)) return jwt;
  const [h, p, s] = jwt.split('.');
  const header = b64json(h);
  const claims = b64json(p);
  const resign = (changed) => {
    const jwk = keys.find((k) => k.kid === header.kid);
    if (!jwk) throw new Error(`no private key with kid ${header.kid} to re-sign the ID token`);
    if (header.alg !== 'RS256') throw new Error(`re-signing supports RS256 only, not ${header.alg}`);
    const input = `${h}.${jsonb64(changed)}`;
    const signature = sign('sha256', Buffer.from(input), createPrivateKey({ key: jwk, format: 'jwk' }));
    return `${input}.${signature.toString('base64url')}`;
  };
  switch (mode) {
    case 'tamper':
      return `${h}.${jsonb64({ ...claims, roles: ['admin'], tampered: true })}.${s}`;
    case 'expired': {
      const exp = Math.floor(Date.now() / 1000) - EXPIRED_AGO;
      const shift = claims.exp - exp;
      const changed = { ...claims, exp, iat: claims.iat - shift };
      if (typeof claims.auth_time === 'number') changed.auth_time = claims.auth_time - shift;
      return resign(changed);
    }
    case 'wrong-issuer': {
      const other = tenant === FOREIGN_TENANT ? TENANT : FOREIGN_TENANT;
      return resign({ ...claims, iss: issuer.replace(`/${tenant}/`, `/${other}/`) });
    }
    case 'wrong-audience':
      return resign({ ...claims, aud: OTHER_CLIENT_ID });
    default:
      throw new Error(`unknown misbehaviour ${mode}`);
  }
}

// --- the provider ---------------------------------------------------------------------------------

/**
 * Starts the provider.
 *
 * @param {object} [options]
 * @param {number} [options.port=0]           0 picks a free port
 * @param {string} [options.host='127.0.0.1']
 * @param {string} [options.tenant=TENANT]    the tenant id (issuer path and `tid`)
 * @param {object[]} [options.clients]        client metadata, each merged over DEFAULT_CLIENT
 * @param {object} [options.users]            login → claims (default: usersFor(tenant))
 * @param {number} [options.idTokenTtl]       seconds (env OIDC_ID_TOKEN_TTL, default 3600)
 * @param {number} [options.accessTokenTtl]   seconds (env OIDC_ACCESS_TOKEN_TTL, default 3600)
 * @param {number} [options.refreshTokenTtl]  seconds (env OIDC_REFRESH_TOKEN_TTL, default 86400)
 * @param {number} [options.sessionTtl]       seconds (env OIDC_SESSION_TTL, default 86400)
 * @param {number} [options.authorizationCodeTtl] seconds (env OIDC_CODE_TTL, default 60)
 * @param {{keys: object[]}} [options.jwks]   private signing keys (default: one RS256 key made now)
 * @param {boolean} [options.quiet=false]     do not log server errors on stderr
 * @param {boolean} [options.allowMisbehaviour=false] serve `POST /__test/misbehave` (negative tests)
 * @returns {Promise<{issuer: string, port: number, tenant: string, host: string,
 *   discoveryUrl: string, users: object, clients: object[], provider: Provider,
 *   misbehaveUrl: string | undefined, graph: string, graphScope: string, graphStatsUrl: string,
 *   graphStats: () => {clientCredentialsTokens: number, graphRequests: number},
 *   close: () => Promise<void>}>}
 */
export async function startProvider(options = {}) {
  const {
    port = 0,
    host = '127.0.0.1',
    tenant = TENANT,
    clients = [{}],
    users = usersFor(tenant),
    jwks = { keys: [generateSigningKey()] },
    quiet = false,
    allowMisbehaviour = false,
  } = options;

  const ttl = {
    idToken: seconds('idTokenTtl', options.idTokenTtl, envSeconds('OIDC_ID_TOKEN_TTL') ?? 3600),
    accessToken: seconds('accessTokenTtl', options.accessTokenTtl,
      envSeconds('OIDC_ACCESS_TOKEN_TTL') ?? 3600),
    refreshToken: seconds('refreshTokenTtl', options.refreshTokenTtl,
      envSeconds('OIDC_REFRESH_TOKEN_TTL') ?? 24 * 3600),
    session: seconds('sessionTtl', options.sessionTtl, envSeconds('OIDC_SESSION_TTL') ?? 24 * 3600),
    code: seconds('authorizationCodeTtl', options.authorizationCodeTtl,
      envSeconds('OIDC_CODE_TTL') ?? 60),
  };

  const prefix = `/${tenant}/v2.0`;
  const clientList = clients.map((c) => ({ ...DEFAULT_CLIENT, ...c }));

  /** login, `login@domain`, or email (case-insensitive) → [login, claims]. */
  const bySub = new Map(Object.entries(users).map(([login, c]) => [c.sub, [login, c]]));
  function lookup(hint) {
    const h = String(hint ?? '').trim().toLowerCase();
    if (!h) return undefined;
    for (const [login, c] of Object.entries(users)) {
      if (login.toLowerCase() === h || c.preferred_username?.toLowerCase() === h
        || c.email?.toLowerCase() === h) return [login, c];
    }
    return undefined;
  }

  // The port is known only once listening; the provider (whose issuer carries it) comes after.
  let provider;
  let handle;
  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!quiet) console.error('oidc test provider: request failed:', err);
      if (!res.headersSent) send(res, 500, page('Server error', '<h1>Server error</h1>'));
      else res.destroy();
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actualPort = server.address().port;
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  const origin = `http://${hostForUrl}:${actualPort}`;
  const issuer = `${origin}${prefix}`;
  const graph = `${origin}${GRAPH_PATH}`;
  const graphScope = `${graph}/.default`;

  const { Check, Prompt, base } = interactionPolicy;
  const policy = base();
  // Production honours login_hint over an existing session; oidc-provider would silently reuse the
  // session's user. Ask for login when the hint names someone else (or no one known).
  policy.get('login').checks.add(new Check(
    'login_hint_other_user',
    'login_hint names a user other than the signed-in one',
    (ctx) => {
      const { oidc } = ctx;
      if (!oidc.params.login_hint || !oidc.session.accountId || oidc.result?.login) {
        return Check.NO_NEED_TO_PROMPT;
      }
      const found = lookup(oidc.params.login_hint);
      return found && found[1].sub === oidc.session.accountId
        ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    },
  ));
  // Production accepts prompt=select_account; here it shows the sign-in form.
  policy.add(new Prompt({ name: 'select_account', requestable: true }));

  const cookieKeys = [randomBytes(32).toString('base64url')];
  const cookieBase = `oidc-test-${actualPort}`;
  const cookieOptions = { httpOnly: true, sameSite: 'lax', secure: false, signed: true };

  provider = new Provider(issuer, {
    adapter: memoryAdapter(),
    clients: clientList,
    jwks,
    findAccount: async (_ctx, sub) => {
      const found = bySub.get(sub);
      if (!found) return undefined;
      const [, claims] = found;
      return {
        accountId: sub,
        claims: async () => structuredClone(claims),
      };
    },
    claims: {
      openid: ['sub', 'oid', 'tid', 'roles', 'groups'],
      profile: ['name', 'preferred_username'],
      email: ['email'],
    },
    scopes: ['openid', 'profile', 'email', 'offline_access'],
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    pkce: { required: () => true },
    interactions: {
      policy,
      url: (ctx, interaction) => new URL(`${prefix}/interaction/${interaction.uid}`, ctx.href).href,
    },
    cookies: {
      names: {
        session: `${cookieBase}-session`,
        interaction: `${cookieBase}-interaction`,
        resume: `${cookieBase}-resume`,
      },
      // The session cookie stays under the issuer path, away from the application on the same host.
      long: { ...cookieOptions, path: prefix },
      short: { ...cookieOptions },
      keys: cookieKeys,
    },
    ttl: {
      AccessToken: ttl.accessToken,
      AuthorizationCode: ttl.code,
      IdToken: ttl.idToken,
      RefreshToken: ttl.refreshToken,
      Session: ttl.session,
      Grant: ttl.session,
      Interaction: 600,
      ClientCredentials: ttl.accessToken,
      DeviceCode: 600,
      BackchannelAuthenticationRequest: 600,
      PreAuthorizedCode: 600,
    },
    clientBasedCORS: () => true,
    features: {
      devInteractions: { enabled: false },
      // Not offered by the tenant being imitated.
      pushedAuthorizationRequests: { enabled: false },
      dPoP: { enabled: false },
      // The app-only token for the Graph stand-in.
      clientCredentials: { enabled: true },
      // The production tenant names the API a client credentials token is for in the scope,
      // `<api>/.default`, not with RFC 8707's `resource`: that scope (alone) selects the Graph
      // stand-in as the token's audience; any other scope is refused for this grant.
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx, _client, oneOf) => {
          if (ctx.oidc.params.grant_type !== 'client_credentials') return oneOf;
          const scope = ctx.oidc.params.scope ?? '';
          if (scope !== graphScope) {
            throw new errors.InvalidScope(
              `the client credentials grant takes the scope ${graphScope}`, scope,
            );
          }
          return graph;
        },
        getResourceServerInfo: async (_ctx, indicator) => {
          if (indicator !== graph) throw new errors.InvalidTarget(`unknown resource ${indicator}`);
          return {
            scope: graphScope,
            audience: graph,
            accessTokenFormat: 'opaque',
            accessTokenTTL: ttl.accessToken,
          };
        },
        useGrantedResource: async () => false,
      },
      rpInitiatedLogout: {
        enabled: true,
        // Not reached for GET requests (the middleware below signs out at once); kept for POSTs.
        logoutSource: async (ctx, form) => {
          ctx.body = page('Sign out', `<h1>Sign out?</h1>${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>`);
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.body = page('Signed out', '<h1>Signed out</h1><p>You have been signed out.</p>');
        },
      },
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = page('Sign-in error', `<h1>Sign-in error</h1>
${Object.entries(out).map(([k, v]) => `<p><strong>${esc(k)}</strong>: <span class="${esc(k)}">${esc(v)}</span></p>`).join('\n')}`);
    },
  });

  allowLoopbackPorts(provider);

  // Negative tests: the token endpoint's ID tokens made bad on purpose (POST /__test/misbehave).
  let misbehaviour = 'none';
  if (allowMisbehaviour) {
    provider.use(async (ctx, next) => {
      await next();
      if (misbehaviour === 'none' || ctx._matchedRouteName !== 'token' || ctx.status !== 200) return;
      const body = ctx.body;
      if (!body || typeof body !== 'object' || typeof body.id_token !== 'string') return;
      ctx.body = {
        ...body,
        id_token: misbehaveIdToken(body.id_token, misbehaviour, { keys: jwks.keys, issuer, tenant }),
      };
    });
  }

  async function misbehave(req, res) {
    const json = (status, value, headers) => sendJson(res, status, value, headers);
    if (!allowMisbehaviour) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('Not found. The misbehaviour switch exists only when the provider is started with '
        + '--allow-misbehaviour (option allowMisbehaviour).\n');
      return;
    }
    if (req.method === 'GET') {
      json(200, { mode: misbehaviour });
      return;
    }
    if (req.method !== 'POST') {
      json(405, { error: 'use GET or POST' }, { allow: 'GET, POST' });
      return;
    }
    let mode;
    try {
      ({ mode } = JSON.parse(await readBody(req)));
    } catch {
      mode = undefined;
    }
    if (typeof mode !== 'string' || !Object.hasOwn(MISBEHAVIOURS, mode)) {
      json(400, { error: `body must be {"mode": one of ${Object.keys(MISBEHAVIOURS).join(', ')}}` });
      return;
    }
    misbehaviour = mode;
    if (!quiet && mode !== 'none') console.error(`oidc test provider: misbehaving: ${mode}`);
    json(200, { mode });
  }

  // --- the Graph stand-in ------------------------------------------------------------------------

  const usersByOid = new Map(Object.values(users).map((c) => [c.oid, c]));
  const clientIds = new Set(clientList.map((c) => c.client_id));
  const graphStats = { clientCredentialsTokens: 0, graphRequests: 0 };
  provider.on('grant.success', (ctx) => {
    if (ctx.oidc.params.grant_type === 'client_credentials') graphStats.clientCredentialsTokens += 1;
  });

  /** An error answer shaped like Graph's. */
  function graphError(res, status, code, message, headers) {
    sendJson(res, status, {
      error: {
        code,
        message,
        innerError: { date: new Date().toISOString(), 'request-id': randomUUID() },
      },
    }, headers);
  }

  /** `POST <origin>/graph/v1.0/users/<oid>/getMemberObjects`, as Graph answers it. */
  async function graphApi(req, res, url) {
    graphStats.graphRequests += 1;
    if (misbehaviour === 'graph-down') {
      graphError(res, 503, 'serviceNotAvailable',
        'The service is not available (the test provider was told to misbehave: graph-down).',
        { 'retry-after': '1' });
      return;
    }
    // Like Graph, the token is checked first, whatever the path: it must be a client credentials
    // access token this provider issued to one of its clients for the Graph stand-in.
    const bearer = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer) {
      graphError(res, 401, 'InvalidAuthenticationToken', 'Access token is empty.');
      return;
    }
    const token = await provider.ClientCredentials.find(bearer);
    if (!token || !clientIds.has(token.clientId)) {
      graphError(res, 401, 'InvalidAuthenticationToken', 'Access token validation failure.');
      return;
    }
    if (token.aud !== graph) {
      graphError(res, 401, 'InvalidAuthenticationToken',
        'Access token validation failure. Invalid audience.');
      return;
    }
    if (misbehaviour === 'graph-denied') {
      graphError(res, 403, 'Authorization_RequestDenied',
        'Insufficient privileges to complete the operation.');
      return;
    }
    const m = /^\/v1\.0\/users\/([^/]+)\/getMemberObjects$/.exec(url.pathname.slice(GRAPH_PATH.length));
    if (!m) {
      graphError(res, 400, 'BadRequest',
        `Resource not found for the segment '${url.pathname.slice(GRAPH_PATH.length)}'; the Graph `
        + 'stand-in serves POST /v1.0/users/{id}/getMemberObjects only.');
      return;
    }
    if (req.method !== 'POST') {
      graphError(res, 405, 'Request_BadRequest',
        'Specified HTTP method is not allowed for the request target.', { allow: 'POST' });
      return;
    }
    let body;
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      body = undefined;
    }
    if (typeof body?.securityEnabledOnly !== 'boolean') {
      graphError(res, 400, 'Request_BadRequest',
        'The body must be a JSON object with the boolean securityEnabledOnly.');
      return;
    }
    let oid;
    try {
      oid = decodeURIComponent(m[1]);
    } catch {
      oid = m[1];
    }
    const user = usersByOid.get(oid);
    if (!user) {
      graphError(res, 404, 'Request_ResourceNotFound',
        `Resource '${oid}' does not exist or one of its queried reference-property objects are not present.`);
      return;
    }
    // Every test group is a security group, so securityEnabledOnly changes nothing.
    sendJson(res, 200, {
      '@odata.context': `${graph}/v1.0/$metadata#Collection(Edm.String)`,
      value: memberObjectsOf(user),
    });
  }

  if (!quiet) {
    provider.on('server_error', (_ctx, err) => console.error('oidc test provider: server error:', err));
  }

  // RP-initiated logout without the confirmation page: once the end_session endpoint has validated
  // the request (id_token_hint / client_id, post_logout_redirect_uri) and stored its state, end the
  // session the way the confirmation POST with logout=yes would, and redirect at once.
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.method !== 'GET' || ctx._matchedRouteName !== 'end_session' || ctx.status !== 200) return;
    const { session } = ctx.oidc;
    const state = session?.state;
    if (!state?.secret) return;
    for (const [clientId, auth] of Object.entries(session.authorizations ?? {})) {
      if (auth?.grantId && !session.authorizationFor(clientId).persistsLogout) {
        await Promise.all([
          provider.AccessToken.revokeByGrantId(auth.grantId),
          provider.RefreshToken.revokeByGrantId(auth.grantId),
          provider.AuthorizationCode.revokeByGrantId(auth.grantId),
          provider.Grant.adapter.destroy(auth.grantId),
        ]);
      }
    }
    await session.destroy();
    ctx.cookies.set(provider.cookieName('session'), null, { ...cookieOptions, path: prefix });
    let target;
    if (state.postLogoutRedirectUri) {
      target = new URL(state.postLogoutRedirectUri);
      if (state.state != null) target.searchParams.set('state', state.state);
    } else {
      target = new URL(ctx.oidc.urlFor('end_session_success'));
    }
    ctx.status = 303;
    ctx.redirect(target.href);
  });

  // offline_access: oidc-provider drops it (so no refresh token) unless the request says
  // prompt=consent; production does not need that. Add `consent` to the prompt of such authorization
  // requests (unless prompt=none); the interaction below then grants consent without a page.
  function withConsentForOfflineAccess(url) {
    if (url.pathname !== `${prefix}/auth`) return false;
    const scopes = (url.searchParams.get('scope') ?? '').split(' ');
    if (!scopes.includes('offline_access') || url.searchParams.getAll('prompt').length > 1) {
      return false;
    }
    const prompts = new Set((url.searchParams.get('prompt') ?? '').split(' ').filter(Boolean));
    if (prompts.has('consent') || prompts.has('none')) return false;
    prompts.add('consent');
    url.searchParams.set('prompt', [...prompts].join(' '));
    return true;
  }

  const providerCallback = provider.callback();

  async function finish(req, res, details, login, { consentOnly = false } = {}) {
    const [, claims] = login;
    const accountId = claims.sub;
    const { params, prompt } = details;

    // Signing in as someone other than the session's user: end that session here, so that the
    // provider does not answer with its own auto-submitting sign-out page first.
    if (!consentOnly && details.session?.accountId && details.session.accountId !== accountId) {
      const old = details.session.uid ? await provider.Session.findByUid(details.session.uid) : undefined;
      delete details.session;
      delete details.grantId;
      await details.save(Math.max(1, details.exp - Math.floor(Date.now() / 1000)));
      if (old) await old.destroy();
    }

    let grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
    if (!grant || grant.accountId !== accountId || grant.clientId !== params.client_id) {
      grant = new provider.Grant({ accountId, clientId: params.client_id });
    }
    if (params.scope) grant.addOIDCScope(params.scope);
    if (params.claims) {
      try {
        const { id_token: idToken, userinfo } = JSON.parse(params.claims);
        grant.addOIDCClaims([...Object.keys(idToken ?? {}), ...Object.keys(userinfo ?? {})]);
      } catch {
        // The provider has validated `claims` already; nothing more to grant.
      }
    }
    for (const [indicator, scopes] of Object.entries(prompt.details?.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();

    const result = { consent: { grantId } };
    if (!consentOnly) result.login = { accountId };
    if ((params.prompt ?? '').split(' ').includes('select_account')) result.select_account = {};
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }

  async function interaction(req, res, uid) {
    let details;
    try {
      details = await provider.interactionDetails(req, res);
    } catch (err) {
      send(res, 400, page('Sign-in error', `<h1>Sign-in error</h1>
<p class="error" role="alert">This sign-in has expired or was not started here (${esc(err.error_description ?? err.message)}). Start again from the application.</p>`));
      return;
    }
    if (details.uid !== uid) {
      send(res, 400, page('Sign-in error', `<h1>Sign-in error</h1>
<p class="error" role="alert">This sign-in page does not belong to the current sign-in. Start again from the application.</p>`));
      return;
    }

    const { params, prompt } = details;
    const action = `${prefix}/interaction/${uid}`;
    const form = (status, error, login) => send(res, status, loginPage({
      action, users, tenant, clientId: params.client_id, error, login,
    }));

    if (req.method === 'POST') {
      const body = await readForm(req);
      if (body.get('cancel')) {
        await provider.interactionFinished(req, res, {
          error: 'access_denied',
          error_description: 'The user cancelled the sign-in.',
        }, { mergeWithLastSubmission: false });
        return;
      }
      const login = body.get('login') ?? '';
      const found = lookup(login);
      if (!found) {
        form(200, login.trim() ? `Unknown user "${login.trim()}".` : 'Enter a user to sign in.', login);
        return;
      }
      await finish(req, res, details, found);
      return;
    }

    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, page('Method not allowed', '<h1>Method not allowed</h1>'), { allow: 'GET, POST' });
      return;
    }

    if (params.login_hint) {
      const found = lookup(params.login_hint);
      if (found) {
        await finish(req, res, details, found);
      } else {
        form(200, `Unknown user "${params.login_hint}".`, params.login_hint);
      }
      return;
    }

    // Only consent is missing (the user is signed in): grant it without a page. (An explicit
    // prompt=select_account still gets the form.)
    const asked = new Set((params.prompt ?? '').split(' '));
    if (prompt.name === 'consent' && details.session?.accountId && !asked.has('select_account')) {
      const found = bySub.get(details.session.accountId);
      if (found) {
        await finish(req, res, details, found, { consentOnly: true });
        return;
      }
    }

    form(200, undefined, '');
  }

  handle = async (req, res) => {
    const url = new URL(req.url, 'http://internal');
    if (url.pathname === MISBEHAVE_PATH) {
      await misbehave(req, res);
      return;
    }
    if (url.pathname === GRAPH_PATH || url.pathname.startsWith(`${GRAPH_PATH}/`)) {
      await graphApi(req, res, url);
      return;
    }
    if (url.pathname === GRAPH_STATS_PATH && req.method === 'GET') {
      sendJson(res, 200, {
        client_credentials_tokens: graphStats.clientCredentialsTokens,
        graph_requests: graphStats.graphRequests,
      });
      return;
    }
    const inside = url.pathname === prefix || url.pathname.startsWith(`${prefix}/`);
    if (!inside) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`Not found. This is a test OpenID Connect provider; its issuer is ${issuer}\n`);
      return;
    }
    const m = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(url.pathname.slice(prefix.length));
    if (m) {
      await interaction(req, res, m[1]);
      return;
    }
    if (req.method === 'GET' && withConsentForOfflineAccess(url)) {
      req.url = url.pathname + url.search;
    }
    // Mount the provider under the prefix: it sees the path below it, and builds its URLs from
    // req.originalUrl.
    req.originalUrl = req.url;
    req.url = req.url.slice(prefix.length) || '/';
    if (req.url.startsWith('?')) req.url = `/${req.url}`;
    await providerCallback(req, res);
  };

  let closed;
  return {
    issuer,
    port: actualPort,
    host,
    tenant,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    users,
    clients: clientList,
    provider,
    misbehaveUrl: allowMisbehaviour ? `${origin}${MISBEHAVE_PATH}` : undefined,
    graph,
    graphScope,
    graphStatsUrl: `${origin}${GRAPH_STATS_PATH}`,
    /** How many client credentials tokens were issued and Graph requests answered so far. */
    graphStats: () => ({ ...graphStats }),
    close() {
      closed ??= new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

// --- the programme ---------------------------------------------------------------------------------

const HELP = `Usage: node tests/oidc/provider.mjs [options]

Starts the test OpenID Connect provider and prints one JSON line on stdout:
  {"issuer":"http://127.0.0.1:PORT/<tenant>/v2.0","port":PORT,"tenant":"<tenant>",
   "graph":"http://127.0.0.1:PORT/graph"}
then runs until killed (SIGTERM/SIGINT). "graph" is the base URL of the Graph stand-in
(POST <graph>/v1.0/users/<oid>/getMemberObjects with a client credentials token for the scope
<graph>/.default).

Options:
  --port N                 port to listen on (0 = any free port; default 0)
  --host ADDR              address to listen on (default 127.0.0.1)
  --tenant GUID            tenant id (default ${TENANT})
  --id-token-ttl S         ID token lifetime in seconds (default 3600; env OIDC_ID_TOKEN_TTL)
  --access-token-ttl S     access token lifetime (default 3600; env OIDC_ACCESS_TOKEN_TTL)
  --refresh-token-ttl S    refresh token lifetime (default 86400; env OIDC_REFRESH_TOKEN_TTL)
  --session-ttl S          provider session lifetime (default 86400; env OIDC_SESSION_TTL)
  --code-ttl S             authorization code lifetime (default 60; env OIDC_CODE_TTL)
  --clients FILE           JSON array of client metadata, each merged over the default client
  --exit-with-stdin        exit when stdin reaches end of file (spawn with a pipe on stdin, so the
                           provider goes away with the test process that started it)
  --quiet                  do not log server errors on stderr
  --allow-misbehaviour     for negative tests: serve POST /__test/misbehave {"mode": M}, after which
                           the token endpoint hands out bad ID tokens, or the Graph stand-in fails
                           (M: ${Object.keys(MISBEHAVIOURS).join(', ')})
  --write-users [FILE]     write the users table (default tests/oidc/users.json) and exit
  --help                   this text
`;

function parseArgs(argv) {
  const out = {};
  const int = (flag, v) => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < 0) throw new Error(`${flag} needs a number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--port': out.port = int(flag, value()); break;
      case '--host': out.host = value(); break;
      case '--tenant': out.tenant = value(); break;
      case '--id-token-ttl': out.idTokenTtl = int(flag, value()); break;
      case '--access-token-ttl': out.accessTokenTtl = int(flag, value()); break;
      case '--refresh-token-ttl': out.refreshTokenTtl = int(flag, value()); break;
      case '--session-ttl': out.sessionTtl = int(flag, value()); break;
      case '--code-ttl': out.authorizationCodeTtl = int(flag, value()); break;
      case '--clients': out.clients = JSON.parse(fs.readFileSync(value(), 'utf8')); break;
      case '--exit-with-stdin': out.exitWithStdin = true; break;
      case '--quiet': out.quiet = true; break;
      case '--allow-misbehaviour': out.allowMisbehaviour = true; break;
      case '--write-users':
        out.writeUsers = inline ?? (argv[i + 1] && !argv[i + 1].startsWith('--') ? argv[++i] : true);
        break;
      case '--help': case '-h': out.help = true; break;
      default: throw new Error(`unknown option ${arg} (see --help)`);
    }
  }
  return out;
}

async function main(argv) {
  // stdout carries exactly one JSON line; anything the package prints goes to stderr.
  const toStderr = (...args) => console.error(...args);
  console.log = toStderr;
  console.info = toStderr;

  let args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  if (args.help) {
    process.stdout.write(HELP);
    return;
  }
  if (args.writeUsers) {
    const file = writeUsersJson(args.writeUsers === true ? USERS_JSON_PATH : path.resolve(args.writeUsers));
    process.stderr.write(`wrote ${file}\n`);
    return;
  }

  const { exitWithStdin, ...options } = args;
  const op = await startProvider(options);
  process.stdout.write(`${JSON.stringify({
    issuer: op.issuer, port: op.port, tenant: op.tenant, graph: op.graph,
  })}\n`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await op.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (exitWithStdin) {
    process.stdin.on('end', stop);
    process.stdin.on('error', stop);
    process.stdin.resume();
  }
}

function deepFreeze(o) {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    Object.values(o).forEach(deepFreeze);
  }
  return o;
}

const invokedDirectly = (() => {
  try {
    return process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
})();

if (invokedDirectly) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`oidc test provider: ${err.stack ?? err}\n`);
    process.exit(1);
  });
}
