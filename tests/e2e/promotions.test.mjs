// Promotions in the browser: a pipeline asks with its token; an approver of prod finds the
// request in their inbox, reads every condition of the gate, and approves; a second approver's
// approval opens the gate; the requester (also an approver) is offered nothing and refused.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  assertNoErrors,
  getJson,
  newPage,
  screenshot,
  signIn,
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
