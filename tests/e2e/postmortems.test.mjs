// A postmortem in the browser: an SRE starts it, writes sections with the live preview (the
// blameless check speaks up; a script injection renders harmlessly, checked in the page itself),
// asks an approver to review; the approver confirms the checklist and approves; the SRE publishes.

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

describe('Postmortems', { timeout: 600_000 }, () => {
  before(async () => {
    browser = await launchBrowser();
    portolan = await startPortolan({ seed: true });
  }, { timeout: 180_000 });
  after(async () => {
    await portolan?.stop();
    await browser?.close().catch(() => {});
  });

  test('write with a live preview, review, publish; injected script stays inert', async () => {
    const sreSession = await signIn(portolan.baseUrl, 'sre');
    const approverSession = await signIn(portolan.baseUrl, 'approver'); // signs in once, so can be named
    const incident = await change(sreSession, 'POST', '/api/v1/incidents', {
      title: 'Search timed out', severity: 'sev2',
    });
    await change(sreSession, 'POST', `/api/v1/incidents/${incident.id}/transition`, { to: 'resolved' });

    const page = await newPage(browser, { session: sreSession });
    await page.goto(`${portolan.baseUrl}/incidents/${incident.id}`);
    await waitForHydration(page);
    await page.locator('.page-actions a', { hasText: 'Postmortem' }).click();
    await page.waitForURL(`${portolan.baseUrl}/incidents/${incident.id}/postmortem`);
    await page.locator('button.start-postmortem').click();
    await page.locator('.pm-section[data-section="summary"]').waitFor();
    assert.match(await page.locator('.due').innerText(), /Publish by/, 'SEV2: the policy date shows');

    // The summary, with a script injection and a blameful sentence, previewed live.
    const summary = page.locator('.pm-section[data-section="summary"]');
    await summary.locator('button.edit').click();
    const attack = 'Search **timed out** for 40 minutes.\n\n<img src=x onerror="window.__pwned=1">'
      + '<script>window.__pwned=2</script> [docs](javascript:window.__pwned=3)\n\n'
      + 'Bob should have checked the index size.';
    await summary.locator('textarea').fill(attack);
    await summary.locator('.preview .markdown strong', { hasText: 'timed out' }).waitFor();
    await summary.locator('.preview-flags li').first().waitFor();
    await screenshot(page, 'postmortem-editing');
    await summary.locator('button.save').click();
    await summary.locator('.markdown strong', { hasText: 'timed out' }).waitFor();
    // Checked in the browser: nothing ran, no script or handler or javascript: link is in the page.
    const inert = await page.evaluate(() => ({
      pwned: window.__pwned ?? null,
      scripts: document.querySelectorAll('.pm-section script').length,
      handlers: [...document.querySelectorAll('.pm-section *')].filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length,
      jsLinks: [...document.querySelectorAll('.pm-section a')].filter((a) => /^\s*javascript:/i.test(a.getAttribute('href') || '')).length,
    }));
    assert.deepEqual(inert, { pwned: null, scripts: 0, handlers: 0, jsLinks: 0 });
    assert.match(await page.locator('.language-flags').innerText(), /should have/i, 'the blameless check informs');

    // Ask the approver to review.
    const approverName = (await getJson(portolan.baseUrl, '/api/v1/me', approverSession)).display_name;
    await page.locator('.request-review label', { hasText: approverName }).locator('input').check();
    await page.locator('.request-review button[type="submit"]').click();
    await page.waitForFunction(() => document.querySelector('[data-state]')?.dataset.state === 'in_review');
    // Expected: the postmortem did not exist at first (404), and the injected <img src=x> asked
    // for a relative "x" that does not exist (harmless: no handler came with it).
    const expected = [
      (e) => e.url.endsWith(`/api/v1/incidents/${incident.id}/postmortem`),
      (e) => e.url.endsWith(`/incidents/${incident.id}/x`),
    ];
    assertNoErrors(page, { allow: expected });

    // The approver reviews: every question confirmed, then approve.
    const reviewer = await newPage(browser, { session: approverSession });
    await reviewer.goto(`${portolan.baseUrl}/incidents/${incident.id}/postmortem`);
    await waitForHydration(reviewer);
    const approve = reviewer.locator('button.approve');
    assert.equal(await approve.isDisabled(), true, 'not before the checklist is done');
    for (const box of await reviewer.locator('.review-checklist input').all()) await box.check();
    await screenshot(reviewer, 'postmortem-review');
    await approve.click();
    await reviewer.locator('.reviewers li[data-approved="true"]').waitFor();
    assertNoErrors(reviewer, { allow: expected });
    await reviewer.close();

    await page.reload();
    await waitForHydration(page);
    await page.locator('button.publish').click();
    await page.waitForFunction(() => document.querySelector('[data-state]')?.dataset.state === 'published');
    assert.match(await page.locator('.revisions').innerText(), /Revision 1 — first publication/);
    await screenshot(page, 'postmortem-published');
    const printable = await page.evaluate(async (id) => {
      const r = await fetch(`/api/v1/incidents/${id}/postmortem/export?format=html`);
      return r.text();
    }, incident.id);
    assert.match(printable, /<h2>Summary<\/h2>/);
    assert.doesNotMatch(printable, /onerror|<script>window/);
    assertNoErrors(page, { allow: expected });
    await page.close();
  });
});
