// End-to-end test of Portolan's foundation: the catalog (server-rendered and hydrated), the service
// page, the environment matrix, the deployment feed, the API docs, and the 404 page, in chromium at
// desktop and phone sizes. Run by `bash tests/run.sh` (or, with a server built and a cluster up:
// DATABASE_URL=… node --test tests/e2e/).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  assertNoErrors,
  getJson,
  signIn,
  launchBrowser,
  loadsBundle,
  newPage,
  screenshot,
  startPortolan,
  waitForHydration,
  waitUntil,
} from './harness.mjs';

const ROWS = 'table.data-table tbody tr[data-service]';
const DEMO_SERVICES = 60;

const DESKTOP = { name: 'desktop', width: 1280, height: 800 };
const PHONE = { name: 'phone', width: 390, height: 844, isMobile: true };

/** @type {{baseUrl: string, stop: () => Promise<void>}} */
let portolan;
/** @type {import('playwright-core').Browser} */
let browser;
/** The viewer's session (development sign-in). */
let viewer;
/** The demo services as the API lists them. */
let services = [];
/** A search query (part of a real slug) that matches a few services, and what it may match. */
let search;

const lower = (v) => String(v ?? '').toLowerCase();

/** Every string in a JSON value, lower-cased and joined: what a search could possibly match. */
function haystack(value) {
  const out = [];
  const walk = (v) => {
    if (v == null) return;
    if (typeof v === 'string') out.push(v.toLowerCase());
    else if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(value);
  return out.join('\n');
}

/**
 * Picks part of a real slug that few services match anywhere in their data, so that the catalog's
 * search must narrow the table to a handful of rows whatever fields it searches.
 */
function pickSearch(all) {
  const candidates = [];
  for (const service of all) {
    const parts = new Set(lower(service.slug).split(/[^a-z0-9]+/).filter((p) => p.length >= 4));
    for (const part of parts) {
      const bySlugOrName = all.filter((s) => lower(s.slug).includes(part) || lower(s.name).includes(part));
      const anywhere = all.filter((s) => haystack(s).includes(part));
      candidates.push({ query: part, source: service.slug, bySlugOrName, anywhere });
    }
  }
  candidates.sort(
    (a, b) =>
      a.anywhere.length - b.anywhere.length ||
      b.bySlugOrName.length - a.bySlugOrName.length ||
      b.query.length - a.query.length,
  );
  const best = candidates.find((c) => c.anywhere.length >= 1 && c.anywhere.length <= 8);
  assert.ok(best, 'no slug of the demo data has a part of 4+ characters that matches 8 services or fewer');
  return {
    query: best.query,
    source: best.source,
    // Rows the search may return (the query occurs somewhere in the service's data).
    allowed: new Set(best.anywhere.map((s) => s.slug)),
  };
}

async function rowSlugs(page) {
  return page.$$eval(ROWS, (rows) => rows.map((r) => r.dataset.service));
}

async function rowTexts(page) {
  return page.$$eval(ROWS, (rows) => rows.map((r) => r.innerText));
}

/** Every catalog row is an allowed match for the search, or shows the query in its text. */
async function rowsMatchSearch(page) {
  const rows = await page.$$eval(ROWS, (els) => els.map((r) => ({ slug: r.dataset.service, text: r.innerText })));
  const q = search.query.toLowerCase();
  const strays = rows.filter((r) => !search.allowed.has(r.slug) && !r.text.toLowerCase().includes(q));
  return { rows, strays };
}

function gotoOk(page, url, expectedStatus = 200) {
  return page.goto(new URL(url, portolan.baseUrl).toString(), { waitUntil: 'load' }).then((res) => {
    assert.ok(res, `no response for ${url}`);
    assert.equal(res.status(), expectedStatus, `GET ${url}: HTTP ${res.status()}`);
    return res;
  });
}

describe('Portolan foundation', { timeout: 600_000 }, () => {
  before(
    async () => {
      portolan = await startPortolan({ seed: true });
      browser = await launchBrowser();
      viewer = await signIn(portolan.baseUrl, 'viewer');
      const list = await getJson(portolan.baseUrl, '/api/v1/services?limit=200', viewer);
      assert.ok(Array.isArray(list.items), '/api/v1/services answers {items: [...]}');
      services = list.items;
      search = pickSearch(services);
    },
    { timeout: 180_000 },
  );

  after(async () => {
    await browser?.close().catch(() => {});
    await portolan?.stop();
  });

  test('the API lists the demo services and documents itself', async () => {
    const ready = await fetch(new URL('/readyz', portolan.baseUrl));
    assert.equal(ready.status, 200);

    assert.equal(services.length, DEMO_SERVICES, `the demo data has ${DEMO_SERVICES} services`);
    for (const s of services) {
      assert.ok(s.slug && s.name, `each service has a slug and a name: ${JSON.stringify(s).slice(0, 200)}`);
    }
    assert.equal(new Set(services.map((s) => s.slug)).size, services.length, 'slugs are unique');

    const doc = await getJson(portolan.baseUrl, '/api/openapi.json', viewer);
    assert.match(String(doc.openapi), /^3\./, 'an OpenAPI 3 document');
    assert.ok(
      Object.keys(doc.paths ?? {}).some((p) => p.startsWith('/api/v1/services')),
      'the OpenAPI document describes /api/v1/services',
    );
  });

  test('without JavaScript the catalog is server-rendered and its search form works', async () => {
    const page = await newPage(browser, { javaScriptEnabled: false, session: viewer });
    try {
      await gotoOk(page, '/');
      const initial = await rowSlugs(page);
      assert.ok(initial.length > 0, 'the server-rendered catalog has rows');
      assert.ok(
        initial.every((slug) => services.some((s) => s.slug === slug)),
        'every row carries the slug of a known service in data-service',
      );

      await page.fill('#catalog-search', search.query);
      await Promise.all([
        page.waitForURL((url) => url.searchParams.get('q') === search.query, { timeout: 15_000 }),
        page.press('#catalog-search', 'Enter'),
      ]);
      await page.waitForLoadState('load');

      const { rows, strays } = await rowsMatchSearch(page);
      assert.ok(rows.length > 0, `searching "${search.query}" finds rows`);
      assert.ok(rows.length < initial.length, `searching "${search.query}" narrows ${initial.length} rows`);
      assert.deepEqual(strays, [], `rows that do not match "${search.query}"`);
      assert.ok(
        rows.some((r) => r.slug === search.source),
        `searching "${search.query}" finds ${search.source}`,
      );
      assert.equal(await page.inputValue('#catalog-search'), search.query, 'the search box keeps the query');
    } finally {
      await page.close();
    }
  });

  test('hydrated, the catalog filters as you type, without a page load', async () => {
    const page = await newPage(browser, { session: viewer });
    try {
      await gotoOk(page, '/');
      await waitForHydration(page);
      const initial = await rowSlugs(page);
      assert.ok(initial.length > 0, 'the catalog has rows');

      await page.evaluate(() => {
        window.__marker = 1;
      });
      await page.locator('#catalog-search').pressSequentially(search.query, { delay: 40 });

      const { rows, strays } = await waitUntil(
        async () => {
          const r = await rowsMatchSearch(page);
          return r.rows.length > 0 && r.rows.length < initial.length && r.strays.length === 0 ? r : null;
        },
        { timeout: 15_000, message: `the rows to narrow to matches of "${search.query}"` },
      ).catch(async (err) => {
        const now = await rowsMatchSearch(page);
        const marker = await page.evaluate(() => window.__marker).catch(() => undefined);
        throw new Error(
          `${err.message}\nwindow.__marker is ${marker}${marker === 1 ? '' : ' (the page was reloaded)'}` +
            `\nrows now: ${now.rows.map((r) => r.slug).join(', ')}`,
        );
      });
      assert.ok(rows.length < initial.length);
      assert.deepEqual(strays, []);
      assert.ok(rows.some((r) => r.slug === search.source), `"${search.query}" finds ${search.source}`);

      assert.equal(await page.evaluate(() => window.__marker), 1, 'no page load happened while filtering');
      await waitUntil(() => new URL(page.url()).searchParams.get('q') === search.query, {
        timeout: 10_000,
        message: `the URL to carry ?q=${search.query} (it is ${page.url()})`,
      });
      assert.equal(await page.evaluate(() => window.__marker), 1, 'updating the URL did not reload the page');
      assertNoErrors(page);
    } finally {
      await page.close();
    }
  });

  test('choosing a team shows only that team’s services', async () => {
    const page = await newPage(browser, { session: viewer });
    try {
      await gotoOk(page, '/');
      await waitForHydration(page);
      const initial = await rowSlugs(page);

      const options = await page.$$eval('#filter-team option', (opts) =>
        opts.map((o) => ({ value: o.value, label: o.textContent.trim() })),
      );
      const team = options.find((o) => o.value !== '');
      assert.ok(team, `#filter-team offers teams: ${JSON.stringify(options)}`);
      // A label may carry a count, e.g. "Payments (5)": the rows show the team's name.
      const teamName = team.label.replace(/\s*\(\d+\)\s*$/, '');

      await page.selectOption('#filter-team', team.value);
      // Exact: each row's owner cell carries the team's slug (a name can also appear in another
      // column, e.g. a system called like the team).
      const rowTeams = () => page.$$eval('tr[data-service] td[data-team]', (cells) => cells.map((c) => c.dataset.team));
      const texts = await waitUntil(
        async () => {
          const t = await rowTexts(page);
          const teams = await rowTeams();
          return t.length > 0 && teams.length === t.length && teams.every((x) => x === team.value) && t.every((x) => x.includes(teamName))
            ? t
            : null;
        },
        { timeout: 15_000, message: `every row to show team "${teamName}"` },
      ).catch(async (err) => {
        const now = await rowTexts(page);
        throw new Error(`${err.message}\nrows now:\n${now.map((t) => `  ${t.replace(/\s+/g, ' ')}`).join('\n')}`);
      });
      assert.ok(texts.length <= initial.length);
      assert.equal(await page.inputValue('#filter-team'), team.value, 'the team stays selected');
      assertNoErrors(page);
    } finally {
      await page.close();
    }
  });

  test('a catalog row leads to the service page with its pipeline', async () => {
    const page = await newPage(browser, { session: viewer });
    try {
      await gotoOk(page, '/');
      await waitForHydration(page);
      const firstRow = page.locator(ROWS).first();
      const slug = await firstRow.getAttribute('data-service');
      const service = services.find((s) => s.slug === slug);
      assert.ok(service, `the first row's service ${slug} is known to the API`);

      await firstRow.locator('a').first().click();
      await page.waitForURL((url) => url.pathname === `/services/${slug}`, { timeout: 15_000 });
      await waitUntil(async () => lower(await page.locator('h1').first().innerText()).includes(lower(service.name)), {
        timeout: 15_000,
        message: `h1 to show "${service.name}"`,
      });
      await waitUntil(async () => (await page.locator('ol.pipeline > li.stage').count()) === 4, {
        timeout: 15_000,
        message: 'a pipeline of 4 stages',
      });
      assert.equal(await page.locator('ol.pipeline').count(), 1, 'one pipeline');
      assertNoErrors(page);

      // The same page, loaded directly.
      const direct = await newPage(browser, { session: viewer });
      try {
        await gotoOk(direct, `/services/${slug}`);
        assert.ok(lower(await direct.locator('h1').first().innerText()).includes(lower(service.name)));
        assert.equal(await direct.locator('ol.pipeline > li.stage').count(), 4);
      } finally {
        await direct.close();
      }
    } finally {
      await page.close();
    }
  });

  test('the environment matrix has 4 environment columns', async () => {
    const page = await newPage(browser, { session: viewer });
    try {
      await gotoOk(page, '/environments');
      const matrix = page.locator('table.matrix');
      assert.equal(await matrix.count(), 1, 'one table.matrix');
      const cellsPerRow = await matrix.locator('tbody tr').evaluateAll((rows) =>
        rows.map((r) => r.querySelectorAll('td.cell').length),
      );
      assert.ok(cellsPerRow.length > 0, 'the matrix has rows');
      assert.ok(
        cellsPerRow.every((n) => n === 4),
        `every row has one td.cell per environment (4): ${JSON.stringify(cellsPerRow.slice(0, 10))}`,
      );
      const headers = await matrix.locator('thead th').count();
      assert.ok(headers >= 4, `the header names the 4 environments (${headers} th)`);
    } finally {
      await page.close();
    }
  });

  test('the deployment feed lists deployments', async () => {
    const page = await newPage(browser, { session: viewer });
    try {
      await gotoOk(page, '/deployments');
      const items = await page.locator('ol.feed > li.feed-item').count();
      assert.ok(items > 0, 'the feed has items');
    } finally {
      await page.close();
    }
  });

  test('every page renders without browser errors, on desktop and phone', async (t) => {
    const slug = services[0].slug;
    const pages = [
      { name: 'catalog', path: '/' },
      { name: 'service', path: `/services/${slug}` },
      { name: 'environments', path: '/environments' },
      { name: 'deployments', path: '/deployments' },
      { name: 'api-docs', path: '/api/docs' },
      { name: 'not-found', path: '/no-such-page', status: 404 },
    ];
    // One subtest per page and size: every screenshot is taken even when a page fails.
    for (const viewport of [DESKTOP, PHONE]) {
      for (const p of pages) {
        await t.test(`${p.name} (${viewport.name} ${viewport.width}×${viewport.height})`, async () => {
          const page = await newPage(browser, { ...viewport, session: viewer });
          try {
            const res = await gotoOk(page, p.path, p.status ?? 200);
            if (await loadsBundle(page)) {
              await waitForHydration(page);
            }
            await page.waitForLoadState('networkidle').catch(() => {});
            await screenshot(page, `${p.name}-${viewport.name}`);

            const mainUrl = res.url();
            assertNoErrors(page, {
              label: `${p.path} (${viewport.name})`,
              // The 404 page's own status is reported by chromium as a failed resource.
              allow:
                p.status === 404
                  ? [(e) => e.kind === 'console' && /status of 404/.test(e.text) && (!e.url || e.url === mainUrl)]
                  : [],
            });
          } finally {
            await page.close();
          }
        });
      }
    }
  });
});
