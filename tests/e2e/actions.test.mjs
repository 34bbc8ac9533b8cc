// Action items in the browser: an SRE adds one to an incident (a bad ticket link is refused next
// to its field), a developer picks it up and finishes it, another is dropped with a reason, and
// the follow-through page counts what is open and overdue for the organisation and for one team.

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

describe('Action items', { timeout: 600_000 }, () => {
  const suite = suiteWithPortolan();

  test('added on the incident, picked up, finished or dropped, and counted', async () => {
    const { browser, portolan, change } = suite;
    const sreSession = await signIn(portolan.baseUrl, 'sre');
    const devSession = await signIn(portolan.baseUrl, 'developer');
    const devName = (await getJson(portolan.baseUrl, '/api/v1/me', devSession)).display_name;
    const teams = (await getJson(portolan.baseUrl, '/api/v1/teams?limit=200', sreSession)).items;
    const team = teams[0];
    const incident = await change(sreSession, 'POST', '/api/v1/incidents', {
      title: 'Basket totals wrong', severity: 'sev2',
    });
    const before = await getJson(portolan.baseUrl, `/api/v1/action-items/follow-through?team=${team.slug}`, sreSession);

    // The SRE adds an item; a javascript: ticket link is refused beside its field.
    const sre = await newPage(browser, { session: sreSession });
    await sre.goto(`${portolan.baseUrl}/incidents/${incident.id}`);
    await waitForHydration(sre);
    const card = sre.locator('section.action-items');
    await card.locator('text=No action items yet').waitFor();
    await card.locator('button', { hasText: 'Add action item' }).click();
    const form = card.locator('form.action-form');
    await form.locator('input[name="title"]').fill('Check basket totals against the price service in CI');
    await form.locator('select[name="kind"]').selectOption('prevent');
    await form.locator('select[name="priority"]').selectOption('p1');
    await form.locator('select[name="team"]').selectOption(team.slug);
    await form.locator('input[name="ticket_url"]').fill('javascript:alert(1)');
    // The browser's own check would stop a non-URL; this one is a URL, so the server decides.
    await form.locator('button[type="submit"]').click();
    await form.locator('.field-error', { hasText: 'http' }).waitFor();
    await form.locator('input[name="ticket_url"]').fill('https://tickets.example.com/BASKET-7');
    await form.locator('button[type="submit"]').click();
    const row = card.locator('li.action-item').first();
    await row.waitFor();
    assert.match(await row.innerText(), /Check basket totals/);
    assert.match(await row.innerText(), /P1/);
    assert.match(await row.innerText(), /nobody has picked it up/);
    assert.equal(await row.getAttribute('data-state'), 'open');
    assert.equal(await row.locator('a', { hasText: 'Ticket' }).getAttribute('href'), 'https://tickets.example.com/BASKET-7');
    const items = await getJson(portolan.baseUrl, `/api/v1/incidents/${incident.id}/action-items`, sreSession);
    assert.equal(items.length, 1);
    assert.equal(items[0].team.slug, team.slug);

    // A second one through the API, to be dropped.
    const second = await change(sreSession, 'POST', `/api/v1/incidents/${incident.id}/action-items`, {
      title: 'Rewrite the basket service', kind: 'prevent', priority: 'p3', team: team.slug,
    });

    // The developer starts the first (it becomes theirs), then finishes it; drops the second.
    const dev = await newPage(browser, { session: devSession });
    await dev.goto(`${portolan.baseUrl}/incidents/${incident.id}#action-items`);
    await waitForHydration(dev);
    const first = dev.locator(`li.action-item[data-action-item="${items[0].reference}"]`);
    await first.locator('button[data-move="in_progress"]').click();
    await dev.waitForFunction((ref) => document.querySelector(`li[data-action-item="${ref}"]`)?.dataset.state === 'in_progress', items[0].reference);
    assert.match(await first.innerText(), new RegExp(devName));
    assert.equal(await dev.locator('button', { hasText: 'Add action item' }).count(), 0, 'developers work on items, they do not add them');
    await first.locator('button[data-move="done"]').click();
    await dev.waitForFunction((ref) => document.querySelector(`li[data-action-item="${ref}"]`)?.dataset.state === 'done', items[0].reference);

    const dropped = dev.locator(`li.action-item[data-action-item="${second.reference}"]`);
    await dropped.locator('button[data-move="wont_do"]').click();
    await dropped.locator('form.drop-form input[name="reason"]').fill('Replaced by the price check in CI');
    await dropped.locator('form.drop-form button[type="submit"]').click();
    await dev.waitForFunction((ref) => document.querySelector(`li[data-action-item="${ref}"]`)?.dataset.state === 'wont_do', second.reference);
    assert.match(await dropped.innerText(), /Replaced by the price check in CI/);
    await screenshot(dev, 'action-items-card');
    assertNoErrors(dev);

    // The follow-through page: the team's closed count went up by two, nothing of ours is open.
    await sre.goto(`${portolan.baseUrl}/actions`);
    await waitForHydration(sre);
    await sre.locator('.tiles [data-figure="open"]').waitFor();
    const org = await getJson(portolan.baseUrl, '/api/v1/action-items/follow-through', sreSession);
    assert.equal(Number(await sre.locator('.tiles [data-figure="open"]').innerText()), org.open);
    assert.equal(Number(await sre.locator('.tiles [data-figure="overdue"]').innerText()), org.overdue);
    assert.ok(org.overdue > 0, 'the demo has overdue items to show');
    assert.equal(await sre.locator('svg.trend-chart rect.trend-open').count(), 12);
    assert.equal(await sre.locator('table.team-follow tbody tr').count(), org.teams.length);
    assert.equal(await sre.locator('table.open-items tbody tr').count(), org.items.length);
    const firstRow = sre.locator('table.open-items tbody tr').first();
    assert.equal(await firstRow.evaluate((tr) => tr.classList.contains('is-overdue')), true, 'overdue items lead');
    await screenshot(sre, 'action-items-organisation');

    // One team, chosen with the (plain GET) form.
    await sre.locator('form.filters select[name="team"]').selectOption(team.slug);
    await sre.locator('form.filters button[type="submit"]').click();
    await sre.waitForURL(`${portolan.baseUrl}/actions?team=${team.slug}`);
    await sre.locator('h1', { hasText: team.name }).waitFor();
    const mine = await getJson(portolan.baseUrl, `/api/v1/action-items/follow-through?team=${team.slug}`, sreSession);
    assert.equal(mine.closed_last_30_days, before.closed_last_30_days + 2);
    assert.equal(mine.open, before.open);
    assert.equal(Number(await sre.locator('.tiles [data-figure="open"]').innerText()), mine.open);
    assert.equal(await sre.locator('table.team-follow').count(), 0, 'no per-team table for one team');
    await screenshot(sre, 'action-items-team');
    // Expected: the refused ticket link (422) on the incident page.
    assertNoErrors(sre, { allow: [(e) => e.text.includes('422') && e.url.endsWith(`/incidents/${incident.id}/action-items`)] });
  });
});
