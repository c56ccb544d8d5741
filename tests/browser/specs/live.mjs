// live.mjs: everything live is pushed over the page's one socket
// (/api/sales/{id}/live/ws). A drop's leaderboard and counts and a stock sale's
// "left" count change in a second person's page while that page sends no
// HTTP request at all (the 2 s polls are gone); the organizer's dashboard
// follows a buyer's hold and payment the same way. In English and Korean.
// The seat map rides the same socket: a seat page, and a seated sale's
// waiting room once it admits, open no other.
import {
  apiCall, assert, base, fitsPhone, grant, newContext, openSeatMap, pay, run, seatedSale, shot, signUpApi, test,
} from '../lib.mjs';

/**
 * Longer than two periods of the polls this replaced (2 s on sale pages,
 * 1 s on the dashboard): a page that still polled would be caught in it.
 */
const QUIET_MS = 4500;

/** Records every HTTP request the page makes to the API from now on (a WebSocket is not one). */
function recordApi(page) {
  const seen = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.startsWith('/api/')) seen.push(`${r.method()} ${new URL(r.url()).pathname}`);
  });
  return seen;
}

/**
 * Records the WebSockets the page opens. Every page also measures the
 * server's clock once over /api/time/ws (clock.js: eight samples, then it
 * closes); that one carries no stream and is kept apart.
 */
function recordSockets(page) {
  const streams = [];
  const clocks = [];
  page.on('websocket', (ws) => {
    const url = new URL(ws.url());
    if (url.pathname === '/api/time/ws') clocks.push(ws);
    else streams.push(`${url.pathname}${url.search}`);
  });
  return { streams, clocks };
}

/** The page opened one stream socket, `expected`, and its clock measurement is over. */
async function oneSocket(page, sockets, expected) {
  assert(sockets.streams.length === 1 && sockets.streams[0] === expected, `one socket, ${expected}: ${sockets.streams}`);
  assert(sockets.clocks.length <= 1, `one clock measurement: ${sockets.clocks.length}`);
  for (const ws of sockets.clocks) {
    if (!ws.isClosed()) await ws.waitForEvent('close');
  }
}

/** The number in the seat page's "N seats left". */
async function seatsLeftIs(page, n) {
  try {
    await page.waitForFunction((e) => document.querySelector('#seats-left').textContent.replace(/\D/g, '') === String(e), n, { timeout: 5000 });
  } catch {
    throw new Error(`#seats-left shows "${(await page.textContent('#seats-left')).trim()}", not ${n}`);
  }
}

/** Waits until the page's live socket is open and has answered (the page shows pushed data). */
async function socketOpen(page) {
  await page.waitForFunction(() => document.documentElement.dataset.live === 'socket');
}

/** Waits until the text of `selector` is `expected`, with what it was in the failure. */
async function textIs(page, selector, expected) {
  try {
    await page.waitForFunction(([s, e]) => document.querySelector(s)?.textContent.trim() === e, [selector, expected], { timeout: 5000 });
  } catch {
    throw new Error(`${selector} shows "${(await page.textContent(selector))?.trim()}", not "${expected}"`);
  }
}

const TEXT = {
  en: { clicks: '2 clicks', left: '1 prize left', winner: 'Winner', open: 'Open' },
  ko: { clicks: '클릭 2회', left: '1자리 남음', winner: '당첨', open: '판매 중' },
};

for (const [locale, lang] of [['en-US', 'en'], ['ko-KR', 'ko']]) {
  test(`live (${lang}): a drop's leaderboard and a stock sale's "left" count update in a second page without polling`, async (browser) => {
    const words = TEXT[lang];
    const drop = await apiCall('POST', '/api/sales', {
      kind: 'drop', title: `Live drop ${lang} ${run}`, description: 'Made by the browser tests.', winners: 3,
      opens_at: null, closes_at: null,
    });
    await apiCall('POST', `/api/sales/${drop.id}/open`);
    const stock = await apiCall('POST', '/api/sales', {
      kind: 'stock', title: `Live stock ${lang} ${run}`, description: 'Made by the browser tests.', stock: 20,
      price: 55000, currency: 'KRW', per_person_limit: 4, order_quantity_max: 3, hold_seconds: 300, opens_at: null,
      closes_at: null,
    });
    await apiCall('POST', `/api/sales/${stock.id}/open`);
    const buyers = (await apiCall('POST', '/api/admin/users/bulk', { count: 2, name_prefix: `Live${lang}` })).users;

    const context = await newContext(browser, locale);
    const dropPage = await context.newPage();
    const sockets = [];
    dropPage.on('websocket', (ws) => sockets.push(new URL(ws.url()).pathname));
    await dropPage.goto(`${base}/sales/${drop.id}`);
    const stockPage = await context.newPage();
    await stockPage.goto(`${base}/sales/${stock.id}`);
    await socketOpen(dropPage);
    await socketOpen(stockPage);
    await textIs(stockPage, '#stock-available', '20');
    // Loading is done: from here on neither page may ask the server anything.
    const dropRequests = recordApi(dropPage);
    const stockRequests = recordApi(stockPage);
    const started = Date.now();

    // Two other people click the drop and one holds three units.
    for (const b of buyers) await apiCall('POST', `/api/sales/${drop.id}/clicks`, undefined, b.token);
    const hold = await apiCall('POST', `/api/sales/${stock.id}/holds`, { quantity: 3 }, buyers[0].token);

    await textIs(dropPage, '#drop-clicks', words.clicks);
    await textIs(dropPage, '#drop-left', words.left);
    await dropPage.waitForFunction(() => document.querySelectorAll('#leaderboard-body tr').length === 2);
    const rows = await dropPage.locator('#leaderboard-body tr').allTextContents();
    assert(rows[0].startsWith('1') && rows[1].startsWith('2'), `ranks in order: ${rows}`);
    assert(rows.every((r) => r.includes(words.winner)), `both are winners: ${rows}`);
    assert(rows[0].includes(buyers[0].name[0]) && rows[0].includes('*'), `a masked name: ${rows[0]}`);
    assert(await dropPage.isHidden('#leaderboard-empty'), 'the "no clicks yet" line is gone');
    await textIs(stockPage, '#stock-available', '17');
    await grant(buyers[0].id);
    await pay(stock.id, hold.id, buyers[0].token);
    // Paid units stay gone; a second hold moves the count again.
    await apiCall('POST', `/api/sales/${stock.id}/holds`, { quantity: 2 }, buyers[1].token);
    await textIs(stockPage, '#stock-available', '15');
    await textIs(stockPage, '#sale-status', words.open);

    // Watching on: a page that still polled would ask within this time.
    await dropPage.waitForTimeout(Math.max(0, QUIET_MS - (Date.now() - started)));
    assert(dropRequests.length === 0, `the drop page polled: ${dropRequests}`);
    assert(stockRequests.length === 0, `the stock page polled: ${stockRequests}`);
    assert(sockets.filter((p) => p === `/api/sales/${drop.id}/live/ws`).length === 1, `one live socket: ${sockets}`);
    await fitsPhone(dropPage);
    await shot(dropPage, `live-drop-leaderboard-${lang}`);
    await shot(stockPage, `live-stock-left-${lang}`);
    return context;
  });

  test(`live (${lang}): the organizer's dashboard follows a buyer's hold and payment without polling`, async (browser) => {
    const context = await newContext(browser, locale);
    const email = await signUpApi(context, 'Organizer');
    const me = await (await context.request.get(`${base}/api/me`)).json();
    await apiCall('PUT', `/api/admin/users/${me.id}/role`, { role: 'organizer' });
    const { token } = await apiCall('POST', '/api/auth/tokens', { email, password: 'browser-pass-1' }, '');
    const sale = await apiCall('POST', '/api/sales', {
      kind: 'stock', title: `Live dashboard ${lang} ${run}`, description: 'Made by the browser tests.', stock: 20,
      price: 55000, currency: 'KRW', per_person_limit: 4, order_quantity_max: 3, hold_seconds: 300, opens_at: null,
      closes_at: null,
    }, token);
    await apiCall('POST', `/api/sales/${sale.id}/open`, undefined, token);
    const buyer = (await apiCall('POST', '/api/admin/users/bulk', { count: 1, name_prefix: `Dash${lang}` })).users[0];

    const page = await context.newPage();
    await page.goto(`${base}/organizer/sales/${sale.id}`);
    await socketOpen(page);
    await textIs(page, '#dash-available', '20');
    const requests = recordApi(page);
    const started = Date.now();

    const hold = await apiCall('POST', `/api/sales/${sale.id}/holds`, { quantity: 2 }, buyer.token);
    await textIs(page, '#dash-held', '2');
    await textIs(page, '#dash-available', '18');
    await textIs(page, '#dash-sold', '0');
    await grant(buyer.id);
    await pay(sale.id, hold.id, buyer.token);
    await textIs(page, '#dash-sold', '2');
    await textIs(page, '#dash-held', '0');
    const revenue = (await page.textContent('#dash-revenue')).trim();
    assert(revenue.includes('110,000'), `revenue of two at 55,000: ${revenue}`);

    await page.waitForTimeout(Math.max(0, QUIET_MS - (Date.now() - started)));
    assert(requests.length === 0, `the dashboard polled: ${requests}`);
    // Nobody has sent a command for seconds: the pushed rate says so.
    await textIs(page, '#dash-rps', '0');
    await shot(page, `live-dashboard-${lang}`);
    return context;
  });
}

test('live (en): with the live socket refused, a stock page falls back to reading, less and less often', async (browser) => {
  const sale = await apiCall('POST', '/api/sales', {
    kind: 'stock', title: `Live fallback ${run}`, description: 'Made by the browser tests.', stock: 20, price: 55000,
    currency: 'KRW', per_person_limit: 4, order_quantity_max: 3, hold_seconds: 300, opens_at: null, closes_at: null,
  });
  await apiCall('POST', `/api/sales/${sale.id}/open`);
  const buyer = (await apiCall('POST', '/api/admin/users/bulk', { count: 1, name_prefix: 'Fallback' })).users[0];
  const context = await newContext(browser);
  const page = await context.newPage();
  // Every attempt at the live socket is closed at once, as a proxy that refuses WebSockets would.
  let attempts = 0;
  await page.routeWebSocket(/\/live\/ws$/, (ws) => {
    attempts += 1;
    ws.close();
  });
  const reads = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === `/api/sales/${sale.id}`) reads.push(Date.now());
  });
  await page.goto(`${base}/sales/${sale.id}`);
  await textIs(page, '#stock-available', '20');
  await apiCall('POST', `/api/sales/${sale.id}/holds`, { quantity: 3 }, buyer.token);
  await textIs(page, '#stock-available', '17');
  assert(await page.evaluate(() => document.documentElement.dataset.live) === 'polling', 'the page knows it polls');
  // Reconnection keeps being tried, and the reads spread out (1 s, 2 s, 4 s... apart).
  await page.waitForTimeout(QUIET_MS);
  assert(attempts >= 3, `the socket was tried again: ${attempts}`);
  const gaps = reads.slice(1).map((t, i) => t - reads[i]);
  assert(gaps.length >= 3, `reads while the socket is down: ${gaps}`);
  assert(gaps[gaps.length - 1] > gaps[1], `reads back off: ${gaps}`);
  return context;
});

test('live (en): the seat page opens one socket, and another person\'s hold shows on its map without polling', async (browser) => {
  const sale = await seatedSale(`Live seats ${run}`);
  const venue = await apiCall('GET', `/api/sales/${sale.id}/venue`);
  const row = venue.sections[0].rows[1];
  const seats = [row.first_seat + 2, row.first_seat + 3];
  const other = (await apiCall('POST', '/api/admin/users/bulk', { count: 1, name_prefix: 'LiveSeat' })).users[0];
  const context = await newContext(browser);
  await signUpApi(context, 'Kwon');
  const page = await context.newPage();
  const sockets = recordSockets(page);
  await openSeatMap(page, sale.id);
  await socketOpen(page);
  await page.click('#seatmap g.section[data-section="0"]');
  for (const id of seats) await page.waitForSelector(`#seatmap circle[data-seat="${id}"][data-state="free"]`);
  await seatsLeftIs(page, 80);
  const requests = recordApi(page);
  const started = Date.now();

  await apiCall('POST', `/api/sales/${sale.id}/seats/holds`, { seats }, other.token);
  for (const id of seats) await page.waitForSelector(`#seatmap circle[data-seat="${id}"][data-state="taken"]`, { timeout: 5000 });
  await seatsLeftIs(page, 78);

  await page.waitForTimeout(Math.max(0, QUIET_MS - (Date.now() - started)));
  assert(requests.length === 0, `the seat page polled: ${requests}`);
  await oneSocket(page, sockets, `/api/sales/${sale.id}/live/ws?seats=true`);
  await fitsPhone(page);
  // From the top: a full-page shot of a scrolled page draws the sticky header mid-page.
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'live-seats-taken-by-other');
  return context;
});

test('live (ko): a seated sale\'s waiting room admits, and its seat map joins the same socket', async (browser) => {
  const sale = await apiCall('POST', '/api/sales', {
    kind: 'seated', title: `Live seats room ${run}`, description: 'Made by the browser tests.', currency: 'KRW',
    seated: {
      generate: {
        name: 'Browser Hall',
        sections: [
          { name: 'Floor', tier: 'VIP', price: 150000, colour: '#cc3333', rows: 5, seats_per_row: 8, x: 0, y: 0, curve_degrees: 0, spacing: 10 },
        ],
      },
      per_person_limit: 4, seats_per_hold_max: 4, hold_seconds: 300,
    },
    opens_at: null,
    waiting_room: { policy: 'active', active_max: 1000, pass_seconds: 300, pow_bits: 0, places_per_address: 1000 },
  });
  await apiCall('POST', `/api/sales/${sale.id}/open`);
  const venue = await apiCall('GET', `/api/sales/${sale.id}/venue`);
  const seats = [venue.sections[0].rows[0].first_seat + 4];
  const other = (await apiCall('POST', '/api/admin/users/bulk', { count: 1, name_prefix: 'LiveRoom' })).users[0];
  const context = await newContext(browser, 'ko-KR');
  await signUpApi(context, 'Bae');
  const page = await context.newPage();
  const sockets = recordSockets(page);
  await page.goto(`${base}/sales/${sale.id}`);
  await socketOpen(page);
  assert(await page.isHidden('#seatmap'), 'no seat map before admission');
  await page.click('#queue-join');
  await page.waitForSelector('#queue-admitted:not([hidden])', { timeout: 15000 });
  // Admitted: the seat page's script asked the open socket for the map.
  await page.waitForSelector('#seatmap[data-live="true"] g.section');
  await page.click('#seatmap g.section[data-section="0"]');
  await page.waitForSelector(`#seatmap circle[data-seat="${seats[0]}"][data-state="free"]`);
  const requests = recordApi(page);

  // Someone else in line takes a seat with their own pass.
  const ticket = await apiCall('POST', `/api/sales/${sale.id}/queue/join`, { nonce: 0 }, other.token);
  assert(ticket.admitted, `the other person is let in at once: ${JSON.stringify(ticket)}`);
  const { pass } = await apiCall('GET', `/api/sales/${sale.id}/queue/me`, undefined, other.token);
  const held = await fetch(`${base}/api/sales/${sale.id}/seats/holds`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${other.token}`, 'stampede-pass': pass },
    body: JSON.stringify({ seats }),
  });
  assert(held.status === 201, `the other hold: ${held.status} ${await held.text()}`);
  await page.waitForSelector(`#seatmap circle[data-seat="${seats[0]}"][data-state="taken"]`, { timeout: 5000 });
  await seatsLeftIs(page, 39);

  const seatRequests = requests.filter((r) => r.includes('/seats'));
  assert(seatRequests.length === 0, `the map was read, not pushed: ${seatRequests}`);
  // Opened before admission for the line alone, the socket was never opened again.
  await oneSocket(page, sockets, `/api/sales/${sale.id}/live/ws`);
  await fitsPhone(page);
  // From the top: a full-page shot of a scrolled page draws the sticky header mid-page.
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'live-seats-waiting-room-ko');
  return context;
});
