// Promotions in the browser: a pipeline asks with its token; an approver of prod finds the
// request in their inbox, reads every condition of the gate, and approves; a second approver's
// approval opens the gate; the requester (also an approver) is offered nothing and refused.
// Then, with sign-in through the OpenID Connect provider only: a developer asks from the
// browser, an approver (counted through their Entra group) reads what changes and approves, and
// the developer sees the decision arrive without reloading.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  assertNoErrors,
  getJson,
  launchBrowser,
  newPage,
  screenshot,
  signIn,
  startPortolanWithProvider,
  suiteWithPortolan,
  waitForHydration,
} from './harness.mjs';

describe('Promotions', { timeout: 600_000 }, () => {
  const suite = suiteWithPortolan();

  test('a pipeline asks, approvers decide in the browser', async () => {
    const { browser, portolan, change } = suite;
    const admin = await signIn(portolan.baseUrl, 'admin');
    const developer = await signIn(portolan.baseUrl, 'developer');
    const approver = await signIn(portolan.baseUrl, 'approver');
    const prodApprover = await signIn(portolan.baseUrl, 'approver-prod');
    await change(admin, 'PUT', '/api/v1/environments/prod/gate', {
      reason: 'Two approvals for prod',
      policy: { approvals: [{ name: 'Release managers', count: 2 }] },
    });
    // The version has run in staging.
    await change(developer, 'POST', '/api/v1/deployments', {
      service: 'checkout-api', environment: 'staging', version: '9.8.7-e2e', status: 'succeeded', external_id: 'e2e-987',
    });
    const token = await change(developer, 'POST', '/api/v1/tokens', { name: 'release pipeline', scopes: ['promotions:write'] });
    const asked = await fetch(`${portolan.baseUrl}/api/v1/promotions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ service: 'checkout-api', version: '9.8.7-e2e', to: 'prod', reason: 'Card retries' }),
    });
    assert.equal(asked.status, 201);
    const promotion = await asked.json();

    // The developer whose pipeline asked watches the request.
    const watching = await newPage(browser, { session: developer });
    await watching.goto(`${portolan.baseUrl}/promotions/${promotion.id}`);
    await waitForHydration(watching);
    assert.equal(await watching.locator('.page-header [data-state]').getAttribute('data-state'), 'pending');
    assert.equal(await watching.locator('form.decide-promotion').count(), 0, 'developers do not decide');

    // The approver of prod finds it in the inbox.
    const page = await newPage(browser, { session: prodApprover });
    await page.goto(`${portolan.baseUrl}/promotions`);
    await waitForHydration(page);
    const row = page.locator(`tr[data-promotion="${promotion.id}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), /Checkout API 9\.8\.7-e2e/);
    assert.match(await row.innerText(), /staging → prod/);
    await row.locator('a').first().click();
    await page.waitForURL(`${portolan.baseUrl}/promotions/${promotion.id}`);
    await waitForHydration(page);
    const approvals = page.locator('[data-condition="approvals:Release managers"]');
    assert.equal(await approvals.getAttribute('data-status'), 'waiting');
    assert.match(await approvals.innerText(), /needs 2 more approvals from Release managers/);
    assert.equal(await page.locator('[data-condition="previous_environment"]').getAttribute('data-status'), 'pass');
    await screenshot(page, 'promotion-waiting');
    await page.locator('form.decide-promotion button.approve').click();
    await page.locator('[data-condition="approvals:Release managers"]', { hasText: 'needs 1 more approval' }).waitFor();
    assert.equal(await page.locator('form.decide-promotion').count(), 1, 'still offered: the server refuses a second decision');

    // A second approver opens the gate.
    const second = await newPage(browser, { session: approver });
    await second.goto(`${portolan.baseUrl}/promotions/${promotion.id}`);
    await waitForHydration(second);
    await second.locator('form.decide-promotion button.approve').click();
    await second.waitForFunction(() => document.querySelector('.page-header [data-state]')?.dataset.state === 'approved');
    assert.match(await second.locator('.page-header').innerText(), /Gate open/);
    assert.equal(await second.locator('form.decide-promotion').count(), 0, 'decided: nothing more to decide');
    await screenshot(second, 'promotion-approved');
    assertNoErrors(second);

    // Without reloading, the developer and the first approver see the decision arrive.
    for (const p of [watching, page]) {
      await p.waitForFunction(() => document.querySelector('.page-header [data-state]')?.dataset.state === 'approved');
      await p.locator('[data-condition="approvals:Release managers"][data-status="pass"]').waitFor();
      assert.equal(await p.locator('form.decide-promotion').count(), 0);
    }
    await screenshot(watching, 'promotion-arrived-live');
    assertNoErrors(watching);
    assertNoErrors(page);

    const final = await getJson(portolan.baseUrl, `/api/v1/promotions/${promotion.id}`, developer);
    assert.equal(final.state, 'approved');
    assert.equal(final.approvals.length, 2);

    // Break-glass: an admin overrides a request whose gate is still closed; it shows, loudly.
    const urgent = await change(developer, 'POST', '/api/v1/promotions', {
      service: 'checkout-api', version: '9.8.8-e2e', to: 'prod', hotfix: true,
    });
    const adminPage = await newPage(browser, { session: admin });
    await adminPage.goto(`${portolan.baseUrl}/promotions/${urgent.id}`);
    await waitForHydration(adminPage);
    assert.equal(await adminPage.locator('[data-condition="previous_environment"]').getAttribute('data-status'), 'waiting');
    assert.equal(await adminPage.locator('form.decide-promotion').count(), 0, 'admins do not approve');
    await adminPage.locator('.break-glass-form summary').click();
    await adminPage.locator('.break-glass-form input[name="reason"]').fill('Card payments failing; fix cannot wait');
    await adminPage.locator('.break-glass-form button[type="submit"]').click();
    await adminPage.locator('.callout.break-glass', { hasText: 'Card payments failing' }).waitFor();
    assert.equal(await adminPage.locator('.page-header [data-state]').getAttribute('data-state'), 'approved');
    assert.match(await adminPage.locator('[data-condition="break_glass"]').innerText(), /BREAK-GLASS by/);
    await screenshot(adminPage, 'promotion-break-glass');
    assertNoErrors(adminPage);
  });
});

describe('Promotions, signed in through the OpenID Connect provider', { timeout: 600_000 }, () => {
  let browser;
  let provider;
  let portolan;
  let running;
  before(async () => {
    browser = await launchBrowser();
    running = await startPortolanWithProvider();
    ({ provider, portolan } = running);
  }, { timeout: 180_000 });
  after(async () => {
    await running?.stop();
    await browser?.close().catch(() => {});
  });

  /** A page of someone who signed in at the provider as `login`, on `path`. */
  async function signedIn(login, path) {
    const page = await newPage(browser);
    await page.goto(`${portolan.baseUrl}${path}`);
    assert.ok(page.url().startsWith(`http://127.0.0.1:${provider.port}/`), `to the provider: ${page.url()}`);
    await page.locator('#login').fill(login);
    await page.locator('#sign-in').click();
    await page.waitForURL((u) => u.href.startsWith(portolan.baseUrl));
    await waitForHydration(page);
    return page;
  }

  /** A change through the API from the page's own session (with its CSRF token). */
  function send(page, method, path, body) {
    return page.evaluate(async ({ method, path, body }) => {
      const me = await (await fetch('/api/v1/me')).json();
      const r = await fetch(path, {
        method,
        headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrf_token },
        body: JSON.stringify(body),
      });
      return { status: r.status, body: await r.json() };
    }, { method, path, body });
  }

  const providerErrors = (e) => e.url.startsWith(`http://127.0.0.1:${provider.port}/`);

  test('one person asks, another approves, and the first sees it arrive', async () => {
    // The admin's gate for prod: one approval from the members of the prod-approvers group.
    const admin = await signedIn('admin', '/promotions');
    const gate = await send(admin, 'PUT', '/api/v1/environments/prod/gate', {
      reason: 'Production approvers decide',
      policy: { approvals: [{ name: 'Production approvers', count: 1, groups: ['bbbbbbbb-0000-4000-8000-000000000001'] }] },
    });
    assert.equal(gate.status, 200, JSON.stringify(gate.body));

    // The developer's pipeline shipped the version to staging, with its commits.
    const developer = await signedIn('developer', '/promotions');
    const minutesAgo = (m) => new Date(Date.now() - m * 60_000).toISOString();
    for (const [version, sha, message, at] of [['5.0.0-oidc', 'aaaa0001', 'Start the new card flow', 2], ['5.0.1-oidc', 'bbbb0002', 'Retry declined cards once', 1]]) {
      const shipped = await send(developer, 'POST', '/api/v1/deployments', {
        service: 'checkout-api', environment: 'staging', version, status: 'succeeded', external_id: `oidc-${version}`,
        changes: [{ sha, author: 'Test Developer', message, committed_at: minutesAgo(at) }],
      });
      assert.equal(shipped.status, 201, JSON.stringify(shipped.body));
    }

    // They ask from the browser.
    await developer.goto(`${portolan.baseUrl}/promotions?ask&service=checkout-api&version=5.0.1-oidc&to=prod`);
    await waitForHydration(developer);
    const form = developer.locator('form.ask-form');
    assert.equal(await form.locator('input[name="version"]').inputValue(), '5.0.1-oidc');
    await form.locator('select[name="to"] option[value="prod"]').waitFor({ state: 'attached' });
    await form.locator('select[name="to"]').selectOption('prod');
    await form.locator('textarea[name="reason"]').fill('Fewer failed card payments');
    await screenshot(developer, 'promotion-oidc-ask');
    await form.locator('button[type="submit"]').click();
    await developer.waitForURL(/\/promotions\/\d+$/);
    await waitForHydration(developer);
    const id = Number(developer.url().split('/').pop());
    assert.equal(await developer.locator('.page-header [data-state]').getAttribute('data-state'), 'pending');
    assert.match(await developer.locator('.page-header .eyebrow').innerText(), /asked by Test Developer/i);
    assert.equal(await developer.locator('form.decide-promotion').count(), 0, 'the requester is offered no decision');

    // The approver, an approver through the prod-approvers group, finds it in their inbox.
    const approver = await signedIn('approver-prod', '/promotions');
    const row = approver.locator(`tr[data-promotion="${id}"]`);
    await row.waitFor();
    await row.locator('a').first().click();
    await approver.waitForURL(`${portolan.baseUrl}/promotions/${id}`);
    await waitForHydration(approver);
    const rule = approver.locator('[data-condition="approvals:Production approvers"]');
    assert.equal(await rule.getAttribute('data-status'), 'waiting');
    assert.match(await rule.innerText(), /needs 1 more approval from Production approvers/);
    // What changes: from the version prod runs (the demo's) to the candidate, newest first,
    // with the two staged versions' commits on top.
    const changes = approver.locator('.promotion-changes');
    await changes.waitFor();
    assert.match(await changes.locator('.changes-summary').innerText(), /^prod runs \S+; 5\.0\.1-oidc adds \d+ commits by \d+ people \(.*5\.0\.0-oidc, 5\.0\.1-oidc\)\.$/);
    assert.deepEqual(
      (await changes.locator('.promoted-commits li').evaluateAll((li) => li.map((l) => l.dataset.sha))).slice(0, 2),
      ['bbbb0002', 'aaaa0001'],
    );
    assert.match(await changes.locator('.authors').innerText(), /Test Developer · 2/);
    assert.match(await approver.locator('.promotion-record tr[data-environment="staging"]').innerText(), /staging \(source\)/);
    await screenshot(approver, 'promotion-oidc-review');

    // A direct attempt by the requester is refused by the server too.
    const own = await send(developer, 'POST', `/api/v1/promotions/${id}/decisions`, { decision: 'approve' });
    assert.equal(own.status, 403);

    await approver.locator('form.decide-promotion input[name="comment"]').fill('Checked the card dashboards');
    await approver.locator('form.decide-promotion button.approve').click();
    await approver.waitForFunction(() => document.querySelector('.page-header [data-state]')?.dataset.state === 'approved');

    // The developer's page, never reloaded, shows the decision.
    await developer.waitForFunction(() => document.querySelector('.page-header [data-state]')?.dataset.state === 'approved');
    await developer.locator('[data-condition="approvals:Production approvers"][data-status="pass"]').waitFor();
    assert.match(await developer.locator('.reviewers').innerText(), /Test Production Approver[\s\S]*approved[\s\S]*Checked the card dashboards/);
    await screenshot(developer, 'promotion-oidc-arrived');
    assertNoErrors(admin, { allow: [providerErrors] });
    assertNoErrors(approver, { allow: [providerErrors] });
    // The refused attempt of the requester is the developer page's only error.
    assertNoErrors(developer, { allow: [providerErrors, (e) => e.url.endsWith(`/promotions/${id}/decisions`) && /403/.test(e.text)] });
  });
});
