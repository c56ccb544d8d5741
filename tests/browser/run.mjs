// run.mjs: Stampede's browser tests. Drives Debian's headless chromium with
// playwright-core (no browser download) against a running server:
//
//   STAMPEDE_ADMIN_TOKEN=... node tests/browser/run.mjs http://127.0.0.1:8080
//
// The admin token lets the script make its own sales through the API. Every
// page runs at phone size (390 x 844); screenshots of the key pages go to
// target/browser-screenshots/ (or $SCREENSHOT_DIR). Any page error, failed
// script, or request to another origin fails the test it happens in.
// The organizer pages (new sale with the section builder, dashboard) and
// friends (requests on my page, a seat held for a friend) are covered too.
// Prints one line per test and ends with "N passed, N failed"; exits 1 on a failure.

import { readdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  PHONE, admin, apiCall, assert, base, chromiumPath, dropSale, fitsPhone, grant, here, newContext, only, openSeatMap, opened, pay, run, seatedSale, shot, shots, signUpApi, stockSale, test, tests, watch,
} from './lib.mjs';

test('sign up, log out, log in; unknown account and wrong password shown inline', async (browser) => {
  const context = await newContext(browser);
  const page = await context.newPage();
  const email = `kim-${run}@example.com`;
  await page.goto(`${base}/signup`);
  await page.fill('#name', 'Kim Browser');
  await page.fill('#email', email);
  await page.fill('#password', 'short');
  await page.click('#submit');
  await page.waitForSelector('#form-error:not([hidden])');
  assert((await page.textContent('#form-error')).includes('8 to 128'), 'a short password is refused before sending');
  await page.fill('#password', 'browser-pass-1');
  await shot(page, 'signup');
  await Promise.all([page.waitForURL(`${base}/`), page.click('#submit')]);
  assert((await page.textContent('#nav-user')).trim() === 'Kim Browser', 'signed in after sign-up');
  await fitsPhone(page);
  await shot(page, 'home-signed-in');

  await Promise.all([page.waitForURL(`${base}/`), page.click('#nav-logout')]);
  assert(await page.isVisible('#nav-login'), 'logged out: the log-in link is back');

  await page.goto(`${base}/login`);
  await page.fill('#email', `nobody-${run}@example.com`);
  await page.fill('#password', 'whatever-1');
  await page.click('#submit');
  await page.waitForSelector('#form-error:not([hidden])');
  const unknown = await page.textContent('#form-error');
  assert(unknown.includes('There is no account with that email.'), `unknown account message: ${unknown}`);
  assert((await page.getAttribute('#error-link', 'href')).startsWith('/signup'), 'offers to sign up');
  await shot(page, 'login-unknown-account');

  await page.fill('#email', email);
  await page.fill('#password', 'wrong-pass-1');
  await page.click('#submit');
  await page.waitForFunction(() => document.querySelector('#form-error').textContent.includes('password is wrong'));

  await page.fill('#password', 'browser-pass-1');
  await Promise.all([page.waitForURL(`${base}/`), page.click('#submit')]);
  assert((await page.textContent('#nav-user')).trim() === 'Kim Browser', 'logged in again');
  return context;
});

test('buy from a stock sale: hold, the timer runs, confirm, see it on my page; cancel a hold there', async (browser) => {
  const sale = await stockSale(`Browser festival pass ${run}`);
  const context = await newContext(browser);
  await signUpApi(context, 'Lee');
  const page = await context.newPage();
  await page.goto(`${base}/sales/${sale.id}`);
  assert((await page.textContent('#price')).includes('₩55,000'), 'price in won, no decimals');
  assert((await page.textContent('#stock-available')).trim() === '20', 'stock shown');
  await page.click('#qty-plus');
  assert((await page.textContent('#subtotal')).includes('₩110,000'), 'subtotal for 2');
  await page.click('#hold-button');
  await page.waitForSelector('#hold-panel:not([hidden])');
  const t1 = (await page.textContent('#hold-timer')).trim();
  assert(/^[45]:\d\d$/.test(t1), `hold timer shows minutes:seconds, got ${t1}`);
  await page.waitForFunction((first) => document.querySelector('#hold-timer').textContent.trim() !== first, t1, { timeout: 3000 });
  await page.waitForFunction(() => document.querySelector('#stock-available').textContent.trim() === '18', null, { timeout: 5000 });
  await fitsPhone(page);
  await shot(page, 'stock-hold');

  await page.click('#confirm-button');
  await page.waitForSelector('#order-panel:not([hidden])');
  const order = await page.textContent('#order-text');
  assert(/Order [2-9A-HJ-NP-Z]{3}-[2-9A-HJ-NP-Z]{4} confirmed: 2 for ₩110,000/.test(order), `order text: ${order}`);
  await shot(page, 'stock-confirmed');

  // A second hold, cancelled from my page.
  await page.click('#buy-again');
  await page.click('#hold-button');
  await page.waitForSelector('#hold-panel:not([hidden])');
  await page.goto(`${base}/me`);
  assert((await page.textContent('#my-orders')).includes(`Browser festival pass ${run}`), 'the order is on my page');
  assert((await page.textContent('#my-orders')).includes('Paid'), 'the order is paid');
  const holdRow = page.locator('#my-holds li.row');
  assert((await holdRow.count()) === 1, 'one hold waiting');
  await page.waitForFunction(() => /^\d+:\d\d$/.test(document.querySelector('#my-holds [data-countdown-us]').textContent.trim()));
  await fitsPhone(page);
  await shot(page, 'me');
  await Promise.all([page.waitForNavigation(), holdRow.locator('button[data-action="cancel"]').click()]);
  await page.waitForSelector('#me-message:not([hidden])');
  assert((await page.textContent('#me-message')).includes('cancelled'), 'cancel confirmed by a message');
  assert((await page.locator('#my-holds li.row').count()) === 0, 'no hold left');
  return context;
});

test('a sold-out stock sale says so and cannot be held', async (browser) => {
  const sale = await stockSale(`Browser tiny sale ${run}`, { stock: 1, order_quantity_max: 1 });
  const buyer = await apiCall('POST', '/api/admin/users/bulk', { count: 1, name_prefix: 'soldout' });
  await apiCall('POST', `/api/sales/${sale.id}/holds`, { quantity: 1 }, buyer.users[0].token);
  const context = await newContext(browser);
  await signUpApi(context, 'Park');
  const page = await context.newPage();
  await page.goto(`${base}/sales/${sale.id}`);
  await page.waitForSelector('#stock-message:not([hidden])');
  assert((await page.textContent('#stock-message')).includes('Sold out'), 'sold-out message');
  assert(await page.isDisabled('#hold-button'), 'hold button disabled');
  return context;
});

test('click a drop: countdown on the server clock, then the rank and milliseconds, and the leaderboard', async (browser) => {
  const context = await newContext(browser);
  await signUpApi(context, 'Choi');
  const sale = await dropSale(`Browser drop ${run}`, 8000);
  const page = await context.newPage();
  await page.goto(`${base}/sales/${sale.id}`);
  await page.waitForFunction(() => document.querySelector('#countdown-label').textContent.includes('Opens in'));
  assert(/^\d\d:\d\d:\d\d\.\d$/.test((await page.textContent('#countdown-value')).trim()), 'countdown with tenths');
  assert(await page.isDisabled('#drop-button'), 'the button waits for the opening');
  await page.waitForFunction(() => document.querySelector('#clock-note').textContent.includes('ms'));
  assert((await page.getAttribute('#clock-note', 'data-via')) === 'ws', 'the clock is measured over the WebSocket');
  await fitsPhone(page);
  await shot(page, 'drop-countdown');
  await page.waitForSelector('#drop-button:not([disabled])', { timeout: 15000 });
  await page.click('#drop-button');
  await page.waitForSelector('#click-result:not([hidden])');
  const rank = await page.textContent('#click-rank');
  assert(rank.includes('#1'), `first clicker ranks #1: ${rank}`);
  assert(/\d+\.\d{3} ms after opening/.test(await page.textContent('#click-ms')), 'milliseconds after opening');
  assert((await page.textContent('#click-outcome')).includes('You won'), 'rank 1 of 3 wins');
  await page.waitForSelector('#leaderboard-body tr.me', { timeout: 5000 });
  assert((await page.textContent('#leaderboard-body tr.me')).includes('Winner'), 'my row in the leaderboard');
  await shot(page, 'drop-result');
  return context;
});

test('seat map: whole venue, zoom into a section, select two adjacent seats, hold, confirm, see them on my page', async (browser) => {
  const sale = await seatedSale(`Browser concert ${run}`);
  const venue = await apiCall('GET', `/api/sales/${sale.id}/venue`);
  const row = venue.sections[0].rows[0];
  const [a, b] = [row.first_seat + 3, row.first_seat + 4];
  const context = await newContext(browser);
  await signUpApi(context, 'Seo');
  const page = await context.newPage();
  await openSeatMap(page, sale.id);
  assert((await page.locator('#seatmap g.section').count()) === 2, 'two sections drawn');
  assert((await page.locator('#seatmap circle').count()) === 0, 'no seat is drawn before zooming in');
  const legend = await page.textContent('#seat-legend');
  assert(legend.includes('VIP') && legend.includes('₩150,000') && legend.includes('R') && legend.includes('₩90,000'), `legend: ${legend}`);
  await fitsPhone(page);
  await shot(page, 'seats-venue');

  await page.click('#seatmap g.section[data-section="0"]');
  await page.waitForSelector(`#seatmap circle[data-seat="${a}"][data-state="free"]`);
  assert((await page.locator('#seatmap circle').count()) === 40, 'only the zoomed section\'s seats are drawn');
  // Measured inside the page in one step: the map may redraw a seat between a
  // lookup and a measurement (a live update), leaving a detached element.
  const width = await page.waitForFunction((sel) => {
    const el = document.querySelector(sel);
    const w = el ? el.getBoundingClientRect().width : 0;
    return w > 0 ? w : null;
  }, `#seatmap circle[data-seat="${a}"]`).then((h) => h.jsonValue());
  assert(width >= 20, `seats are tappable when zoomed: ${width}px`);
  assert(await page.isVisible('#seat-legend'), 'the price legend stays while choosing');
  await page.click(`#seatmap circle[data-seat="${a}"]`);
  await page.click(`#seatmap circle[data-seat="${b}"]`);
  assert((await page.getAttribute(`#seatmap circle[data-seat="${b}"]`, 'data-state')) === 'selected', 'selected');
  const selection = await page.textContent('#selection-text');
  assert(selection.includes('Floor A-4, Floor A-5') && selection.includes('₩300,000'), `selection: ${selection}`);
  await fitsPhone(page);
  await shot(page, 'seats-selected');

  await page.click('#hold-seats');
  await page.waitForSelector('#seat-hold-panel:not([hidden])');
  assert((await page.textContent('#seat-hold-text')).includes('Floor A-4, Floor A-5'), 'the hold names the seats');
  assert(/^[45]:\d\d$/.test((await page.textContent('#seat-hold-timer')).trim()), 'hold timer');
  assert((await page.getAttribute(`#seatmap circle[data-seat="${a}"]`, 'data-state')) === 'mine', 'held seats are mine');
  await shot(page, 'seats-hold');
  await page.click('#seat-confirm');
  await page.waitForSelector('#seat-order-panel:not([hidden])');
  const order = await page.textContent('#seat-order-text');
  assert(/Order [2-9A-HJ-NP-Z]{3}-[2-9A-HJ-NP-Z]{4} confirmed: Floor A-4, Floor A-5 for ₩300,000/.test(order), `order text: ${order}`);
  assert((await page.getAttribute(`#seatmap circle[data-seat="${b}"]`, 'data-state')) === 'mine', 'bought seats stay marked as mine');
  await shot(page, 'seats-confirmed');

  await page.goto(`${base}/me`);
  const mine = await page.textContent('#my-seats');
  assert(mine.includes(`Browser concert ${run}`) && mine.includes('Floor A-4, Floor A-5'), `my seats: ${mine}`);
  assert(mine.includes('Paid'), 'the seats are paid');
  return context;
});

test('seat map: two people on one sale see each other\'s holds within a second; best available; a taken seat is refused', async (browser) => {
  const sale = await seatedSale(`Browser live seats ${run}`);
  const venue = await apiCall('GET', `/api/sales/${sale.id}/venue`);
  const row = venue.sections[1].rows[1];
  const seats = [row.first_seat + 4, row.first_seat + 5];
  const one = await newContext(browser);
  await signUpApi(one, 'Han');
  const two = await newContext(browser, 'ko-KR');
  await signUpApi(two, 'Yoon');
  const p1 = await one.newPage();
  const p2 = await two.newPage();
  await openSeatMap(p1, sale.id);
  await openSeatMap(p2, sale.id);
  await p1.click('#seatmap g.section[data-section="1"]');
  await p2.click('#seatmap g.section[data-section="1"]');
  for (const id of seats) await p2.waitForSelector(`#seatmap circle[data-seat="${id}"][data-state="free"]`);
  // The second person chooses one of the seats too, before the first holds them.
  await p2.click(`#seatmap circle[data-seat="${seats[1]}"]`);

  for (const id of seats) await p1.click(`#seatmap circle[data-seat="${id}"]`);
  const [res] = await Promise.all([
    p1.waitForResponse((r) => r.url().endsWith(`/api/sales/${sale.id}/seats/holds`) && r.request().method() === 'POST'),
    p1.click('#hold-seats'),
  ]);
  assert(res.status() === 201, `hold answered ${res.status()}`);
  const seen = Date.now();
  // Awaited with room to spare on a loaded machine; the latency is printed as
  // a measurement (live.mjs shows separately that the page does not poll).
  for (const id of seats) await p2.waitForSelector(`#seatmap circle[data-seat="${id}"][data-state="taken"]`, { timeout: 10000 });
  console.log(`     the other browser saw the hold after ${Date.now() - seen} ms`);
  await p2.waitForSelector('#seat-message:not([hidden])');
  assert((await p2.textContent('#seat-message')).includes('방금 다른 분이'), 'a chosen seat taken by someone else is said so');
  await fitsPhone(p2);
  await shot(p2, 'seats-taken-by-other-ko');

  // Clicking a taken seat does nothing but say so; a stale choice is refused by the server with the seats named.
  await p2.click(`#seatmap circle[data-seat="${seats[0]}"]`);
  assert((await p2.getAttribute(`#seatmap circle[data-seat="${seats[0]}"]`, 'data-state')) === 'taken', 'taken stays taken');
  const refused = await p2.evaluate(async ([saleId, id]) => {
    const r = await fetch(`/api/sales/${saleId}/seats/holds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': document.querySelector('meta[name="csrf-token"]').content },
      body: JSON.stringify({ seats: [id] }),
    });
    return { status: r.status, body: await r.json() };
  }, [sale.id, seats[0]]);
  assert(refused.status === 409 && refused.body.type === '/problems/seats-taken' && refused.body.seats.includes(seats[0]), `refusal: ${JSON.stringify(refused)}`);

  // Best available for two in the zoomed section.
  await p2.selectOption('#best-count', '2');
  await p2.click('#best-button');
  await p2.waitForSelector('#seat-hold-panel:not([hidden])');
  assert((await p2.locator('#seatmap circle[data-state="mine"]').count()) === 2, 'best available held two seats');
  assert((await p2.textContent('#seat-hold-text')).includes('Balcony'), 'in the zoomed section');
  await shot(p2, 'seats-best-available-ko');
  await p2.click('#seat-cancel');
  await p2.waitForSelector('#seat-choose:not([hidden])');
  return one;
});

test('seat map: a seat someone else just took is refused and marked taken at once, with a human message', async (browser) => {
  const sale = await seatedSale(`Browser race ${run}`);
  const venue = await apiCall('GET', `/api/sales/${sale.id}/venue`);
  const id = venue.sections[0].rows[2].first_seat + 2;
  const context = await newContext(browser);
  await signUpApi(context, 'Jang');
  const page = await context.newPage();
  // The map's live feed (the page's live socket) is held back, so the page cannot know the seat went.
  let frozen = false;
  await page.routeWebSocket(/\/live\/ws(\?|$)/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((m) => {
      if (!frozen) ws.send(m);
    });
  });
  await openSeatMap(page, sale.id);
  await page.click('#seatmap g.section[data-section="0"]');
  await page.click(`#seatmap circle[data-seat="${id}"]`);
  frozen = true;
  const other = await apiCall('POST', '/api/admin/users/bulk', { count: 1, name_prefix: 'fast' });
  await apiCall('POST', `/api/sales/${sale.id}/seats/holds`, { seats: [id] }, other.users[0].token);
  assert((await page.getAttribute(`#seatmap circle[data-seat="${id}"]`, 'data-state')) === 'selected', 'still looks free here');
  await page.click('#hold-seats');
  await page.waitForSelector(`#seatmap circle[data-seat="${id}"][data-state="taken"]`, { timeout: 10000 });
  const text = await page.textContent('#seat-message');
  assert(text.includes('Just taken by someone else') && text.includes('Floor C-3'), `message: ${text}`);
  assert(await page.isDisabled('#hold-seats'), 'nothing left selected');
  await shot(page, 'seats-just-taken');
  return context;
});

test('seat map: a 50,000-seat stadium draws with a small DOM, whole and zoomed', async (browser) => {
  const sections = [];
  for (let i = 0; i < 40; i++) {
    sections.push({
      name: `S${i + 1}`, tier: i < 8 ? 'VIP' : i < 24 ? 'R' : 'S', price: i < 8 ? 200000 : i < 24 ? 120000 : 70000,
      colour: i < 8 ? '#cc3333' : i < 24 ? '#3366cc' : '#339966', rows: 25, seats_per_row: 50,
      x: (i % 8) * 560, y: Math.floor(i / 8) * 300, curve_degrees: 0, spacing: 10,
    });
  }
  const sale = await apiCall('POST', '/api/sales', {
    kind: 'seated', title: `Browser stadium ${run}`, currency: 'KRW',
    seated: { generate: { name: 'Stadium', sections }, per_person_limit: 4, seats_per_hold_max: 4, hold_seconds: 300 },
    opens_at: null,
  });
  await apiCall('POST', `/api/sales/${sale.id}/open`);
  const context = await newContext(browser);
  const page = await context.newPage();
  const started = Date.now();
  await openSeatMap(page, sale.id);
  const drawnMs = Date.now() - started;
  const whole = await page.evaluate(() => document.querySelectorAll('*').length);
  assert(whole < 600, `the whole venue is ${whole} elements`);
  await fitsPhone(page);
  await shot(page, 'seats-stadium');
  await page.click('#seatmap g.section[data-section="9"]');
  await page.waitForSelector('#seatmap circle[data-state="free"]');
  const zoomed = await page.evaluate(() => document.querySelectorAll('*').length);
  assert(zoomed < 4000, `a zoomed section is ${zoomed} elements`);
  await fitsPhone(page);
  console.log(`     50,000 seats: drawn and live in ${drawnMs} ms; ${whole} elements whole, ${zoomed} zoomed`);
  return context;
});

test('waiting room: join with a proof of work, see the line live, be admitted, then hold with the pass; closing shows at once', async (browser) => {
  const sale = await stockSale(`Browser queued pass ${run}`, {
    waiting_room: { policy: 'active', active_max: 1000, pass_seconds: 300, pow_bits: 8 },
  });
  const context = await newContext(browser);
  await signUpApi(context, 'Baek');
  const page = await context.newPage();
  await page.goto(`${base}/sales/${sale.id}`);
  await page.waitForFunction(() => document.querySelector('#queue-joined').textContent.trim() === '0');
  assert(await page.isHidden('#hold-form'), 'no buying before admission');
  await fitsPhone(page);
  await shot(page, 'queue-before-join');
  await page.click('#queue-join');
  await page.waitForSelector('#queue-admitted:not([hidden])', { timeout: 15000 });
  const state = await page.textContent('#queue-state');
  assert(state.includes('your turn'), `the line says it is my turn, not "${state}"`);
  assert(/^\d+:\d\d$/.test((await page.textContent('#queue-pass-timer')).trim()), 'the pass timer runs');
  await page.waitForSelector('#hold-form:not([hidden])');
  await fitsPhone(page);
  await shot(page, 'queue-admitted');
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/api/sales/${sale.id}/holds`) && r.request().method() === 'POST'),
    page.click('#hold-button'),
  ]);
  assert(res.status() === 201, `hold answered ${res.status()}`);
  assert((res.request().headers()['stampede-pass'] || '').startsWith('v1.'), 'the hold carried the pass');
  await page.waitForSelector('#hold-panel:not([hidden])');
  await shot(page, 'queue-hold');

  // A reload keeps the place and the pass.
  await page.reload();
  await page.waitForSelector('#queue-admitted:not([hidden])');
  assert(await page.isHidden('#queue-join-box'), 'joined already: no second join');
  await apiCall('POST', `/api/sales/${sale.id}/close`);
  const closedAt = Date.now();
  await page.waitForFunction(() => document.querySelector('#queue-notice').textContent.includes('closed'), null, { timeout: 10000 });
  console.log(`     the waiting page showed the closing after ${Date.now() - closedAt} ms`);
  // Closed: the line's words and the pass's invitation go (nobody's turn
  // comes any more); the hold taken with the pass can still be paid.
  assert(await page.isHidden('#queue-admitted'), 'after the close the pass box still says "buy below"');
  assert(await page.isHidden('#queue-state'), `after the close the line still says: ${await page.textContent('#queue-state')}`);
  assert(await page.isVisible('#queue-notice'), 'the closing is not shown');
  await shot(page, 'queue-closed');
  // Closed: the page links the public log and says in plain words what it proves.
  await page.reload();
  await page.waitForSelector('#public-log-link');
  const href = await page.getAttribute('#public-log-link', 'href');
  assert(href === `/api/sales/${sale.id}/log`, `the log link: ${href}`);
  const proves = await page.textContent('#public-log');
  assert(proves.includes('replay the whole sale') && proves.includes('signed receipt'), `what the log proves: ${proves}`);
  const download = await context.request.get(`${base}${href}`);
  assert(download.status() === 200, `the link downloads the log: ${download.status()}`);
  assert((await download.text()).startsWith('{"format":"stampede-public-log"'), 'the download is the public log');
  await shot(page, 'queue-closed-log');
  return context;
});

test('waiting room: with people ahead, the position, people ahead and ETA count down live until admission', async (browser) => {
  const sale = await stockSale(`Browser long line ${run}`, {
    waiting_room: { policy: 'chunk', chunk_size: 1, chunk_seconds: 1.5, pass_seconds: 300, pow_bits: 0, places_per_address: 1000 },
  });
  const ahead = await apiCall('POST', '/api/admin/users/bulk', { count: 3, name_prefix: 'ahead' });
  for (const u of ahead.users) await apiCall('POST', `/api/sales/${sale.id}/queue/join`, { nonce: 0 }, u.token);
  const context = await newContext(browser, 'ko-KR');
  await signUpApi(context, 'Lim');
  const page = await context.newPage();
  await page.goto(`${base}/sales/${sale.id}`);
  await page.waitForFunction(() => document.querySelector('#queue-joined').textContent.trim() === '3');
  await page.click('#queue-join');
  await page.waitForSelector('#queue-mine:not([hidden])');
  await page.waitForFunction(() => Number(document.querySelector('#queue-ahead').textContent) >= 1);
  const eta = (await page.textContent('#queue-eta')).trim();
  assert(/^\d+:\d\d$/.test(eta), `an ETA: ${eta}`);
  assert((await page.textContent('#queue-state')).includes('줄을 서 있습니다'), 'in line, in Korean');
  await fitsPhone(page);
  await shot(page, 'queue-waiting-ko');
  await page.waitForSelector('#queue-admitted:not([hidden])', { timeout: 10000 });
  await page.waitForSelector('#hold-form:not([hidden])');
  return context;
});

test('ko/en switch changes the texts and is remembered across a reload; Accept-Language decides first', async (browser) => {
  const context = await newContext(browser, 'en-US');
  const page = await context.newPage();
  await page.goto(`${base}/`);
  assert((await page.textContent('h1')).trim() === 'Sales', 'English by Accept-Language');
  assert((await page.textContent('#nav-login')).trim() === 'Log in', 'English nav');
  await Promise.all([page.waitForNavigation(), page.click('#lang-ko')]);
  assert((await page.getAttribute('html', 'lang')) === 'ko', 'html lang=ko');
  assert((await page.textContent('h1')).trim() === '판매', 'Korean heading');
  assert((await page.textContent('#nav-login')).trim() === '로그인', 'Korean nav');
  await page.reload();
  assert((await page.textContent('h1')).trim() === '판매', 'Korean remembered across a reload');
  await fitsPhone(page);
  await shot(page, 'home-ko');
  await page.goto(`${base}/login`);
  await page.fill('#email', `nobody-${run}@example.com`);
  await page.fill('#password', 'whatever-1');
  await page.click('#submit');
  await page.waitForSelector('#form-error:not([hidden])');
  assert((await page.textContent('#form-error')).includes('가입된 계정이 없습니다'), 'Korean error message');
  await shot(page, 'login-ko');
  await Promise.all([page.waitForNavigation(), page.click('#lang-en')]);
  assert((await page.textContent('h1')).trim() === 'Log in', 'back to English on the same page');
  await shot(page, 'login-en');

  const korean = await newContext(browser, 'ko-KR');
  const kpage = await korean.newPage();
  await kpage.goto(`${base}/`);
  assert((await kpage.textContent('h1')).trim() === '판매', 'Korean by Accept-Language');
  return context;
});

test('an organizer creates a seated sale with two sections, opens it from the dashboard, and buyers see both sections', async (browser) => {
  const context = await newContext(browser);
  await signUpApi(context, 'Organizer');
  const me = await (await context.request.get(`${base}/api/me`)).json();
  await apiCall('PUT', `/api/admin/users/${me.id}/role`, { role: 'organizer' });
  const page = await context.newPage();
  await page.goto(`${base}/organizer`);
  assert(await page.isVisible('#nav-organizer'), 'organizers see the organizer link');
  assert((await page.getAttribute('#org-role', 'data-role')) === 'organizer', 'the page knows the role');
  await Promise.all([page.waitForURL(`${base}/organizer/new`), page.click('#new-sale')]);
  await page.check('#kind-seated');
  await page.waitForSelector('#seated-fields:not([hidden])');
  await page.fill('#f-title', `Browser organizer hall ${run}`);
  await page.fill('#f-venue', 'Organizer Hall');
  const first = page.locator('.section-spec').nth(0);
  await first.locator('.s-rows').fill('4');
  await first.locator('.s-seats').fill('8');
  await page.click('#add-section');
  const second = page.locator('.section-spec').nth(1);
  await second.locator('.s-name').fill('Balcony');
  await second.locator('.s-rows').fill('3');
  await second.locator('.s-seats').fill('10');
  await second.locator('.s-curve').fill('60');
  await page.waitForFunction(() => document.querySelectorAll('#venue-preview g.preview-section').length === 2);
  assert((await page.locator('#venue-preview g.preview-section[data-section="0"] circle').count()) === 32, 'Floor: 4 rows of 8 in the preview');
  assert((await page.locator('#venue-preview g.preview-section[data-section="1"] circle').count()) === 30, 'Balcony: 3 rows of 10 in the preview');
  assert((await page.textContent('#preview-text')).includes('62 seats'), 'the preview counts the seats');
  // Too many seats in a row: the API's problem is shown inline, with its detail.
  await second.locator('.s-seats').fill('1200');
  await page.click('#create-sale');
  await page.waitForSelector('#form-error:not([hidden])');
  const err = await page.textContent('#form-error');
  assert(err.includes('1000 seats per row'), `the API's detail inline: ${err}`);
  await second.locator('.s-seats').fill('10');
  await fitsPhone(page);
  await shot(page, 'organizer-new-seated');
  const previewSeats = await page.evaluate(() => [...document.querySelectorAll('#venue-preview circle')].map((c) => [Number(c.getAttribute('cx')), Number(c.getAttribute('cy'))]));

  // (A full-page screenshot leaves the page mid-scroll, so the button is pressed from the keyboard.)
  await page.focus('#create-sale');
  await Promise.all([page.waitForURL(/\/organizer\/sales\/\d+$/), page.keyboard.press('Enter')]);
  const saleId = Number(page.url().split('/').pop());
  await page.waitForFunction(() => document.querySelector('#dash-available').textContent.trim() === '62');
  assert((await page.textContent('#dash-status')).trim() === 'Opening soon', 'created, not open');
  await page.click('#open-sale');
  await page.waitForFunction(() => document.querySelector('#dash-status').textContent.trim() === 'Open');
  assert(await page.isDisabled('#open-sale'), 'open once');
  const buyer = await apiCall('POST', '/api/admin/users/bulk', { count: 1, name_prefix: 'orgbuyer' });
  const hold = await apiCall('POST', `/api/sales/${saleId}/seats/holds`, { best: { count: 2, section: 0 } }, buyer.users[0].token);
  await grant(buyer.users[0].id);
  await pay(saleId, hold.id, buyer.users[0].token);
  await page.waitForFunction(() => document.querySelector('#dash-sold').textContent.trim() === '2', null, { timeout: 3000 });
  await page.waitForFunction(() => document.querySelector('#dash-revenue').textContent.includes('300,000'), null, { timeout: 8000 });
  await fitsPhone(page);
  await shot(page, 'organizer-dashboard');

  await page.goto(`${base}/organizer`);
  assert((await page.textContent('#org-sales')).includes(`Browser organizer hall ${run}`), 'the sale is listed');
  await fitsPhone(page);
  await shot(page, 'organizer-sales');

  // The preview drew every seat where the server's generator put it.
  const venue = await apiCall('GET', `/api/sales/${saleId}/venue`);
  const served = venue.sections.flatMap((sec) => sec.rows.flatMap((r) => r.seats.map(([, x, y]) => [x, y])));
  assert(JSON.stringify(served) === JSON.stringify(previewSeats), `preview ${JSON.stringify(previewSeats.slice(0, 4))} vs server ${JSON.stringify(served.slice(0, 4))}`);
  await openSeatMap(page, saleId);
  assert((await page.locator('#seatmap g.section').count()) === 2, 'the sale page shows two sections');
  const legend = await page.textContent('#seat-legend');
  assert(legend.includes('VIP') && legend.includes('₩150,000') && legend.includes('₩90,000'), `legend: ${legend}`);
  await shot(page, 'organizer-sale-seatmap');

  const other = await newContext(browser);
  await signUpApi(other, 'Participant');
  const p2 = await other.newPage();
  const res = await p2.goto(`${base}/organizer`);
  assert(res.status() === 403, `participants get a 403 page: ${res.status()}`);
  assert((await p2.textContent('h1')).includes('For organizers only'), 'a human 403 page');
  const res2 = await p2.goto(`${base}/organizer/sales/${saleId}`);
  assert(res2.status() === 403, 'not their dashboard');
  return context;
});

test('a drop dashboard draws the click-time histogram and the winners once closed', async (browser) => {
  const context = await newContext(browser);
  await signUpApi(context, 'Dropper');
  const me = await (await context.request.get(`${base}/api/me`)).json();
  await apiCall('PUT', `/api/admin/users/${me.id}/role`, { role: 'organizer' });
  const page = await context.newPage();
  await page.goto(`${base}/organizer/new`);
  await page.check('#kind-drop');
  await page.fill('#f-title', `Browser organizer drop ${run}`);
  await page.fill('#f-winners', '2');
  await Promise.all([page.waitForURL(/\/organizer\/sales\/\d+$/), page.click('#create-sale')]);
  const saleId = Number(page.url().split('/').pop());
  await page.click('#open-sale');
  await page.waitForFunction(() => document.querySelector('#dash-status').textContent.trim() === 'Open');
  const clickers = await apiCall('POST', '/api/admin/users/bulk', { count: 4, name_prefix: 'clicker' });
  for (const u of clickers.users) await apiCall('POST', `/api/sales/${saleId}/clicks`, undefined, u.token);
  await page.waitForSelector('#histogram rect.bar.won', { timeout: 5000 });
  assert((await page.textContent('#dash-clicks')).trim() === '4', 'clicks counted');
  page.once('dialog', (d) => d.accept());
  await page.click('#close-sale');
  await page.waitForSelector('#results-panel:not([hidden])', { timeout: 5000 });
  assert((await page.locator('#results-body tr').count()) === 2, 'two winners listed');
  await fitsPhone(page);
  await shot(page, 'organizer-drop-dashboard');
  return context;
});

test('friends: a request by e-mail, accepted on my page; a seat held for the friend shows on their page', async (browser) => {
  const one = await newContext(browser);
  const emailA = await signUpApi(one, 'Ahn');
  const two = await newContext(browser);
  await signUpApi(two, 'Bae');
  const bae = await (await two.request.get(`${base}/api/me`)).json();
  const pb = await two.newPage();
  await pb.goto(`${base}/me`);
  await pb.waitForSelector('#friends-list li.empty');
  await pb.fill('#friend-email', `nobody-${run}@example.com`);
  await pb.click('#friend-add');
  await pb.waitForFunction(() => document.querySelector('#friends-message').textContent.includes('no account'));
  await pb.fill('#friend-email', emailA);
  await pb.click('#friend-add');
  await pb.waitForFunction(() => document.querySelector('#friends-message').textContent.includes('Request sent to Ahn'));
  assert((await pb.textContent('#friends-outgoing')).includes('Ahn'), 'my request is listed');

  const pa = await one.newPage();
  await pa.goto(`${base}/me`);
  await pa.waitForSelector('#friends-incoming li[data-user] button[data-friend-action="accept"]');
  assert((await pa.textContent('#friends-incoming')).includes('Bae'), 'the request to me is listed');
  await fitsPhone(pa);
  await shot(pa, 'me-friend-request');
  await pa.click('#friends-incoming button[data-friend-action="accept"]');
  await pa.waitForSelector('#friends-list li[data-user]');
  assert((await pa.textContent('#friends-list')).includes('Bae'), 'friends now');
  assert((await pa.locator('#friends-incoming li[data-user]').count()) === 0, 'no request left');
  await shot(pa, 'me-friends');

  const sale = await seatedSale(`Browser friends concert ${run}`);
  const venue = await apiCall('GET', `/api/sales/${sale.id}/venue`);
  const row = venue.sections[0].rows[1];
  const [a, b] = [row.first_seat + 2, row.first_seat + 3];
  await openSeatMap(pa, sale.id);
  await pa.click('#seatmap g.section[data-section="0"]');
  await pa.waitForSelector(`#seatmap circle[data-seat="${a}"][data-state="free"]`);
  await pa.click(`#seatmap circle[data-seat="${a}"]`);
  await pa.click(`#seatmap circle[data-seat="${b}"]`);
  await pa.waitForSelector('#seat-holders:not([hidden])');
  assert((await pa.locator('#seat-holders select').count()) === 2, 'one select per seat');
  await pa.selectOption(`#seat-holders select[data-holder-for="${b}"]`, String(bae.id));
  await fitsPhone(pa);
  await shot(pa, 'seats-for-friend');
  const [res] = await Promise.all([
    pa.waitForResponse((r) => r.url().endsWith(`/api/sales/${sale.id}/seats/holds`) && r.request().method() === 'POST'),
    pa.click('#hold-seats'),
  ]);
  assert(res.status() === 201, `hold answered ${res.status()}`);
  const sent = JSON.parse(res.request().postData());
  assert(JSON.stringify(sent.holders) === JSON.stringify([Number(await pa.getAttribute('meta[name="user-id"]', 'content')), bae.id]), `holders: ${JSON.stringify(sent)}`);
  await pa.waitForSelector('#seat-hold-panel:not([hidden])');
  assert((await pa.textContent('#seat-hold-text')).includes('Floor B-4 for Bae'), 'the hold says whose seat');
  await pa.click('#seat-confirm');
  await pa.waitForSelector('#seat-order-panel:not([hidden])');

  await pb.goto(`${base}/me`);
  const seats = await pb.textContent('#my-seats');
  assert(seats.includes(`Browser friends concert ${run}`) && seats.includes('Floor B-4'), `the friend's page shows the seat: ${seats}`);
  assert((await pb.textContent('#my-seats .for-me')).includes('Floor B-4'), 'the friend sees which seat is theirs');
  await fitsPhone(pb);
  await shot(pb, 'me-friend-seat');
  return one;
});

test('an unknown sale is a human 404 page', async (browser) => {
  const context = await newContext(browser);
  const page = await context.newPage();
  const res = await page.goto(`${base}/sales/987654321`);
  assert(res.status() === 404, `status ${res.status()}`);
  assert((await page.textContent('h1')).includes('Page not found'), 'a page, not JSON');
  await shot(page, 'not-found');
  return context;
});

// Every file in specs/ registers its tests when imported, in name order.
for (const file of readdirSync(path.join(here, 'specs')).filter((f) => f.endsWith('.mjs')).sort()) {
  await import(`./specs/${file}`);
}

const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
let passed = 0;
let failed = 0;
// A filter that selects nothing, or a run that ends having run fewer tests
// than it selected, is a failure: a green run must mean the tests ran.
const selected = tests.filter(({ name }) => !only || name.includes(only));
try {
  if (!admin) throw new Error('set STAMPEDE_ADMIN_TOKEN to the server\'s operator token (the tests make their own sales)');
  if (selected.length === 0) throw new Error(`ONLY=${JSON.stringify(only)} matches none of the ${tests.length} tests`);
  await apiCall('GET', '/readyz');
  for (const { name, fn } of selected) {
    const started = Date.now();
    opened.length = 0;
    try {
      await fn(browser);
      const problems = opened.flatMap((c) => c.problems);
      if (problems.length) throw new Error(problems.join('\n'));
      passed++;
      console.log(`ok   ${name} (${Date.now() - started} ms)`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}\n     ${String(e?.stack || e).split('\n').join('\n     ')}`);
    } finally {
      for (const c of opened) await c.close().catch(() => {});
    }
  }
} catch (e) {
  failed++;
  console.log(`FAIL setup: ${e?.message || e}`);
} finally {
  await browser.close();
}
console.log(`screenshots: ${shots}`);
if (passed + failed < selected.length) {
  console.log(`FAIL run: ${selected.length} tests selected, ${passed + failed} ran`);
  failed++;
}
console.log(`${passed} passed, ${failed} failed (${selected.length} selected of ${tests.length})`);
process.exit(failed ? 1 : 0);
