// An incident in the browser: a developer declares it with its severity and affected service, an
// SRE moves it through its lifecycle, adds a note, links the deployment Portolan suggests as the
// cause, and a viewer can read it all but change nothing.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  assertNoErrors,
  getJson,
  sendJson,
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

const change = (session, method, path, body) => sendJson(portolan.baseUrl, session, method, path, body);

describe('Incidents', { timeout: 600_000 }, () => {
  before(async () => {
    browser = await launchBrowser();
    portolan = await startPortolan({ seed: true });
  }, { timeout: 180_000 });
  after(async () => {
    await portolan?.stop();
    await browser?.close().catch(() => {});
  });

  test('declare, run, link the cause, and read it as a viewer', async () => {
    // A pipeline shipped checkout-api to production twenty minutes ago.
    const developer = await signIn(portolan.baseUrl, 'developer');
    const minutesAgo = (m) => new Date(Date.now() - m * 60_000).toISOString();
    const shipped = await change(developer, 'POST', '/api/v1/deployments', {
      service: 'checkout-api', environment: 'prod', version: '9.9.9-e2e', status: 'succeeded',
      started_at: minutesAgo(22), finished_at: minutesAgo(20),
    });

    // The developer notices trouble and declares it.
    const page = await newPage(browser, { session: developer });
    await page.goto(`${portolan.baseUrl}/incidents`);
    await waitForHydration(page);
    await page.locator('.page-actions button', { hasText: 'Declare an incident' }).click();
    const form = page.locator('.declare-form');
    await form.waitFor();
    assert.match(await form.innerText(), /Critical: a core service is down/, 'severities are explained');
    await form.locator('input[name="title"]').fill('Checkout returns 502s');
    await form.locator('input[name="severity"][value="sev2"]').check();
    await form.locator('select[name="services"]').selectOption(['checkout-api']);
    await form.locator('textarea[name="summary"]').fill('Errors on /pay since the last release.');
    await screenshot(page, 'incident-declare');
    await form.locator('button[type="submit"]').click();
    await page.waitForURL(/\/incidents\/\d+$/);
    const id = Number(new URL(page.url()).pathname.split('/').pop());
    await page.locator('h1', { hasText: 'Checkout returns 502s' }).waitFor();
    assert.equal(await page.locator('.incident-badges [data-state]').getAttribute('data-state'), 'triage');
    assert.equal(await page.locator('.move-form').count(), 0, 'a developer declares but does not run it');
    assertNoErrors(page);
    await page.close();

    // The SRE runs it.
    const sre = await newPage(browser, { session: await signIn(portolan.baseUrl, 'sre') });
    await sre.goto(`${portolan.baseUrl}/incidents/${id}`);
    await waitForHydration(sre);
    const candidate = sre.locator(`.candidate[data-deployment="${shipped.id}"][data-relation="caused_by"]`);
    await candidate.waitFor();
    assert.match(await candidate.innerText(), /which this incident affects/);
    assert.match(await candidate.innerText(), /before the impact started|after the impact started/);
    await screenshot(sre, 'incident-suggestions');
    await candidate.locator('button', { hasText: 'Link as cause' }).click();
    const linked = sre.locator(`.link-item[data-relation="caused_by"]`);
    await linked.waitFor();
    assert.match(await linked.innerText(), /9\.9\.9-e2e/);

    // Everywhere it belongs: the catalog marks the service while the incident is open, the
    // service page lists the incident, the deployments feed marks the deployment as its cause.
    const look = await newPage(browser, { session: developer });
    await look.goto(`${portolan.baseUrl}/?q=checkout`);
    await look.locator('tr[data-service="checkout-api"] .open-incident').waitFor();
    assert.match(await look.locator('tr[data-service="checkout-api"] .open-incident').innerText(), new RegExp(`INC-${id} SEV2`));
    await look.goto(`${portolan.baseUrl}/services/checkout-api`);
    await look.locator('.service-incidents li', { hasText: 'Checkout returns 502s' }).waitFor();
    await look.goto(`${portolan.baseUrl}/deployments?service=checkout-api`);
    const mark = look.locator(`.feed-item[data-deployment="${shipped.id}"] [data-incident-link="caused_by"]`);
    await mark.waitFor();
    assert.equal(await mark.innerText(), `Caused INC-${id}`);
    await screenshot(look, 'deployments-marked');
    assertNoErrors(look);
    await look.close();

    // The SRE corrects the facts: severity, commander and roles, times (a wrong order is refused
    // with the reason, in words), and the edit lands on the timeline.
    const sreName = (await getJson(portolan.baseUrl, '/api/v1/me', await signIn(portolan.baseUrl, 'sre'))).display_name;
    const devName = (await getJson(portolan.baseUrl, '/api/v1/me', developer)).display_name;
    await sre.locator('button.edit-facts').click();
    const edit = sre.locator('form.edit-incident');
    await edit.waitFor();
    await edit.locator('select[name="severity"]').selectOption('sev1');
    await edit.locator('select[name="commander"] option', { hasText: sreName }).waitFor({ state: 'attached' });
    await edit.locator('select[name="commander"]').selectOption({ label: sreName });
    await edit.locator('select[name="scribe"]').selectOption({ label: devName });
    const utcMinutes = (m) => new Date(Date.now() - m * 60_000).toISOString().slice(0, 16);
    await edit.locator('input[name="started_at"]').fill(utcMinutes(15));
    await edit.locator('input[name="detected_at"]').fill(utcMinutes(25));
    await edit.locator('button[type="submit"]').click();
    await edit.locator('.form-error', { hasText: 'Detected' }).waitFor();
    await screenshot(sre, 'incident-edit-refused');
    await edit.locator('input[name="detected_at"]').fill(utcMinutes(12));
    await edit.locator('button[type="submit"]').click();
    await edit.waitFor({ state: 'detached' });
    await sre.locator('.incident-badges .sev-1').waitFor();
    assert.equal(await sre.locator('.facts dd[data-role="scribe"]').innerText(), devName);
    const edited = await sre.locator('.timeline').innerText();
    for (const line of [/Severity SEV2 → SEV1/, new RegExp(`Incident commander: ${sreName}`), new RegExp(`Scribe: ${devName}`), /Impact started at/]) {
      assert.match(edited, line);
    }

    await sre.locator('.move-form select[name="to"]').selectOption('investigating');
    await sre.locator('.move-form button[type="submit"]').click();
    await sre.waitForFunction(
      () => document.querySelector('.incident-badges [data-state]')?.dataset.state === 'investigating',
    );
    await sre.locator('.note-form input[name="note"]').fill('Rolled back to the previous release');
    await sre.locator('.note-form button[type="submit"]').click();
    await sre.locator('.timeline-note', { hasText: 'Rolled back to the previous release' }).waitFor();

    // Declining now is refused with the reason, and nothing changes.
    await sre.locator('.move-form select[name="to"]').selectOption('resolved');
    await sre.locator('.move-form button[type="submit"]').click();
    await sre.waitForFunction(
      () => document.querySelector('.incident-badges [data-state]')?.dataset.state === 'resolved',
    );
    const timeline = await sre.locator('.timeline').innerText();
    for (const line of [/Declared SEV2/, /Linked deployment #\d+ .*as the cause/, /triage → investigating/,
      /Rolled back to the previous release/, /investigating → resolved/]) {
      assert.match(timeline, line);
    }
    // Expected: the refused edit (422) above.
    assertNoErrors(sre, { allow: [(e) => e.text.includes('422') && e.url.endsWith(`/api/v1/incidents/${id}`)] });
    await screenshot(sre, 'incident-resolved');
    await sre.close();

    // A viewer reads it all and is offered nothing to change.
    const viewer = await newPage(browser, { session: await signIn(portolan.baseUrl, 'viewer') });
    await viewer.goto(`${portolan.baseUrl}/incidents?state=all`);
    await waitForHydration(viewer);
    const row = viewer.locator(`tr[data-incident="${id}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), /SEV1/, "the edited severity");
    assert.equal(await viewer.locator('.page-actions button', { hasText: 'Declare' }).count(), 0);
    await row.locator('a').first().click();
    await viewer.waitForURL(`${portolan.baseUrl}/incidents/${id}`);
    await viewer.locator('.timeline').waitFor();
    assert.equal(await viewer.locator('.move-form, .note-form, .candidate button').count(), 0);
    assertNoErrors(viewer);
    await viewer.close();
  });
});
