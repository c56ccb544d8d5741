// weight.mjs: page weight (issue 12, "Pages"). Each page a person walks
// through is loaded twice in one browser context: first with an empty cache,
// then again. The sizes come from the Resource Timing API (transferSize: the
// bytes that came over the network, headers included, 0 for a cache hit;
// decodedBodySize: the body after decompression), summed over the page and
// every request it made while loading (scripts, styles, the catalogue, API
// reads). WebSocket traffic is not counted: it is the page being live, not
// its weight. Budgets: a page's HTML at most 10 KB transferred (its decoded
// size is printed too), a first visit at most 60 KB in all, a repeat visit at
// most 15 KB. The table is printed for BENCHMARKS.md ("Pages (issue 12)").
import { apiCall, assert, base, dropSale, newContext, run, seatedSale, signUpApi, stockSale, test } from '../lib.mjs';

const KB = 1024;
const HTML_MAX = 10 * KB;
const FIRST_VISIT_MAX = 60 * KB;
const REPEAT_VISIT_MAX = 15 * KB;

/** Loads `url` in `page` and sums what it cost once the network is quiet. */
async function visit(page, url) {
  const res = await page.goto(url, { waitUntil: 'networkidle' });
  assert(res.status() < 400, `${url} answered ${res.status()}`);
  const sizes = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const resources = performance.getEntriesByType('resource');
    return {
      htmlTransfer: nav.transferSize,
      htmlDecoded: nav.decodedBodySize,
      total: nav.transferSize + resources.reduce((sum, r) => sum + r.transferSize, 0),
      requests: 1 + resources.filter((r) => r.transferSize > 0).length,
      cached: resources.filter((r) => r.transferSize === 0).length,
      fetched: resources.filter((r) => r.transferSize > 0).map((r) => new URL(r.name).pathname),
    };
  });
  return { ...sizes, encoding: res.headers()['content-encoding'] || 'identity' };
}

const kb = (n) => (n / KB).toFixed(1);

test('page weight: every page\'s HTML, a first visit and a repeat visit stay within their budgets', async (browser) => {
  const stock = await stockSale(`Weight festival ${run}`);
  const drop = await dropSale(`Weight drop ${run}`, 3_600_000);
  const seated = await seatedSale(`Weight concert ${run}`);
  const room = await stockSale(`Weight room ${run}`, {
    waiting_room: { policy: 'active', active_max: 1000, pass_seconds: 300, pow_bits: 0 },
  });

  // One signed-in admin, so every page (my page, the organizer's, any sale's dashboard) can be walked.
  const walker = await newContext(browser);
  await signUpApi(walker, 'Weigher');
  const me = await (await walker.request.get(`${base}/api/me`)).json();
  await apiCall('PUT', `/api/admin/users/${me.id}/role`, { role: 'admin' });

  const pages = [
    ['home', '/', null],
    ['sale: stock', `/sales/${stock.id}`, null],
    ['sale: drop', `/sales/${drop.id}`, null],
    ['sale: seated', `/sales/${seated.id}`, null],
    ['sale: waiting room', `/sales/${room.id}`, null],
    ['log in', '/login', 'guest'],
    ['sign up', '/signup', 'guest'],
    ['my page', '/me', null],
    ['organizer: sales', '/organizer', null],
    ['organizer: new sale', '/organizer/new', null],
    ['organizer: dashboard', `/organizer/sales/${seated.id}`, null],
  ];
  const rows = [];
  const over = [];
  for (const lang of ['en-US', 'ko-KR']) {
    for (const [name, path, who] of pages) {
      // A fresh context per page: an empty cache, the walker's cookies when signed in.
      const context = await newContext(browser, lang);
      if (who !== 'guest') await context.addCookies(await walker.cookies());
      const page = await context.newPage();
      const first = await visit(page, `${base}${path}`);
      const again = await visit(page, `${base}${path}`);
      await context.close();
      const label = `${name} (${lang.slice(0, 2)})`;
      rows.push([label, first, again]);
      if (first.htmlTransfer > HTML_MAX) over.push(`${label}: HTML ${first.htmlTransfer} B > ${HTML_MAX}`);
      if (first.total > FIRST_VISIT_MAX) over.push(`${label}: first visit ${first.total} B > ${FIRST_VISIT_MAX}`);
      if (again.total > REPEAT_VISIT_MAX) {
        over.push(`${label}: repeat visit ${again.total} B > ${REPEAT_VISIT_MAX} (fetched ${again.fetched.join(', ')})`);
      }
      // On a repeat visit every file comes from the cache: only the page and its API reads travel.
      const refetched = again.fetched.filter((p) => p.startsWith('/assets/'));
      if (refetched.length) over.push(`${label}: repeat visit fetched ${refetched.join(', ')} again`);
      if (first.encoding === 'identity') over.push(`${label}: the HTML was not compressed`);
    }
  }
  console.log('     | page | HTML transferred KB | HTML decoded KB | first visit KB (requests) | repeat visit KB (requests, from cache) |');
  console.log('     |---|---|---|---|---|');
  for (const [label, first, again] of rows) {
    console.log(`     | ${label} | ${kb(first.htmlTransfer)} (${first.encoding}) | ${kb(first.htmlDecoded)} | ${kb(first.total)} (${first.requests}) | ${kb(again.total)} (${again.requests}, ${again.cached}) |`);
  }
  assert(over.length === 0, `over budget:\n${over.join('\n')}`);
  return walker;
});
