// Live updates in the browser: two people have the same incident open; what one of them does
// appears on the other's page without a reload, and on the incidents list of a third. Someone
// typing a note is not interrupted: the news waits, on offer, and their text stays.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  assertNoErrors,
  newPage,
  screenshot,
  signIn,
  suiteWithPortolan,
  waitForHydration,
} from './harness.mjs';

const suite = suiteWithPortolan({ seed: false });

/** Opens `path` signed in as `session`, hydrated and following changes. */
async function openLive(session, path) {
  const page = await newPage(suite.browser, { session });
  await page.goto(`${suite.portolan.baseUrl}${path}`);
  await waitForHydration(page);
  await page.locator('.live-indicator[data-live="live"]').waitFor();
  // Set once: a reload would lose it.
  await page.evaluate(() => {
    window.sameDocument = true;
  });
  return page;
}

const notReloaded = async (page) => assert.equal(await page.evaluate(() => window.sameDocument), true);

describe('Live updates', { timeout: 300_000 }, () => {
  test('what one person does shows on the pages others have open', async () => {
    const sreSession = await signIn(suite.portolan.baseUrl, 'sre');
    const devSession = await signIn(suite.portolan.baseUrl, 'developer');
    const viewerSession = await signIn(suite.portolan.baseUrl, 'viewer');
    const incident = await suite.change(devSession, 'POST', '/api/v1/incidents', {
      title: 'Checkout answers 502', severity: 'sev2',
    });
    const id = incident.id;

    const sre = await openLive(sreSession, `/incidents/${id}`);
    const dev = await openLive(devSession, `/incidents/${id}`);
    const list = await openLive(viewerSession, '/incidents');
    assert.equal(await list.locator('tr[data-incident]').count(), 1);

    // The SRE adds a note and moves the incident: the developer sees both as they happen.
    await sre.locator('.note-form input[name="note"]').fill('Rolled back checkout-api to 4.1.0');
    await sre.locator('.note-form button[type="submit"]').click();
    await dev.locator('.timeline-note', { hasText: 'Rolled back checkout-api to 4.1.0' }).waitFor({ timeout: 10_000 });
    await sre.locator('.move-form select[name="to"]').selectOption('investigating');
    await sre.locator('.move-form button[type="submit"]').click();
    await dev.waitForFunction(
      () => document.querySelector('.incident-badges [data-state]')?.dataset.state === 'investigating',
      null,
      { timeout: 10_000 },
    );
    await list.locator(`tr[data-incident="${id}"] [data-state="investigating"]`).waitFor({ timeout: 10_000 });
    await notReloaded(dev);
    await notReloaded(list);
    await screenshot(dev, 'live-incident-updated');

    // A second incident, declared through the API (a pipeline, an alert): on the list at once.
    const second = await suite.change(devSession, 'POST', '/api/v1/incidents', {
      title: 'Search is slow', severity: 'sev3',
    });
    await list.locator(`tr[data-incident="${second.id}"]`).waitFor({ timeout: 10_000 });
    await notReloaded(list);
    await screenshot(list, 'live-incidents-list');

    // The developer starts typing a note; meanwhile the SRE adds one. The developer's page
    // keeps their text and offers the news instead of showing it under their fingers.
    const devNote = dev.locator('.note-form input[name="note"]');
    await devNote.fill('Error rate is back to normal');
    await sre.locator('.note-form input[name="note"]').fill('Watching the error rate');
    await sre.locator('.note-form button[type="submit"]').click();
    const waiting = dev.locator('main > .news-waiting');
    await waiting.waitFor({ state: 'visible', timeout: 10_000 });
    assert.equal(await devNote.inputValue(), 'Error rate is back to normal');
    assert.equal(await dev.locator('.timeline-note', { hasText: 'Watching the error rate' }).count(), 0);
    await screenshot(dev, 'live-news-waiting');
    // Once their note is sent, the page shows everything.
    await dev.locator('.note-form button[type="submit"]').click();
    await dev.locator('.timeline-note', { hasText: 'Watching the error rate' }).waitFor({ timeout: 10_000 });
    await dev.locator('.timeline-note', { hasText: 'Error rate is back to normal' }).waitFor();
    await waiting.waitFor({ state: 'hidden' });
    await sre.locator('.timeline-note', { hasText: 'Error rate is back to normal' }).waitFor({ timeout: 10_000 });
    await notReloaded(dev);
    await notReloaded(sre);

    for (const page of [sre, dev, list]) {
      assertNoErrors(page);
    }

    // Open event streams do not hold the server up when it stops.
    const stopping = Date.now();
    await suite.portolan.stop();
    assert.ok(Date.now() - stopping < 5_000, `stopped in ${Date.now() - stopping} ms`);
  });
});
