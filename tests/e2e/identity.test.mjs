// Identity and access in a real browser: signing in through a real OpenID Connect provider (the
// test provider in tests/oidc, shaped like Entra ID), the development sign-in with its banner,
// the top bar's person and sign-out, and the polite page for someone without a role.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  assertNoErrors,
  launchBrowser,
  newPage,
  screenshot,
  startPortolan,
  startPortolanWithProvider,
  waitForHydration,
} from './harness.mjs';

/** @type {import('playwright-core').Browser} */
let browser;

describe('Identity and access', { timeout: 600_000 }, () => {
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close().catch(() => {});
  });

  describe('with the development sign-in', () => {
    let portolan;
    before(async () => {
      portolan = await startPortolan({ seed: true });
    }, { timeout: 180_000 });
    after(async () => {
      await portolan?.stop();
    });

    test('a stranger is sent to sign in, picks a person, and comes back to the page they wanted', async () => {
      const page = await newPage(browser);
      await page.goto(`${portolan.baseUrl}/environments`);
      assert.equal(new URL(page.url()).pathname, '/auth/sign-in');
      assert.match(await page.locator('.banner-warning').innerText(), /Development sign-in is on/);
      await screenshot(page, 'identity-dev-sign-in');
      await page.locator('button[data-persona="developer"]').click();
      await page.waitForURL(`${portolan.baseUrl}/environments`);
      await waitForHydration(page);
      assert.equal(await page.locator('.user-name').innerText(), 'Dana Developer');
      assert.equal(await page.locator('.user-roles').innerText(), 'developer');
      assert.match(
        await page.locator('.banner-warning').innerText(),
        /Anyone who can reach this Portolan can act as anyone/,
        'the banner shows on every page while the development sign-in is on',
      );
      assertNoErrors(page);
      await screenshot(page, 'identity-signed-in-as-developer');

      // Sign out: the session ends, and the next page asks to sign in again.
      await page.locator('.user-menu button[type="submit"]').click();
      await page.waitForURL((u) => u.pathname === '/auth/sign-in');
      const me = await page.evaluate(async () => (await fetch('/api/v1/me')).status);
      assert.equal(me, 401, 'signed out');
      await page.close();
    });

    test('someone without a role gets a polite page that says what to do', async () => {
      const page = await newPage(browser);
      await page.goto(`${portolan.baseUrl}/auth/sign-in`);
      await page.locator('button[data-persona="newcomer"]').click();
      await page.waitForLoadState('load');
      assert.match(await page.locator('h1').innerText(), /no access yet/);
      assert.match(await page.locator('main').innerText(), /development:newcomer/);
      await screenshot(page, 'identity-no-access');
      const api = await page.evaluate(async () => {
        const r = await fetch('/api/v1/services');
        return { status: r.status, body: await r.json() };
      });
      assert.equal(api.status, 403, 'the API refuses as well');
      assert.match(api.body.error.message, /no Portolan role/);
      await page.close();
    });
  });

  describe('through the OpenID Connect provider', () => {
    let provider;
    let portolan;
    let running;
    before(async () => {
      running = await startPortolanWithProvider();
      ({ provider, portolan } = running);
    }, { timeout: 180_000 });
    after(async () => {
      await running?.stop();
    });

    test('a person signs in at the provider and lands where they started, with their roles', async () => {
      const page = await newPage(browser);
      await page.goto(`${portolan.baseUrl}/deployments?status=failed`);
      // Only the provider is configured: straight to its sign-in form.
      assert.ok(page.url().startsWith(`http://127.0.0.1:${provider.port}/`), page.url());
      await page.locator('#login').fill('approver-prod');
      await screenshot(page, 'identity-provider-form');
      await page.locator('#sign-in').click();
      await page.waitForURL(`${portolan.baseUrl}/deployments?status=failed`);
      await waitForHydration(page);
      assert.equal(await page.locator('.user-name').innerText(), 'Test Production Approver');
      assert.equal(await page.locator('.banner-warning').count(), 0, 'no development banner');
      const me = await page.evaluate(async () => (await fetch('/api/v1/me')).json());
      assert.equal(me.tenant_id, '11111111-2222-4333-8444-555555555555');
      assert.equal(me.object_id, 'aaaaaaaa-0000-4000-8000-000000000004');
      assert.deepEqual(me.roles, ['approver']);
      const cookies = await page.context().cookies(portolan.baseUrl);
      const session = cookies.find((c) => c.name === 'portolan_session');
      assert.ok(session?.httpOnly, 'the session cookie is HttpOnly');
      assert.equal(session.sameSite, 'Lax');
      // The test provider's own pages have no favicon; Portolan's pages must be clean.
      const providerOrigin = `http://127.0.0.1:${provider.port}/`;
      assertNoErrors(page, { allow: [(e) => e.url.startsWith(providerOrigin)] });
      await screenshot(page, 'identity-signed-in-through-provider');

      // A change from the page's own script without the CSRF token is refused.
      const forged = await page.evaluate(async () => {
        const r = await fetch('/api/v1/teams', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ slug: 'x', name: 'X' }),
        });
        return r.status;
      });
      assert.equal(forged, 403);
      await page.close();
    });
  });
});
