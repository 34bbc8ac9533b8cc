// Gate policies in the browser: an admin opens prod's gate from the environments page, adds a
// rule of two approvals and a freeze window, and saves with a reason (a count of 0 is refused next
// to its field first); the page shows version 1 and its history; a developer reads the policy with
// no editor; a request into prod shows the new rule's condition; and a save made meanwhile by
// someone else is not overwritten.

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

/** A full-page screenshot from the top (the top bar sticks where the page was scrolled to). */
async function shot(page, name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, name);
}

describe('Gate policies', { timeout: 600_000 }, () => {
  const suite = suiteWithPortolan();

  test('an admin changes the gate of prod; everyone reads it', async () => {
    const { browser, portolan, change } = suite;
    const adminSession = await signIn(portolan.baseUrl, 'admin');
    const devSession = await signIn(portolan.baseUrl, 'developer');
    const adminName = (await getJson(portolan.baseUrl, '/api/v1/me', adminSession)).display_name;

    // From the environments page, where each environment's gate reads in one line.
    const admin = await newPage(browser, { session: adminSession });
    await admin.goto(`${portolan.baseUrl}/environments`);
    await waitForHydration(admin);
    const prodStage = admin.locator('.gate-pipeline [data-environment="prod"]');
    assert.equal(await prodStage.locator('a.gate-link').innerText(), 'no approvals');
    assert.match(await prodStage.innerText(), /default policy/);
    await prodStage.locator('a.gate-link').click();
    await admin.waitForURL(`${portolan.baseUrl}/environments/prod/gate`);
    const inForce = admin.locator('section.gate-in-force');
    await inForce.waitFor();
    assert.equal(await inForce.getAttribute('data-version'), '0');
    assert.match(await inForce.innerText(), /never set, so the default policy applies/);
    assert.match(await inForce.innerText(), /None needed\./);

    // A rule of 0 approvals and a freeze window, with a reason.
    const form = admin.locator('form.gate-editor');
    await form.locator('button.add-rule').click();
    const rule = form.locator('.rule-row[data-rule="0"]');
    await rule.locator('input[name="name"]').fill('Release managers');
    await rule.locator('input[name="count"]').fill('0');
    await rule.locator('input[name="roles"]').fill('approver@prod, approver');
    await form.locator('button.add-freeze').click();
    const freeze = form.locator('.freeze-row[data-freeze="0"]');
    await freeze.locator('input[name="start"]').fill('2030-12-20T00:00');
    await freeze.locator('input[name="end"]').fill('2031-01-02T00:00');
    await freeze.locator('input[name="freeze_reason"]').fill('End-of-year freeze');
    await form.locator('textarea[name="change_reason"]').fill('Two approvals for prod');
    await form.locator('button.save-gate').click();
    // Refused next to the field that is wrong, and nothing is saved.
    const countField = rule.locator('label.field', { has: admin.locator('input[name="count"]') });
    await countField.locator('.field-error', { hasText: 'between 1 and 10' }).waitFor();
    assert.equal(await rule.locator('.field-error').count(), 1, 'only the count is wrong');
    assert.match(await form.locator('.gate-error').innerText(), /Not saved/);
    await shot(admin, 'gate-policy-refused');
    assert.equal((await getJson(portolan.baseUrl, '/api/v1/environments/prod/gate', adminSession)).version, 0);

    await rule.locator('input[name="count"]').fill('2');
    await form.locator('button.save-gate').click();
    await admin.locator('section.gate-in-force[data-version="1"]').waitFor();
    const saved = admin.locator('section.gate-in-force');
    assert.match(await saved.locator('.gate-saved').innerText(), /version 1 is in force/);
    assert.match(await saved.innerText(), new RegExp(`Version 1 · set by ${adminName} on `));
    assert.match(await saved.innerText(), /“Two approvals for prod”/);
    assert.match(
      await saved.innerText(),
      /2 approvals from Release managers: people with the role approver@prod or approver\./,
    );
    assert.match(await saved.innerText(), /2030-12-20 00:00 UTC to 2031-01-02 00:00 UTC: End-of-year freeze/);
    // The history, newest first, each version expandable into words.
    const versions = admin.locator('ol.policy-history > li.policy-version');
    assert.equal(await versions.count(), 1);
    const first = versions.first();
    assert.equal(await first.getAttribute('data-version'), '1');
    assert.match(await first.locator('summary').innerText(), /Version 1/);
    assert.match(await first.locator('summary').innerText(), /Two approvals for prod/);
    assert.equal(await first.locator('.policy-words').isVisible(), false);
    await first.locator('summary').click();
    assert.match(await first.locator('.policy-words').innerText(), /2 approvals from Release managers/);
    // The editor starts again from what is now in force.
    assert.equal(await form.locator('button.save-gate').innerText(), 'Save as version 2');
    assert.equal(await form.locator('.rule-row[data-rule="0"] input[name="count"]').inputValue(), '2');
    assert.equal(await form.locator('.freeze-row[data-freeze="0"] input[name="start"]').inputValue(), '2030-12-20T00:00');
    await shot(admin, 'gate-policy-saved');

    const gate = await getJson(portolan.baseUrl, '/api/v1/environments/prod/gate', adminSession);
    assert.equal(gate.version, 1);
    assert.equal(gate.reason, 'Two approvals for prod');
    assert.deepEqual(gate.policy.approvals, [
      { name: 'Release managers', count: 2, roles: ['approver@prod', 'approver'], groups: [], owning_team: false },
    ]);
    assert.deepEqual(gate.policy.freeze_windows, [
      { start: '2030-12-20T00:00:00Z', end: '2031-01-02T00:00:00Z', reason: 'End-of-year freeze' },
    ]);
    assertNoErrors(admin, { allow: [(e) => e.text.includes('422') && e.url.endsWith('/api/v1/environments/prod/gate')] });

    // The environments page sums it up.
    const list = await newPage(browser, { session: devSession });
    await list.goto(`${portolan.baseUrl}/environments`);
    await waitForHydration(list);
    assert.equal(
      await list.locator('.gate-pipeline [data-environment="prod"] a.gate-link').innerText(),
      '2 approvals · 1 freeze',
    );
    assert.match(await list.locator('.gate-pipeline [data-environment="prod"]').innerText(), /version 1/);
    await shot(list, 'gate-policy-environments');
    assertNoErrors(list);

    // A developer reads the policy, with no editor.
    const dev = await newPage(browser, { session: devSession });
    await dev.goto(`${portolan.baseUrl}/environments/prod/gate`);
    await waitForHydration(dev);
    assert.equal(await dev.locator('section.gate-in-force').getAttribute('data-version'), '1');
    assert.match(await dev.locator('section.gate-in-force').innerText(), /2 approvals from Release managers/);
    assert.match(await dev.locator('section.gate-in-force').innerText(), /Admins change this policy/);
    assert.equal(await dev.locator('form.gate-editor').count(), 0);
    assert.equal(await dev.locator('ol.policy-history > li.policy-version').count(), 1);
    await shot(dev, 'gate-policy-read-only');
    assertNoErrors(dev);
    const missing = await fetch(`${portolan.baseUrl}/environments/nowhere/gate`, { headers: { cookie: devSession.cookie } });
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /There is no environment nowhere\./);

    // A request into prod is judged under the new rule.
    await change(devSession, 'POST', '/api/v1/deployments', {
      service: 'checkout-api', environment: 'staging', version: '7.1.0-gate', status: 'succeeded', external_id: 'e2e-gate-710',
    });
    const promotion = await change(devSession, 'POST', '/api/v1/promotions', {
      service: 'checkout-api', version: '7.1.0-gate', to: 'prod', reason: 'Gate test',
    });
    const request = await newPage(browser, { session: devSession });
    await request.goto(`${portolan.baseUrl}/promotions/${promotion.id}`);
    await waitForHydration(request);
    const approvals = request.locator('[data-condition="approvals:Release managers"]');
    assert.equal(await approvals.getAttribute('data-status'), 'waiting');
    assert.match(await approvals.innerText(), /needs 2 more approvals from Release managers/);
    assert.match(
      await request.locator('[data-condition="freeze"]').innerText(),
      /no freeze now; next: End-of-year freeze from 20 Dec 2030 00:00 UTC/,
    );
    assert.match(await request.locator('.card-header', { has: request.locator('h2', { hasText: /^Gate$/ }) }).innerText(), /policy version 1/);
    assertNoErrors(request);

    // Someone else saves while the admin is editing: the admin's save is refused, not applied
    // over theirs, and the page offers the version now in force.
    await form.locator('input[name="soak_minutes"]').fill('30');
    await change(adminSession, 'PUT', '/api/v1/environments/prod/gate', {
      reason: 'Hotfixes may skip', expected_version: 1,
      policy: { ...gate.policy, hotfix_may_skip: true },
    });
    await admin.locator('.news-waiting:not([hidden])').waitFor();
    await form.locator('textarea[name="change_reason"]').fill('Soak for half an hour');
    await form.locator('button.save-gate').click();
    const stale = form.locator('.gate-error', { hasText: 'changed since you read it' });
    await stale.waitFor();
    await shot(admin, 'gate-policy-conflict');
    await stale.locator('button.reload-gate').click();
    await admin.locator('section.gate-in-force[data-version="2"]').waitFor();
    assert.match(await admin.locator('section.gate-in-force').innerText(), /May skip stages/);
    assert.equal(await admin.locator('ol.policy-history > li.policy-version').count(), 2);
    assert.equal(await admin.locator('ol.policy-history > li.policy-version').first().getAttribute('data-version'), '2');
    assert.equal(await admin.locator('form.gate-editor input[name="soak_minutes"]').inputValue(), '0');
    assert.equal((await getJson(portolan.baseUrl, '/api/v1/environments/prod/gate', adminSession)).policy.soak_minutes, 0);

    // Allowed hours: a time zone that does not exist is refused beside the hours.
    await form.locator('input[name="allowed_hours"]').check();
    const hours = form.locator('.hours-fields');
    await hours.locator('input[name="days"][value="fri"]').uncheck();
    await hours.locator('input[name="time_zone"]').fill('Mars/Olympus');
    await form.locator('textarea[name="change_reason"]').fill('Office hours only');
    await form.locator('button.save-gate').click();
    await hours.locator('.field-error', { hasText: "'Mars/Olympus' is not a time zone" }).waitFor();
    await hours.locator('input[name="time_zone"]').fill('Europe/Berlin');
    await form.locator('button.save-gate').click();
    await admin.locator('section.gate-in-force[data-version="3"]').waitFor();
    assert.match(await admin.locator('section.gate-in-force').innerText(), /Only Mon–Thu, 09:00–17:00 \(Europe\/Berlin\)\./);
    assert.equal(await form.locator('.hours-fields input[name="days"][value="fri"]').isChecked(), false);
    assert.equal(await form.locator('textarea[name="change_reason"]').inputValue(), '', 'a fresh editor after saving');
    // Each version keeps its own open or closed state: the newest arrives closed.
    assert.equal(await admin.locator('li.policy-version[data-version="3"] details').getAttribute('open'), null);
    await shot(admin, 'gate-policy-hours');
    assertNoErrors(admin, {
      allow: [(e) => /\b(409|422)\b/.test(e.text) && e.url.endsWith('/api/v1/environments/prod/gate')],
    });

    // On a phone, the editor stacks its fields.
    const phone = await newPage(browser, { session: adminSession, width: 390, height: 844, isMobile: true });
    await phone.goto(`${portolan.baseUrl}/environments/prod/gate`);
    await waitForHydration(phone);
    await phone.locator('form.gate-editor button.add-freeze').click();
    await shot(phone, 'gate-policy-phone');
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
    assertNoErrors(phone);
  });
});
