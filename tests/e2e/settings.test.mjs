// A developer makes an API token for a pipeline in the browser (the secret shown once), the
// pipeline uses it, the developer revokes it; an administrator then finds all of that in the
// audit log, filters it, reads what changed, and downloads the same selection.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  assertNoErrors,
  launchBrowser,
  newPage,
  screenshot,
  signIn,
  startPortolan,
  waitForHydration,
} from './harness.mjs';

/** @type {import('playwright-core').Browser} */
let browser;
let portolan;

/** GET with a bearer token, as a pipeline would; returns the status. */
async function asPipeline(token, path) {
  const res = await fetch(new URL(path, portolan.baseUrl), {
    headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
  });
  await res.arrayBuffer();
  return res.status;
}

describe('API tokens and the audit log', { timeout: 600_000 }, () => {
  before(async () => {
    browser = await launchBrowser();
    portolan = await startPortolan({ seed: true });
  }, { timeout: 180_000 });
  after(async () => {
    await portolan?.stop();
    await browser?.close().catch(() => {});
  });

  test('a developer creates a token, sees it once, and revokes it', async () => {
    const session = await signIn(portolan.baseUrl, 'developer');
    const page = await newPage(browser, { session });
    await page.goto(`${portolan.baseUrl}/`);
    await waitForHydration(page);
    assert.equal(await page.locator('nav.nav a[href="/audit"]').count(), 0,
      'the audit log is not offered to a developer');
    await page.locator('.user-menu a[href="/settings/tokens"]').click();
    await page.waitForURL(`${portolan.baseUrl}/settings/tokens`);
    await page.locator('h1', { hasText: 'API tokens' }).waitFor();

    // Only the scopes a developer holds are offered.
    const offered = await page.locator('.scope-choices input[type="checkbox"]').evaluateAll(
      (inputs) => inputs.map((i) => i.value),
    );
    assert.deepEqual(offered, ['read', 'catalog:write', 'deployments:write', 'promotions:write']);

    // A missing name is refused and said next to the field.
    await page.locator('.token-form button[type="submit"]').click();
    // The browser's own check (required) stops an empty name before it is sent.
    assert.equal(await page.locator('.token-secret').count(), 0);

    await page.locator('.token-form input[name="name"]').fill('payments CI');
    await page.locator('.scope-choices input[value="deployments:write"]').check();
    await page.locator('.token-form select[name="expires_in_days"]').selectOption('30');
    await page.locator('.token-form button[type="submit"]').click();
    const secretBox = page.locator('.token-secret input.secret');
    await secretBox.waitFor();
    const token = await secretBox.inputValue();
    assert.match(token, /^ptl_[A-Za-z0-9_-]{20,}$/);
    assert.match(await page.locator('.token-secret').innerText(), /will not be shown again/);
    const row = page.locator('tr', { hasText: 'payments CI' });
    await row.waitFor();
    assert.equal(await row.locator('[data-status]').getAttribute('data-status'), 'active');
    assert.match(await row.innerText(), /deployments:write/);
    assert.match(await row.innerText(), /never/, 'not used yet');
    await screenshot(page, 'tokens-created');

    // The pipeline uses it.
    assert.equal(await asPipeline(token, '/api/v1/services?limit=1'), 200);

    // Done: the secret is gone from the page for good.
    await page.locator('.token-secret button', { hasText: 'Done' }).click();
    assert.equal(await page.locator('.token-secret').count(), 0);
    assert.equal((await page.content()).includes(token), false, 'the secret is not kept in the page');

    // Revoking asks first, then takes effect at once.
    await row.locator('button', { hasText: 'Revoke' }).click();
    await row.locator('.confirm-revoke').waitFor();
    await screenshot(page, 'tokens-confirm-revoke');
    await row.locator('button', { hasText: 'Yes, revoke' }).click();
    await page.waitForFunction(
      () => [...document.querySelectorAll('tr')].some(
        (tr) => tr.textContent.includes('payments CI')
          && tr.querySelector('[data-status="revoked"]'),
      ),
    );
    assert.equal(await asPipeline(token, '/api/v1/services?limit=1'), 401, 'the pipeline is stopped');
    assert.equal(await row.locator('button', { hasText: 'Revoke' }).count(), 0,
      'a revoked token offers nothing more');

    // The revocation in the audit log reads as a change of two fields.
    const admin = await newPage(browser, { session: await signIn(portolan.baseUrl, 'admin') });
    await admin.goto(`${portolan.baseUrl}/audit?action=api_token.revoke`);
    const revocation = admin.locator('.audit-table > tbody > tr').first();
    await revocation.locator('summary').click();
    const fields = await revocation.locator('.change-table tbody th').allInnerTexts();
    assert.deepEqual(fields, ['revoked_at', 'status']);
    assert.match(await revocation.locator('.change-table').innerText(), /status\s+active\s+revoked/);
    await admin.close();
    assertNoErrors(page);
    await page.close();
  });

  test('a viewer may only hand out reading', async () => {
    const session = await signIn(portolan.baseUrl, 'viewer');
    const page = await newPage(browser, { session });
    await page.goto(`${portolan.baseUrl}/settings/tokens`);
    await waitForHydration(page);
    const offered = await page.locator('.scope-choices input[type="checkbox"]').evaluateAll(
      (inputs) => inputs.map((i) => i.value),
    );
    assert.deepEqual(offered, ['read']);
    assertNoErrors(page);
    await page.close();
  });

  test('an administrator browses, filters and exports the audit log', async () => {
    // A developer cannot open it, even by its address.
    const dev = await newPage(browser, { session: await signIn(portolan.baseUrl, 'developer') });
    const refused = await dev.goto(`${portolan.baseUrl}/audit`);
    assert.equal(refused.status(), 403);
    assert.match(await dev.locator('h1').innerText(), /audit log is for administrators/);
    await dev.close();

    const session = await signIn(portolan.baseUrl, 'admin');
    const page = await newPage(browser, { session });
    await page.goto(`${portolan.baseUrl}/`);
    await waitForHydration(page);
    await page.locator('nav.nav a[href="/audit"]').click();
    await page.waitForURL(`${portolan.baseUrl}/audit`);
    await page.locator('.audit-table > tbody > tr').first().waitFor();
    // Newest first: the revocation from the first test, by the developer.
    const newest = page.locator('.audit-table > tbody > tr').first();
    assert.match(await newest.innerText(), /api_token\.revoke/);
    assert.match(await newest.innerText(), /Dana Developer/);
    await screenshot(page, 'audit-log');

    // Clicking an action narrows the log to it (client-side, the URL follows).
    await page.locator('.audit-table a', { hasText: 'api_token.create' }).first().click();
    await page.waitForURL((u) => u.searchParams.get('action') === 'api_token.create');
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('.audit-table > tbody > tr')];
      return rows.length > 0 && rows.every((r) => r.textContent.includes('api_token.create'));
    });
    const created = page.locator('.audit-table > tbody > tr', { hasText: 'payments CI' }).first();
    await created.locator('summary').click();
    const changes = created.locator('.change-table');
    await changes.waitFor();
    const changed = await changes.innerText();
    assert.match(changed, /name\s+payments CI/, 'a creation shows each field it set');
    assert.deepEqual(await changes.locator('thead th').allInnerTexts(), ['FIELD', 'AFTER'],
      'and no empty "before" column');
    assert.match(changed, /deployments:write/);
    assert.equal(changed.includes('ptl_'), true, 'the prefix is recorded');
    await screenshot(page, 'audit-log-filtered');

    // The form narrows by kind and dates; a plain GET form, so every view has its address. It
    // starts from the filters in force: drop the action to see every change to tokens.
    assert.equal(await page.locator('.audit-filters input[name="action"]').inputValue(), 'api_token.create');
    await page.locator('.audit-filters input[name="action"]').fill('');
    await page.locator('.audit-filters select[name="target_kind"]').selectOption('api_token');
    const today = new Date().toISOString().slice(0, 10);
    await page.locator('.audit-filters input[name="since"]').fill(today);
    await page.locator('.audit-filters button[type="submit"]').click();
    await page.waitForURL((u) => u.searchParams.get('target_kind') === 'api_token'
      && u.searchParams.get('since') === today);
    await page.locator('.audit-table > tbody > tr').first().waitFor();
    const kinds = await page.locator('.audit-record > a').allInnerTexts();
    assert.ok(kinds.length >= 2, `both token changes: ${kinds}`);
    assert.ok(kinds.every((k) => k.startsWith('api token')), kinds.join(' | '));

    // The downloads carry the same filters, and answer with the same records.
    const href = await page.locator('.page-actions a', { hasText: 'Download CSV' }).getAttribute('href');
    const url = new URL(href, portolan.baseUrl);
    assert.equal(url.pathname, '/api/v1/audit/export');
    assert.equal(url.searchParams.get('target_kind'), 'api_token');
    assert.equal(url.searchParams.get('since'), today);
    const csv = await page.evaluate(async (h) => {
      const r = await fetch(h);
      return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
    }, href);
    assert.equal(csv.status, 200);
    assert.match(csv.type, /text\/csv/);
    const lines = csv.text.trim().split('\n');
    assert.match(lines[0], /^seq,at,actor_kind/);
    assert.equal(lines.length - 1, kinds.length, 'one line per record shown');

    // A filter that matches nothing says so.
    await page.goto(`${portolan.baseUrl}/audit?action=nothing.ever`);
    assert.match(await page.locator('.empty-state').innerText(), /No change matches/);
    assertNoErrors(page);
    await page.close();
  });
});
