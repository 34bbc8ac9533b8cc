// Tests of the test OpenID Connect provider (tests/oidc/provider.mjs), with node's fetch and crypto
// only: discovery, the authorization code flow with PKCE (login_hint and the HTML form), ID token
// signature and claims, the overage marker, refresh tokens, code replay, missing PKCE, redirect URI
// rules, single sign-on, switching users, logout, token lifetimes, the client credentials grant and
// the Graph stand-in, the misbehaviour switch for negative tests and the command-line programme.
// Run: node --test tests/oidc/

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import fs from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  CLIENT_ID,
  CLIENT_SECRET,
  EXPIRED_AGO,
  FOREIGN_TENANT,
  GRAPH_PATH,
  GRAPH_STATS_PATH,
  GROUPS,
  MISBEHAVE_PATH,
  MISBEHAVIOURS,
  OTHER_CLIENT_ID,
  OVERAGE_GROUPS,
  TENANT,
  USERS,
  USERS_JSON_PATH,
  startProvider,
  usersDocument,
} from './provider.mjs';

const PROVIDER_JS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'provider.mjs');
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// Nothing listens on these: the flow stops when the provider redirects to them.
const CALLBACK = 'http://127.0.0.1:54321/auth/callback';
const CALLBACK_LOCALHOST = 'http://localhost:61234/auth/callback';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** A minimal cookie jar (one host; paths ignored, which only means sending a few cookies more). */
class Jar {
  #cookies = new Map();

  store(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const expired = attrs.some((a) => {
        const [k, v] = a.trim().split('=');
        return (k.toLowerCase() === 'expires' && Date.parse(v) <= Date.now())
          || (k.toLowerCase() === 'max-age' && Number(v) <= 0);
      });
      if (!value || expired) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  header() {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  names() {
    return [...this.#cookies.keys()];
  }
}

/** One request, redirects not followed, cookies kept in `jar`. */
async function request(url, { jar, method = 'GET', form, headers = {} } = {}) {
  const h = { ...headers };
  if (jar?.header()) h.cookie = jar.header();
  let body;
  if (form) {
    body = new URLSearchParams(form).toString();
    h['content-type'] = 'application/x-www-form-urlencoded';
  }
  const res = await fetch(url, { method, headers: h, body, redirect: 'manual' });
  jar?.store(res);
  return res;
}

/**
 * Follows redirects from `url` while they stay on the provider (same origin as `url`); returns
 * {callback: URL} for the first redirect that leaves it (to the client's redirect URI, which
 * nothing serves here), or {response, url} for the first response that is not a redirect.
 */
async function follow(url, jar) {
  let current = new URL(url);
  const origin = current.origin;
  for (let hop = 0; hop < 15; hop++) {
    const res = await request(current, { jar });
    if (res.status >= 300 && res.status < 400) {
      const next = new URL(res.headers.get('location'), current);
      await res.arrayBuffer();
      if (next.origin !== origin) return { callback: next, hops: hop + 1 };
      current = next;
      continue;
    }
    return { response: res, url: current };
  }
  throw new Error(`too many redirects from ${url}`);
}

function pkcePair() {
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  return { verifier, challenge };
}

/** An authorization request: its URL and the secrets the client keeps. */
function authorization(discovery, {
  loginHint, scope = 'openid profile email offline_access', redirectUri = CALLBACK,
  pkce = true, extra = {}, clientId = CLIENT_ID,
} = {}) {
  const state = b64url(randomBytes(16));
  const nonce = b64url(randomBytes(16));
  const { verifier, challenge } = pkcePair();
  const url = new URL(discovery.authorization_endpoint);
  const params = {
    client_id: clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope,
    state,
    nonce,
    ...(pkce ? { code_challenge: challenge, code_challenge_method: 'S256' } : {}),
    ...(loginHint ? { login_hint: loginHint } : {}),
    ...extra,
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return { url, state, nonce, verifier, redirectUri };
}

async function tokenRequest(discovery, form, { auth = 'basic', id = CLIENT_ID, secret = CLIENT_SECRET } = {}) {
  const headers = {};
  const body = { ...form };
  if (auth === 'basic') {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  } else {
    body.client_id = id;
    body.client_secret = secret;
  }
  const res = await request(discovery.token_endpoint, { method: 'POST', form: body, headers });
  return { status: res.status, json: await res.json() };
}

function exchange(discovery, auth, code, opts = {}) {
  return tokenRequest(discovery, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: auth.redirectUri,
    ...(opts.omitVerifier ? {} : { code_verifier: auth.verifier }),
  }, opts);
}

/** An app-only token for the Graph stand-in, asked for as the production tenant takes it. */
function clientCredentials(discovery, scope, opts = {}) {
  return tokenRequest(discovery, { grant_type: 'client_credentials', scope }, opts);
}

/**
 * `POST <graph>/v1.0/users/<oid>/getMemberObjects` with `token` (none: no Authorization header);
 * resolves with the status, the JSON answer and the response.
 */
async function memberObjects(graph, oid, token, {
  body = { securityEnabledOnly: false }, method = 'POST', path,
} = {}) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = token.includes(' ') ? token : `Bearer ${token}`;
  const url = `${graph}${path ?? `/v1.0/users/${encodeURIComponent(oid)}/getMemberObjects`}`;
  const res = await fetch(url, {
    method,
    headers,
    body: method === 'GET' ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
  });
  return { status: res.status, json: await res.json(), res };
}

/** Asserts a Graph-shaped error answer. */
function assertGraphError({ status, json }, expectedStatus, code, what = '') {
  assert.equal(status, expectedStatus, `${what} ${JSON.stringify(json)}`);
  assert.equal(json.error?.code, code, `${what} ${JSON.stringify(json)}`);
  assert.equal(typeof json.error.message, 'string');
}

/** Verifies an RS256 JWT against a JWKS and returns its payload. */
function verifyJwt(jwt, jwks) {
  const [h, p, s] = jwt.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  assert.equal(header.alg, 'RS256');
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `no key ${header.kid} in the JWKS`);
  assert.equal(jwk.d, undefined, 'the JWKS must not publish private key material');
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  assert.ok(verify('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url')),
    'ID token signature does not verify');
  return JSON.parse(Buffer.from(p, 'base64url'));
}

/** True when the JWT's RS256 signature verifies with the JWKS key its header names. */
function signatureVerifies(jwt, jwks) {
  const [h, p, s] = jwt.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `no key ${header.kid} in the JWKS`);
  return verify('sha256', Buffer.from(`${h}.${p}`), createPublicKey({ key: jwk, format: 'jwk' }),
    Buffer.from(s, 'base64url'));
}

const payloadOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url'));

async function getJson(url) {
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  return res.json();
}

describe('test OpenID Connect provider', () => {
  let op;
  let discovery;
  let jwks;

  /** Signs `login` in with login_hint and returns the tokens, the verified claims and the jar. */
  async function signIn(login, { jar = new Jar(), ...opts } = {}) {
    const auth = authorization(discovery, { loginHint: login, ...opts });
    const { callback } = await follow(auth.url, jar);
    assert.ok(callback, `no redirect to the callback for ${login}`);
    assert.equal(callback.searchParams.get('state'), auth.state);
    const code = callback.searchParams.get('code');
    assert.ok(code, `no code in ${callback}`);
    const { status, json } = await exchange(discovery, auth, code);
    assert.equal(status, 200, JSON.stringify(json));
    const claims = verifyJwt(json.id_token, jwks);
    assert.equal(claims.nonce, auth.nonce);
    return { auth, code, tokens: json, claims, jar };
  }

  before(async () => {
    op = await startProvider({ port: 0, quiet: true });
    discovery = await getJson(`${op.issuer}/.well-known/openid-configuration`);
    jwks = await getJson(discovery.jwks_uri);
  });

  after(async () => {
    await op?.close();
  });

  test('issuer and discovery look like the production tenant', () => {
    assert.match(op.issuer, new RegExp(`^http://127\\.0\\.0\\.1:${op.port}/${TENANT}/v2\\.0$`));
    assert.equal(op.tenant, TENANT);
    assert.equal(discovery.issuer, op.issuer);
    for (const key of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'end_session_endpoint',
      'userinfo_endpoint']) {
      assert.ok(discovery[key]?.startsWith(`${op.issuer}/`), `${key}: ${discovery[key]}`);
    }
    assert.ok(discovery.code_challenge_methods_supported.includes('S256'));
    assert.deepEqual(discovery.response_types_supported, ['code']);
    assert.deepEqual(discovery.id_token_signing_alg_values_supported, ['RS256']);
    for (const s of ['openid', 'profile', 'email', 'offline_access']) {
      assert.ok(discovery.scopes_supported.includes(s), s);
    }
    for (const m of ['client_secret_basic', 'client_secret_post']) {
      assert.ok(discovery.token_endpoint_auth_methods_supported.includes(m), m);
    }
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0].kty, 'RSA');
  });

  test('the users table: production-shaped claims, stable GUIDs, users.json in sync', () => {
    const logins = ['viewer', 'developer', 'approver', 'approver-prod', 'sre', 'admin', 'norole',
      'grouponly', 'overage'];
    for (const login of logins) {
      const u = USERS[login];
      assert.ok(u, login);
      assert.match(u.oid, GUID);
      assert.equal(u.tid, TENANT);
      assert.notEqual(u.sub, u.oid);
      assert.equal(u.preferred_username, `${login}@acme.example`);
      assert.equal(u.email, `${login}@acme.example`);
      assert.ok(u.name);
    }
    assert.equal(new Set(logins.map((l) => USERS[l].oid)).size, logins.length);
    assert.deepEqual(USERS['approver-prod'].groups, [GROUPS['prod-approvers']]);
    assert.deepEqual(USERS.grouponly.groups, [GROUPS.developers]);
    assert.equal(USERS.grouponly.roles, undefined);
    assert.equal(USERS.norole.roles, undefined);
    assert.equal(USERS.norole.groups, undefined);
    for (const g of Object.values(GROUPS)) assert.match(g, GUID);
    // Behind the overage marker: more groups than an ID token carries, prod-approvers among them.
    assert.ok(OVERAGE_GROUPS.length > 200);
    assert.equal(new Set(OVERAGE_GROUPS).size, OVERAGE_GROUPS.length);
    assert.ok(OVERAGE_GROUPS.includes(GROUPS['prod-approvers']));
    for (const g of OVERAGE_GROUPS) assert.match(g, GUID);
    const doc = usersDocument();
    assert.deepEqual(doc.member_objects.overage, OVERAGE_GROUPS);
    assert.deepEqual(doc.member_objects['approver-prod'], [GROUPS['prod-approvers']]);
    assert.deepEqual(doc.member_objects.norole, []);

    const onDisk = JSON.parse(fs.readFileSync(USERS_JSON_PATH, 'utf8'));
    assert.deepEqual(onDisk, usersDocument(),
      'tests/oidc/users.json is stale: run node tests/oidc/provider.mjs --write-users');
  });

  test('code flow with PKCE and login_hint: signed ID token with the production claims, refresh token', async () => {
    const { tokens, claims } = await signIn('developer');
    const dev = USERS.developer;
    assert.equal(claims.iss, op.issuer);
    assert.equal(claims.aud, CLIENT_ID);
    assert.equal(claims.sub, dev.sub);
    assert.equal(claims.oid, dev.oid);
    assert.equal(claims.tid, TENANT);
    assert.deepEqual(claims.roles, ['developer']);
    assert.equal(claims.name, dev.name);
    assert.equal(claims.preferred_username, 'developer@acme.example');
    assert.equal(claims.email, 'developer@acme.example');
    assert.equal(claims.groups, undefined);
    assert.equal(claims.exp - claims.iat, 3600);
    assert.equal(tokens.token_type, 'Bearer');
    assert.ok(tokens.access_token);
    assert.ok(tokens.refresh_token, 'offline_access must yield a refresh token');
    assert.deepEqual(new Set(tokens.scope.split(' ')),
      new Set(['openid', 'profile', 'email', 'offline_access']));

    // The refresh token works and brings a fresh ID token for the same user.
    const refreshed = await tokenRequest(discovery, {
      grant_type: 'refresh_token', refresh_token: tokens.refresh_token,
    });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.json));
    const again = verifyJwt(refreshed.json.id_token, jwks);
    assert.equal(again.oid, dev.oid);
    assert.deepEqual(again.roles, ['developer']);

    // The access token opens the userinfo endpoint.
    const ui = await fetch(discovery.userinfo_endpoint, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    assert.equal(ui.status, 200);
    assert.equal((await ui.json()).oid, dev.oid);
  });

  test('without offline_access there is no refresh token', async () => {
    const { tokens } = await signIn('viewer', { scope: 'openid profile email' });
    assert.equal(tokens.refresh_token, undefined);
  });

  test('every user gets their roles and groups; the overage user gets the overage marker', async () => {
    for (const [login, expected] of Object.entries(USERS)) {
      const { claims } = await signIn(login);
      for (const k of ['sub', 'oid', 'tid', 'name', 'preferred_username', 'email', 'roles', 'groups',
        '_claim_names', '_claim_sources']) {
        assert.deepEqual(claims[k], expected[k], `${login}: ${k}`);
      }
    }
    const { claims } = await signIn('overage');
    assert.equal('groups' in claims, false);
    assert.deepEqual(claims._claim_names, { groups: 'src1' });
    assert.deepEqual(claims._claim_sources, {
      src1: { endpoint: `https://graph.microsoft.com/v1.0/users/${USERS.overage.oid}/getMemberObjects` },
    });
    assert.deepEqual(claims.roles, ['developer']);
  });

  test('login_hint may be the full user name, any case', async () => {
    const { claims } = await signIn('Approver-Prod@ACME.example');
    assert.equal(claims.oid, USERS['approver-prod'].oid);
    assert.deepEqual(claims.groups, [GROUPS['prod-approvers']]);
  });

  test('client_secret_post works as well as client_secret_basic', async () => {
    const auth = authorization(discovery, { loginHint: 'sre' });
    const { callback } = await follow(auth.url, new Jar());
    const { status, json } = await exchange(discovery, auth, callback.searchParams.get('code'),
      { auth: 'post' });
    assert.equal(status, 200, JSON.stringify(json));
    assert.deepEqual(verifyJwt(json.id_token, jwks).roles, ['sre']);
  });

  test('a wrong client secret is refused', async () => {
    const auth = authorization(discovery, { loginHint: 'sre' });
    const { callback } = await follow(auth.url, new Jar());
    const { status, json } = await exchange(discovery, auth, callback.searchParams.get('code'),
      { secret: 'wrong' });
    assert.equal(status, 401);
    assert.equal(json.error, 'invalid_client');
  });

  test('client credentials: an app-only token for <graph>/.default, with either client authentication', async () => {
    assert.equal(op.graph, `http://127.0.0.1:${op.port}${GRAPH_PATH}`);
    assert.equal(op.graphScope, `${op.graph}/.default`);
    assert.ok(discovery.grant_types_supported.includes('client_credentials'));
    for (const auth of ['basic', 'post']) {
      const { status, json } = await clientCredentials(discovery, op.graphScope, { auth });
      assert.equal(status, 200, `${auth}: ${JSON.stringify(json)}`);
      assert.equal(json.token_type, 'Bearer');
      assert.equal(json.expires_in, 3600);
      assert.equal(json.scope, op.graphScope);
      assert.ok(typeof json.access_token === 'string' && json.access_token.length >= 32);
      assert.equal(json.id_token, undefined);
      assert.equal(json.refresh_token, undefined);
      const stored = await op.provider.ClientCredentials.find(json.access_token);
      assert.equal(stored.clientId, CLIENT_ID);
      assert.equal(stored.aud, op.graph);
    }
  });

  test('client credentials: another scope, no scope or a wrong secret is refused', async () => {
    for (const scope of ['openid', `${op.graphScope} openid`, 'https://graph.microsoft.com/.default',
      undefined]) {
      const { status, json } = await tokenRequest(discovery, {
        grant_type: 'client_credentials', ...(scope === undefined ? {} : { scope }),
      });
      assert.equal(status, 400, `${scope}: ${JSON.stringify(json)}`);
      assert.equal(json.error, 'invalid_scope', `${scope}`);
      assert.equal(json.access_token, undefined);
    }
    const wrong = await clientCredentials(discovery, op.graphScope, { secret: 'wrong' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.error, 'invalid_client');
  });

  test('the Graph stand-in lists a user\'s groups for a client credentials token', async () => {
    const before = op.graphStats();
    const { json: { access_token: token } } = await clientCredentials(discovery, op.graphScope);
    const overage = await memberObjects(op.graph, USERS.overage.oid, token);
    assert.equal(overage.status, 200, JSON.stringify(overage.json));
    assert.deepEqual(overage.json.value, OVERAGE_GROUPS);
    assert.match(overage.res.headers.get('content-type'), /^application\/json/);
    for (const [login, groups] of [['approver-prod', [GROUPS['prod-approvers']]],
      ['grouponly', [GROUPS.developers]], ['norole', []]]) {
      const answer = await memberObjects(op.graph, USERS[login].oid, token,
        { body: { securityEnabledOnly: true } });
      assert.equal(answer.status, 200, login);
      assert.deepEqual(answer.json.value, groups, login);
    }
    assert.deepEqual(op.graphStats(), {
      clientCredentialsTokens: before.clientCredentialsTokens + 1,
      graphRequests: before.graphRequests + 4,
    });
    assert.deepEqual(await getJson(op.graphStatsUrl), {
      client_credentials_tokens: before.clientCredentialsTokens + 1,
      graph_requests: before.graphRequests + 4,
    });
    assert.equal(op.graphStatsUrl, `http://127.0.0.1:${op.port}${GRAPH_STATS_PATH}`);
  });

  test('the Graph stand-in refuses a missing, forged or other token with 401 InvalidAuthenticationToken', async () => {
    const { tokens } = await signIn('admin');
    const oid = USERS.overage.oid;
    for (const [what, token] of [
      ['no token', undefined],
      ['a forged token', 'forged-token-forged-token-forged-token-forged'],
      ['an empty bearer', 'Bearer '],
      ['basic credentials', `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`],
      ['a user\'s access token', tokens.access_token],
      ['an ID token', tokens.id_token],
    ]) {
      assertGraphError(await memberObjects(op.graph, oid, token), 401, 'InvalidAuthenticationToken',
        what);
    }
  });

  test('the Graph stand-in: unknown oid 404, bad body 400, wrong method 405, other paths 400', async () => {
    const { json: { access_token: token } } = await clientCredentials(discovery, op.graphScope);
    const unknown = await memberObjects(op.graph, 'aaaaaaaa-0000-4000-8000-0000000000ff', token);
    assertGraphError(unknown, 404, 'Request_ResourceNotFound');
    assert.match(unknown.json.error.message, /aaaaaaaa-0000-4000-8000-0000000000ff/);
    // The oid is one path segment: an encoded slash does not reach another path.
    assertGraphError(await memberObjects(op.graph, `${USERS.overage.oid}/x`, token), 404,
      'Request_ResourceNotFound');
    for (const body of [{}, { securityEnabledOnly: 'no' }, 'not json', '']) {
      assertGraphError(await memberObjects(op.graph, USERS.overage.oid, token, { body }), 400,
        'Request_BadRequest');
    }
    assertGraphError(await memberObjects(op.graph, USERS.overage.oid, token, { method: 'GET' }), 405,
      'Request_BadRequest');
    assertGraphError(await memberObjects(op.graph, undefined, token, { path: '/v1.0/me' }), 400,
      'BadRequest');
    assertGraphError(await memberObjects(op.graph, undefined, undefined, { path: '/v1.0/me' }), 401,
      'InvalidAuthenticationToken');
  });

  test('a replayed code is refused', async () => {
    const { auth, code } = await signIn('viewer');
    const { status, json } = await exchange(discovery, auth, code);
    assert.equal(status, 400);
    assert.equal(json.error, 'invalid_grant');
  });

  test('PKCE is required: no code_challenge, no code_verifier, wrong code_verifier', async () => {
    const noChallenge = authorization(discovery, { loginHint: 'viewer', pkce: false });
    const { callback } = await follow(noChallenge.url, new Jar());
    assert.ok(callback, 'errors go back to the registered redirect URI');
    assert.equal(callback.searchParams.get('code'), null);
    assert.equal(callback.searchParams.get('error'), 'invalid_request');
    assert.match(callback.searchParams.get('error_description'), /PKCE/);
    assert.equal(callback.searchParams.get('state'), noChallenge.state);

    const auth = authorization(discovery, { loginHint: 'viewer' });
    const first = await follow(auth.url, new Jar());
    const missing = await exchange(discovery, auth, first.callback.searchParams.get('code'),
      { omitVerifier: true });
    assert.equal(missing.status, 400);
    assert.equal(missing.json.error, 'invalid_grant');

    const other = authorization(discovery, { loginHint: 'viewer' });
    const second = await follow(other.url, new Jar());
    const wrong = await exchange(discovery, { ...other, verifier: pkcePair().verifier },
      second.callback.searchParams.get('code'));
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.error, 'invalid_grant');
  });

  test('redirect URIs: any port on 127.0.0.1 and localhost, nothing else', async () => {
    for (const redirectUri of [CALLBACK, CALLBACK_LOCALHOST, 'http://127.0.0.1:1/auth/callback',
      'http://localhost:65535/auth/callback']) {
      const auth = authorization(discovery, { loginHint: 'admin', redirectUri });
      const { callback } = await follow(auth.url, new Jar());
      assert.equal(`${callback.origin}${callback.pathname}`, redirectUri);
      const { status, json } = await exchange(discovery, auth, callback.searchParams.get('code'));
      assert.equal(status, 200, JSON.stringify(json));
      assert.deepEqual(verifyJwt(json.id_token, jwks).roles, ['admin']);
    }
  });

  test('redirect URIs that are not allowed get an error page, not a redirect', async () => {
    for (const bad of ['http://127.0.0.1:5555/other', 'http://evil.example/auth/callback',
      'https://127.0.0.1:5555/auth/callback', 'http://127.0.0.1.evil.example/auth/callback']) {
      const auth = authorization(discovery, { loginHint: 'viewer', redirectUri: bad });
      const res = await request(auth.url);
      assert.equal(res.status, 400, bad);
      assert.match(await res.text(), /redirect_uri did not match any of the client(&#39;|')s registered/, bad);
    }
  });

  test('the HTML login form signs a user in without a browser', async () => {
    const jar = new Jar();
    const auth = authorization(discovery);
    const first = await follow(auth.url, jar);
    assert.equal(first.response?.status, 200, 'the form, not a redirect');
    const html = await first.response.text();
    assert.match(html, /<form method="post"/);
    assert.match(html, /<input[^>]+name="login"/);
    assert.match(html, /<button type="submit" id="sign-in">Sign in<\/button>/);
    for (const login of Object.keys(USERS)) assert.ok(html.includes(`data-login="${login}"`), login);
    const action = new URL(/<form method="post" action="([^"]+)"/.exec(html)[1], first.url);

    const unknown = await request(action, { jar, method: 'POST', form: { login: 'nobody' } });
    assert.equal(unknown.status, 200);
    const again = await unknown.text();
    assert.match(again, /Unknown user &quot;nobody&quot;/);
    assert.match(again, /<input[^>]+name="login"/);

    const posted = await request(action, { jar, method: 'POST', form: { login: 'admin' } });
    assert.equal(posted.status, 303);
    const { callback } = await follow(new URL(posted.headers.get('location'), action), jar);
    assert.ok(callback);
    assert.equal(callback.searchParams.get('state'), auth.state);
    const { status, json } = await exchange(discovery, auth, callback.searchParams.get('code'));
    assert.equal(status, 200, JSON.stringify(json));
    const claims = verifyJwt(json.id_token, jwks);
    assert.equal(claims.oid, USERS.admin.oid);
    assert.deepEqual(claims.roles, ['admin']);
    assert.equal(claims.nonce, auth.nonce);
    assert.ok(json.refresh_token);
  });

  test('the form\'s Cancel button returns access_denied to the client', async () => {
    const jar = new Jar();
    const auth = authorization(discovery);
    const first = await follow(auth.url, jar);
    const action = new URL(/<form method="post" action="([^"]+)"/.exec(await first.response.text())[1],
      first.url);
    const posted = await request(action, { jar, method: 'POST', form: { cancel: '1' } });
    const { callback } = await follow(new URL(posted.headers.get('location'), action), jar);
    assert.equal(callback.searchParams.get('error'), 'access_denied');
    assert.equal(callback.searchParams.get('state'), auth.state);
  });

  test('an unknown login_hint shows the form with an error', async () => {
    const first = await follow(authorization(discovery, { loginHint: 'ghost' }).url, new Jar());
    assert.equal(first.response?.status, 200);
    const html = await first.response.text();
    assert.match(html, /Unknown user &quot;ghost&quot;/);
    assert.match(html, /value="ghost"/);
  });

  test('single sign-on: a second request with the session cookie needs no form', async () => {
    const { jar } = await signIn('developer');
    for (const scope of ['openid profile email', 'openid profile email offline_access']) {
      const auth = authorization(discovery, { scope });
      const { callback } = await follow(auth.url, jar);
      assert.ok(callback, `SSO with scope ${scope}`);
      const { json } = await exchange(discovery, auth, callback.searchParams.get('code'));
      assert.equal(verifyJwt(json.id_token, jwks).oid, USERS.developer.oid);
      assert.equal(Boolean(json.refresh_token), scope.includes('offline_access'));
    }
  });

  test('login_hint for another user switches the signed-in user', async () => {
    const { jar } = await signIn('developer');
    for (const scope of ['openid profile email', 'openid profile email offline_access']) {
      const login = scope.includes('offline') ? 'viewer' : 'admin';
      const { claims } = await signIn(login, { jar, scope });
      assert.equal(claims.oid, USERS[login].oid, scope);
    }
    // …and the session now belongs to the last one.
    const auth = authorization(discovery);
    const { callback } = await follow(auth.url, jar);
    const { json } = await exchange(discovery, auth, callback.searchParams.get('code'));
    assert.equal(verifyJwt(json.id_token, jwks).oid, USERS.viewer.oid);
  });

  test('prompt=login shows the form even with a session', async () => {
    const { jar } = await signIn('developer');
    const first = await follow(authorization(discovery, { extra: { prompt: 'login' } }).url, jar);
    assert.equal(first.response?.status, 200);
    assert.match(await first.response.text(), /Sign in<\/button>/);
  });

  test('prompt=select_account shows the form even with a session (with or without offline_access)', async () => {
    const { jar } = await signIn('developer');
    for (const scope of ['openid profile email', 'openid profile email offline_access']) {
      const auth = authorization(discovery, { scope, extra: { prompt: 'select_account' } });
      const first = await follow(auth.url, jar);
      assert.equal(first.response?.status, 200, scope);
      const html = await first.response.text();
      const action = new URL(/<form method="post" action="([^"]+)"/.exec(html)[1], first.url);
      const posted = await request(action, { jar, method: 'POST', form: { login: 'developer' } });
      const { callback } = await follow(new URL(posted.headers.get('location'), action), jar);
      const { json } = await exchange(discovery, auth, callback.searchParams.get('code'));
      assert.equal(verifyJwt(json.id_token, jwks).oid, USERS.developer.oid);
    }
  });

  test('RP-initiated logout redirects at once and ends the session', async () => {
    const { jar, tokens } = await signIn('developer', { scope: 'openid profile email' });
    const url = new URL(discovery.end_session_endpoint);
    url.searchParams.set('id_token_hint', tokens.id_token);
    url.searchParams.set('post_logout_redirect_uri', 'http://127.0.0.1:54321/');
    url.searchParams.set('state', 'bye');
    const res = await request(url, { jar });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), 'http://127.0.0.1:54321/?state=bye');

    // The session is gone: the next authorization shows the form.
    const next = await follow(authorization(discovery).url, jar);
    assert.equal(next.response?.status, 200);
    assert.match(await next.response.text(), /Sign in<\/button>/);
    // Tokens that lived with the session are revoked.
    const ui = await fetch(discovery.userinfo_endpoint, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    assert.equal(ui.status, 401);
  });

  test('refresh tokens from offline_access survive logout', async () => {
    const { jar, tokens } = await signIn('sre');
    const url = new URL(discovery.end_session_endpoint);
    url.searchParams.set('id_token_hint', tokens.id_token);
    url.searchParams.set('post_logout_redirect_uri', 'http://127.0.0.1:54321/');
    assert.equal((await request(url, { jar })).status, 303);
    const refreshed = await tokenRequest(discovery, {
      grant_type: 'refresh_token', refresh_token: tokens.refresh_token,
    });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.json));
    assert.equal(verifyJwt(refreshed.json.id_token, jwks).oid, USERS.sre.oid);
  });

  test('logout with client_id, on localhost, and without a session', async () => {
    const url = new URL(discovery.end_session_endpoint);
    url.searchParams.set('client_id', CLIENT_ID);
    url.searchParams.set('post_logout_redirect_uri', 'http://localhost:40000/');
    const res = await request(url, { jar: new Jar() });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), 'http://localhost:40000/');

    const bad = new URL(discovery.end_session_endpoint);
    bad.searchParams.set('client_id', CLIENT_ID);
    bad.searchParams.set('post_logout_redirect_uri', 'http://evil.example/');
    assert.equal((await request(bad)).status, 400);

    const plain = await request(discovery.end_session_endpoint, { jar: new Jar() });
    assert.equal(plain.status, 303);
    assert.match(plain.headers.get('location'), /\/session\/end\/success$/);
  });
});

describe('provider options', () => {
  test('another tenant, another client, short ID tokens', async () => {
    const tenant = '99999999-8888-4777-8666-555555555555';
    const op = await startProvider({
      tenant,
      quiet: true,
      idTokenTtl: 5,
      clients: [{}, { client_id: 'other-app', client_secret: 'other-secret' }],
    });
    try {
      assert.equal(op.issuer, `http://127.0.0.1:${op.port}/${tenant}/v2.0`);
      const discovery = await getJson(op.discoveryUrl);
      const jwks = await getJson(discovery.jwks_uri);
      assert.equal(discovery.issuer, op.issuer);
      for (const [clientId, secret] of [[CLIENT_ID, CLIENT_SECRET], ['other-app', 'other-secret']]) {
        const auth = authorization(discovery, { loginHint: 'admin', clientId });
        const { callback } = await follow(auth.url, new Jar());
        const { status, json } = await exchange(discovery, auth, callback.searchParams.get('code'),
          { id: clientId, secret });
        assert.equal(status, 200, JSON.stringify(json));
        const claims = verifyJwt(json.id_token, jwks);
        assert.equal(claims.aud, clientId);
        assert.equal(claims.iss, op.issuer);
        assert.equal(claims.tid, tenant);
        assert.equal(claims.oid, USERS.admin.oid);
        assert.notEqual(claims.sub, USERS.admin.sub, 'sub differs per tenant');
        assert.equal(claims.exp - claims.iat, 5);
      }
    } finally {
      await op.close();
    }
  });
});

describe('the misbehaviour switch (negative tests)', () => {
  const post = (url, body) => fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

  test('does not exist unless the provider was started with it', async () => {
    const op = await startProvider({ port: 0, quiet: true });
    try {
      assert.equal(op.misbehaveUrl, undefined);
      const url = `http://127.0.0.1:${op.port}${MISBEHAVE_PATH}`;
      const res = await post(url, { mode: 'tamper' });
      assert.equal(res.status, 404);
      assert.match(await res.text(), /--allow-misbehaviour/);
      assert.equal((await fetch(url)).status, 404);
      // …and the tokens stay good.
      const discovery = await getJson(op.discoveryUrl);
      const jwks = await getJson(discovery.jwks_uri);
      const auth = authorization(discovery, { loginHint: 'viewer' });
      const { callback } = await follow(auth.url, new Jar());
      const { json } = await exchange(discovery, auth, callback.searchParams.get('code'));
      assert.equal(verifyJwt(json.id_token, jwks).iss, op.issuer);
    } finally {
      await op.close();
    }
  });

  describe('with allowMisbehaviour', () => {
    let op;
    let discovery;
    let jwks;

    before(async () => {
      op = await startProvider({ port: 0, quiet: true, allowMisbehaviour: true });
      discovery = await getJson(op.discoveryUrl);
      jwks = await getJson(discovery.jwks_uri);
    });
    after(async () => {
      await op?.close();
    });

    async function setMode(mode) {
      const res = await post(op.misbehaveUrl, { mode });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { mode });
    }

    /** Signs `login` in and returns the raw token response and the authorization request. */
    async function tokensFor(login = 'developer') {
      const auth = authorization(discovery, { loginHint: login });
      const { callback } = await follow(auth.url, new Jar());
      const { status, json } = await exchange(discovery, auth, callback.searchParams.get('code'));
      assert.equal(status, 200, JSON.stringify(json));
      return { tokens: json, auth };
    }

    /** The claims every mode leaves alone. */
    function assertUntouched(claims, auth, login = 'developer') {
      assert.equal(claims.nonce, auth.nonce);
      assert.equal(claims.oid, USERS[login].oid);
      assert.equal(claims.sub, USERS[login].sub);
      assert.equal(claims.tid, TENANT);
    }

    test('lives on the provider\'s origin; answers its mode; refuses unknown modes', async () => {
      assert.equal(op.misbehaveUrl, `http://127.0.0.1:${op.port}${MISBEHAVE_PATH}`);
      assert.deepEqual(await (await fetch(op.misbehaveUrl)).json(), { mode: 'none' });
      for (const bad of [{ mode: 'chaos' }, { mode: 'toString' }, {}, 'not json']) {
        const res = await post(op.misbehaveUrl, bad);
        assert.equal(res.status, 400, JSON.stringify(bad));
        assert.match((await res.json()).error, /tamper, expired, wrong-issuer, wrong-audience/);
      }
      assert.deepEqual(await (await fetch(op.misbehaveUrl)).json(), { mode: 'none' });
      assert.equal((await fetch(op.misbehaveUrl, { method: 'PUT' })).status, 405);
      assert.deepEqual(Object.keys(MISBEHAVIOURS),
        ['none', 'tamper', 'expired', 'wrong-issuer', 'wrong-audience', 'graph-down', 'graph-denied']);
    });

    test('tamper: the payload is altered, the signature is the one made for the original', async () => {
      await setMode('tamper');
      try {
        const { tokens, auth } = await tokensFor('viewer');
        const claims = payloadOf(tokens.id_token);
        assert.deepEqual(claims.roles, ['admin'], 'the viewer now claims to be an admin');
        assert.equal(claims.tampered, true);
        assert.equal(claims.iss, op.issuer);
        assert.equal(claims.aud, CLIENT_ID);
        assert.ok(claims.exp > Date.now() / 1000);
        assertUntouched(claims, auth, 'viewer');
        assert.equal(signatureVerifies(tokens.id_token, jwks), false, 'the signature must not match');
        // Undoing the change gives back a token whose signature verifies: it is the provider's own.
        const { tampered: _, ...original } = { ...claims, roles: USERS.viewer.roles };
        const [h, , sig] = tokens.id_token.split('.');
        const payload = Buffer.from(JSON.stringify(original)).toString('base64url');
        assert.ok(signatureVerifies(`${h}.${payload}.${sig}`, jwks),
          'the signature is the one made for the original payload');
      } finally {
        await setMode('none');
      }
    });

    test('expired: exp lies in the past, validly signed, same lifetime', async () => {
      await setMode('expired');
      try {
        const { tokens, auth } = await tokensFor();
        const claims = verifyJwt(tokens.id_token, jwks);
        const now = Math.floor(Date.now() / 1000);
        assert.ok(claims.exp <= now - EXPIRED_AGO + 5 && claims.exp >= now - EXPIRED_AGO - 5,
          `exp ${claims.exp}, now ${now}`);
        assert.equal(claims.exp - claims.iat, 3600);
        assert.equal(claims.iss, op.issuer);
        assert.equal(claims.aud, CLIENT_ID);
        assertUntouched(claims, auth);
      } finally {
        await setMode('none');
      }
    });

    test('wrong-issuer: another tenant\'s issuer, validly signed', async () => {
      await setMode('wrong-issuer');
      try {
        const { tokens, auth } = await tokensFor();
        const claims = verifyJwt(tokens.id_token, jwks);
        assert.equal(claims.iss, `http://127.0.0.1:${op.port}/${FOREIGN_TENANT}/v2.0`);
        assert.notEqual(claims.iss, op.issuer);
        assert.equal(claims.aud, CLIENT_ID);
        assert.ok(claims.exp > Date.now() / 1000);
        assertUntouched(claims, auth);
      } finally {
        await setMode('none');
      }
    });

    test('wrong-audience: meant for another client, validly signed', async () => {
      await setMode('wrong-audience');
      try {
        const { tokens, auth } = await tokensFor();
        const claims = verifyJwt(tokens.id_token, jwks);
        assert.equal(claims.aud, OTHER_CLIENT_ID);
        assert.notEqual(OTHER_CLIENT_ID, CLIENT_ID);
        assert.equal(claims.iss, op.issuer);
        assert.ok(claims.exp > Date.now() / 1000);
        assertUntouched(claims, auth);
      } finally {
        await setMode('none');
      }
    });

    test('graph-down and graph-denied: the Graph stand-in fails, ID tokens stay good', async () => {
      const { json: { access_token: token } } = await clientCredentials(discovery, op.graphScope);
      const oid = USERS.overage.oid;
      assert.equal((await memberObjects(op.graph, oid, token)).status, 200);
      await setMode('graph-down');
      try {
        const down = await memberObjects(op.graph, oid, token);
        assertGraphError(down, 503, 'serviceNotAvailable');
        assert.equal(down.res.headers.get('retry-after'), '1');
        assertGraphError(await memberObjects(op.graph, oid, undefined), 503, 'serviceNotAvailable');
        const { tokens, auth } = await tokensFor('overage');
        const claims = verifyJwt(tokens.id_token, jwks);
        assert.equal(claims.aud, CLIENT_ID);
        assert.deepEqual(claims._claim_names, { groups: 'src1' });
        assertUntouched(claims, auth, 'overage');
        // The token endpoint still hands out app-only tokens.
        assert.equal((await clientCredentials(discovery, op.graphScope)).status, 200);
      } finally {
        await setMode('none');
      }
      await setMode('graph-denied');
      try {
        assertGraphError(await memberObjects(op.graph, oid, token), 403, 'Authorization_RequestDenied');
        // A bad token is still a bad token.
        assertGraphError(await memberObjects(op.graph, oid, 'forged'), 401,
          'InvalidAuthenticationToken');
        const { tokens } = await tokensFor('developer');
        assert.equal(verifyJwt(tokens.id_token, jwks).aud, CLIENT_ID);
      } finally {
        await setMode('none');
      }
      assert.deepEqual((await memberObjects(op.graph, oid, token)).json.value, OVERAGE_GROUPS);
    });

    test('a mode lasts (refresh grants too) until set back to none', async () => {
      await setMode('wrong-audience');
      let refresh;
      try {
        for (let i = 0; i < 2; i++) {
          const { tokens } = await tokensFor('sre');
          assert.equal(verifyJwt(tokens.id_token, jwks).aud, OTHER_CLIENT_ID, `sign-in ${i + 1}`);
          refresh = tokens.refresh_token;
        }
        const refreshed = await tokenRequest(discovery, {
          grant_type: 'refresh_token', refresh_token: refresh,
        });
        assert.equal(refreshed.status, 200, JSON.stringify(refreshed.json));
        assert.equal(verifyJwt(refreshed.json.id_token, jwks).aud, OTHER_CLIENT_ID);
      } finally {
        await setMode('none');
      }
      const { tokens, auth } = await tokensFor('sre');
      const claims = verifyJwt(tokens.id_token, jwks);
      assert.equal(claims.aud, CLIENT_ID);
      assert.equal(claims.iss, op.issuer);
      assertUntouched(claims, auth, 'sre');
      // Errors from the token endpoint pass through untouched.
      await setMode('tamper');
      try {
        const again = await exchange(discovery, auth, 'not-a-code');
        assert.equal(again.status, 400);
        assert.equal(again.json.error, 'invalid_grant');
      } finally {
        await setMode('none');
      }
    });
  });
});

describe('the programme', () => {
  /** Starts provider.mjs and resolves with its JSON line and the child. */
  async function spawnProvider(args, stdio = ['ignore', 'pipe', 'pipe']) {
    const child = spawn(process.execPath, [PROVIDER_JS, ...args], { stdio });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    let out = '';
    const line = await new Promise((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
      });
      child.once('exit', (code) => reject(new Error(`exited ${code} before printing: ${stderr}`)));
    });
    return { child, info: JSON.parse(line), output: () => out, stderr: () => stderr };
  }

  test('prints one JSON line, serves discovery, honours --id-token-ttl, stops on SIGTERM', async () => {
    const { child, info, output } = await spawnProvider(['--port', '0', '--id-token-ttl', '5']);
    try {
      assert.deepEqual(Object.keys(info).sort(), ['graph', 'issuer', 'port', 'tenant']);
      assert.equal(info.tenant, TENANT);
      assert.equal(info.issuer, `http://127.0.0.1:${info.port}/${TENANT}/v2.0`);
      assert.equal(info.graph, `http://127.0.0.1:${info.port}${GRAPH_PATH}`);
      const discovery = await getJson(`${info.issuer}/.well-known/openid-configuration`);
      const jwks = await getJson(discovery.jwks_uri);
      const auth = authorization(discovery, { loginHint: 'approver' });
      const { callback } = await follow(auth.url, new Jar());
      const { json } = await exchange(discovery, auth, callback.searchParams.get('code'));
      const claims = verifyJwt(json.id_token, jwks);
      assert.equal(claims.exp - claims.iat, 5);
      assert.deepEqual(claims.roles, ['approver']);
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    assert.equal(output().trim().split('\n').length, 1, `stdout: ${output()}`);
  });

  test('--allow-misbehaviour turns the switch on (and it is off without it)', async () => {
    for (const [args, status] of [[['--allow-misbehaviour'], 200], [[], 404]]) {
      const { child, info } = await spawnProvider(['--port', '0', '--quiet', ...args]);
      try {
        const res = await fetch(`http://127.0.0.1:${info.port}${MISBEHAVE_PATH}`, {
          method: 'POST', body: JSON.stringify({ mode: 'expired' }),
        });
        assert.equal(res.status, status, args.join(' ') || '(no flag)');
      } finally {
        child.kill('SIGTERM');
      }
      await once(child, 'exit');
    }
  });

  test('--exit-with-stdin: exits when stdin closes', async () => {
    const { child } = await spawnProvider(['--port', '0', '--exit-with-stdin'], ['pipe', 'pipe', 'pipe']);
    const exited = once(child, 'exit');
    child.stdin.end();
    const [code] = await exited;
    assert.equal(code, 0);
  });
});
