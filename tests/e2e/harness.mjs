// Helpers for Portolan's end-to-end tests (node:test + playwright-core driving Debian's chromium).
//
// Environment:
//   DATABASE_URL        a PostgreSQL cluster the tests may create databases in (required)
//   PORTOLAN_BIN        the server binary (default: target/debug/portolan)
//   PORTOLAN_SITE_ROOT  the directory holding pkg/ (default: target/site)
//   PORTOLAN_CHROMIUM   the browser (default: /usr/bin/chromium)
//
// Artifacts go to target/e2e/: server logs in logs/, screenshots in screenshots/.

import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { after, before } from 'node:test';

const execFileP = promisify(execFile);

/** The repository root (tests/e2e/ is two levels below it). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TARGET = process.env.CARGO_TARGET_DIR
  ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR)
  : path.join(ROOT, 'target');
export const ARTIFACTS = path.join(TARGET, 'e2e');
export const SCREENSHOTS = path.join(ARTIFACTS, 'screenshots');
export const LOGS = path.join(ARTIFACTS, 'logs');

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function resolveFromRoot(p) {
  return path.isAbsolute(p) ? p : path.resolve(ROOT, p);
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function psql(databaseUrl, sql) {
  try {
    await execFileP('psql', [databaseUrl, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
      timeout: 30_000,
    });
  } catch (err) {
    throw new Error(`psql failed (${sql}): ${err.stderr || err.message}`);
  }
}

function withDatabase(databaseUrl, dbName) {
  const url = new URL(databaseUrl);
  url.pathname = `/${dbName}`;
  return url.toString();
}

function tail(file, lines = 40) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// Servers still running when the test process exits (a crash, a missing stop()) are killed.
const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

/**
 * Starts a Portolan server on a fresh database of the DATABASE_URL cluster.
 *
 * @param {object} [options]
 * The server runs with the development sign-in on (PORTOLAN_DEV_SIGN_IN=true) unless `env` says
 * otherwise; signIn() opens a session as one of its people.
 * @param {boolean} [options.seed=true]  run `portolan seed --demo` on the new database first
 * @param {Record<string,string>} [options.env]  extra environment for the server
 * @param {number} [options.readyTimeoutMs=60000]
 * @returns {Promise<{baseUrl: string, databaseUrl: string, logFile: string, stop: () => Promise<void>}>}
 */
export async function startPortolan({ seed = true, env = {}, readyTimeoutMs = 60_000 } = {}) {
  const clusterUrl = process.env.DATABASE_URL;
  assert.ok(clusterUrl, 'DATABASE_URL must point at a PostgreSQL cluster (bash tests/run.sh sets it)');
  const bin = resolveFromRoot(process.env.PORTOLAN_BIN || path.join(TARGET, 'debug', 'portolan'));
  assert.ok(fs.existsSync(bin), `PORTOLAN_BIN ${bin} does not exist (cargo build -p portolan-server)`);
  const siteRoot = resolveFromRoot(process.env.PORTOLAN_SITE_ROOT || path.join(TARGET, 'site'));

  const dbName = `e2e_${randomBytes(6).toString('hex')}`;
  const databaseUrl = withDatabase(clusterUrl, dbName);
  await psql(clusterUrl, `CREATE DATABASE ${dbName}`);

  fs.mkdirSync(LOGS, { recursive: true });
  const logFile = path.join(LOGS, `${dbName}.log`);
  const childEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    PORTOLAN_SITE_ROOT: siteRoot,
    // Tests sign in as the development sign-in's people unless they configure a provider.
    PORTOLAN_DEV_SIGN_IN: 'true',
    ...env,
  };

  const dropDatabase = () => psql(clusterUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);

  try {
    if (seed) {
      const log = fs.openSync(logFile, 'a');
      fs.writeSync(log, `$ ${bin} seed --demo\n`);
      const code = await new Promise((resolve, reject) => {
        const child = spawn(bin, ['seed', '--demo'], {
          cwd: ROOT,
          env: childEnv,
          stdio: ['ignore', log, log],
        });
        const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
        child.on('error', reject);
        child.on('exit', (c, signal) => {
          clearTimeout(timer);
          resolve(c ?? signal);
        });
      });
      fs.closeSync(log);
      if (code !== 0) {
        throw new Error(`portolan seed --demo failed (${code}); log ${logFile}:\n${tail(logFile)}`);
      }
    }

    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const log = fs.openSync(logFile, 'a');
    fs.writeSync(log, `$ ${bin} serve --addr 127.0.0.1:${port}\n`);
    const child = spawn(bin, ['serve', '--addr', `127.0.0.1:${port}`], {
      cwd: ROOT,
      env: childEnv,
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    running.add(child);
    let exited = null;
    const exitPromise = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        exited = code ?? signal;
        running.delete(child);
        resolve();
      });
      child.on('error', (err) => {
        exited = err.message;
        running.delete(child);
        resolve();
      });
    });

    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      if (exited === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exitPromise;
        clearTimeout(timer);
      }
      await dropDatabase();
    };

    // Wait for GET /readyz to answer 200.
    const deadline = Date.now() + readyTimeoutMs;
    let lastError = '';
    for (;;) {
      if (exited !== null) {
        await stop().catch(() => {});
        throw new Error(`portolan serve exited early (${exited}); log ${logFile}:\n${tail(logFile)}`);
      }
      try {
        const res = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
        if (res.status === 200) break;
        lastError = `HTTP ${res.status}`;
      } catch (err) {
        lastError = err.cause?.code || err.message;
      }
      if (Date.now() > deadline) {
        await stop().catch(() => {});
        throw new Error(
          `portolan serve not ready after ${readyTimeoutMs} ms (${lastError}); log ${logFile}:\n${tail(logFile)}`,
        );
      }
      await sleep(100);
    }

    return { baseUrl, databaseUrl, logFile, stop };
  } catch (err) {
    await dropDatabase().catch(() => {});
    throw err;
  }
}

/** Debian's chromium through playwright-core (never a downloaded browser). */
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: process.env.PORTOLAN_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

const pageErrors = new WeakMap();

/**
 * A page in its own browser context, collecting console errors and page errors.
 *
 * @param {import('playwright-core').Browser} browser
 * @param {{width?: number, height?: number, javaScriptEnabled?: boolean, baseURL?: string,
 *          isMobile?: boolean}} [options]  isMobile: a phone (honours <meta name=viewport>, touch)
 */
export async function newPage(
  browser,
  { width = 1280, height = 800, javaScriptEnabled = true, baseURL, isMobile = false, session } = {},
) {
  const context = await browser.newContext({
    viewport: { width, height },
    javaScriptEnabled,
    baseURL,
    isMobile,
    hasTouch: isMobile,
  });
  if (session) {
    // Signed in already: the session cookie from signIn().
    await context.addCookies([{ name: 'portolan_session', value: session.value, url: session.url }]);
  }
  const page = await context.newPage();
  const errors = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') {
      const loc = msg.location();
      errors.push({ kind: 'console', text: msg.text(), url: loc?.url || '' });
    }
  });
  page.on('pageerror', (err) => {
    errors.push({ kind: 'pageerror', text: String(err?.stack || err), url: '' });
  });
  page.on('crash', () => errors.push({ kind: 'crash', text: 'the page crashed', url: '' }));
  pageErrors.set(page, errors);
  page.on('close', () => {
    context.close().catch(() => {});
  });
  return page;
}

/** Console errors and page errors seen by a page from newPage() so far. */
export function errorsOf(page) {
  return pageErrors.get(page) ?? [];
}

/** Forgets the errors collected so far (e.g. after an expected failure). */
export function clearErrors(page) {
  errorsOf(page).length = 0;
}

/**
 * Asserts that a page saw no console errors and no uncaught exceptions.
 * @param {object} page
 * @param {{allow?: Array<RegExp|((e: {kind: string, text: string, url: string}) => boolean)>, label?: string}} [options]
 */
export function assertNoErrors(page, { allow = [], label = page.url() } = {}) {
  const errors = errorsOf(page).filter(
    (e) => !allow.some((a) => (typeof a === 'function' ? a(e) : a.test(e.text))),
  );
  assert.deepEqual(
    errors,
    [],
    `${label}: browser errors:\n${errors.map((e) => `  [${e.kind}] ${e.text} ${e.url}`).join('\n')}`,
  );
}

/** Whether the page loads Portolan's browser bundle (and so must hydrate). */
export function loadsBundle(page) {
  return page.evaluate(
    () =>
      !!document.querySelector('link[href*="/pkg/portolan"], script[src*="/pkg/portolan"]') ||
      [...document.scripts].some((s) => s.textContent.includes('/pkg/portolan')),
  );
}

/** Waits until the browser bundle has hydrated the page (the app sets <html data-hydrated="true">). */
export async function waitForHydration(page, timeout = 30_000) {
  try {
    await page.waitForFunction(() => document.documentElement.dataset.hydrated === 'true', null, {
      timeout,
    });
  } catch (err) {
    const errors = errorsOf(page)
      .map((e) => `  [${e.kind}] ${e.text}`)
      .join('\n');
    throw new Error(`${page.url()} did not hydrate within ${timeout} ms.\n${errors}\n${err.message}`);
  }
}

/** Full-page PNG into target/e2e/screenshots/<name>.png; returns its path. */
export async function screenshot(page, name) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Polls fn until it returns a truthy value (returned) or the timeout passes (throws). */
export async function waitUntil(fn, { timeout = 10_000, interval = 100, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${message} (last: ${last})`);
    }
    await sleep(interval);
  }
}

/**
 * Signs in through the development sign-in as one of its people (viewer, developer, approver,
 * approver-prod, sre, admin, newcomer) and returns the session for newPage() and getJson():
 * {url, value, cookie}.
 */
export async function signIn(baseUrl, persona = 'viewer') {
  const res = await fetch(new URL('/auth/dev', baseUrl), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ persona, return_to: '/' }).toString(),
  });
  assert.equal(res.status, 303, `development sign-in as ${persona}: HTTP ${res.status}`);
  const set = res.headers.getSetCookie().find((c) => c.startsWith('portolan_session='));
  assert.ok(set, 'the sign-in sets the session cookie');
  const value = set.split(';')[0].slice('portolan_session='.length);
  return { url: baseUrl, value, cookie: `portolan_session=${value}` };
}

/** GET a JSON document from the server, as `session` (from signIn) when given. */
export async function getJson(baseUrl, pathAndQuery, session) {
  const headers = { accept: 'application/json' };
  if (session) headers.cookie = session.cookie;
  const res = await fetch(new URL(pathAndQuery, baseUrl), { headers });
  const body = await res.text();
  assert.equal(res.status, 200, `GET ${pathAndQuery}: HTTP ${res.status}: ${body.slice(0, 500)}`);
  try {
    return JSON.parse(body);
  } catch {
    throw new Error(`GET ${pathAndQuery}: not JSON: ${body.slice(0, 500)}`);
  }
}

/**
 * A change through the API as a signed-in person (from signIn), with the session's CSRF token;
 * asserts it succeeded and returns the JSON answer.
 */
export async function sendJson(baseUrl, session, method, pathAndQuery, body) {
  const me = await getJson(baseUrl, '/api/v1/me', session);
  const res = await fetch(new URL(pathAndQuery, baseUrl), {
    method,
    headers: {
      cookie: session.cookie,
      'x-csrf-token': me.csrf_token,
      'content-type': 'application/json',
      accept: 'application/json',
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${pathAndQuery}: HTTP ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text);
}

/**
 * One browser and one Portolan for a suite, started before its tests and stopped after them.
 * Returns an object whose `browser`, `portolan` and `change(session, method, path, body)` are
 * there once the suite's tests run.
 */
export function suiteWithPortolan({ seed = true, env = {} } = {}) {
  const ctx = {
    browser: null,
    portolan: null,
    change: (session, method, pathAndQuery, body) =>
      sendJson(ctx.portolan.baseUrl, session, method, pathAndQuery, body),
  };
  before(async () => {
    ctx.browser = await launchBrowser();
    ctx.portolan = await startPortolan({ seed, env });
  }, { timeout: 180_000 });
  after(async () => {
    await ctx.portolan?.stop();
    await ctx.browser?.close().catch(() => {});
  });
  return ctx;
}

/**
 * Portolan with sign-in through the test OpenID Connect provider only (no development sign-in).
 * Returns `{ provider, portolan, stop }`.
 */
export async function startPortolanWithProvider({ seed = true } = {}) {
  const { startProvider } = await import('../oidc/provider.mjs');
  const provider = await startProvider({ port: 0, quiet: true });
  const portolan = await startPortolan({
    seed,
    env: {
      PORTOLAN_DEV_SIGN_IN: 'false',
      PORTOLAN_OIDC_ISSUER: provider.issuer,
      PORTOLAN_OIDC_CLIENT_ID: 'portolan-test',
      PORTOLAN_OIDC_CLIENT_SECRET: 'portolan-test-secret',
    },
  });
  return {
    provider,
    portolan,
    stop: async () => {
      await portolan.stop();
      await provider.close();
    },
  };
}
