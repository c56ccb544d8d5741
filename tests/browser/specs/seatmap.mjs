// seatmap.mjs: the seat map and the seat orders on my page. Your own hold
// is never reported as taken by someone else, even when the live update
// about it arrives before the hold's answer; a lost delta is caught by its
// seq and mended with a new snapshot over the same socket; seats are reachable and
// choosable by keyboard; the zoomed map on a phone shows its row labels;
// your seats look different from free ones of any tier; on my page a seat
// order can be refunded, one seat given back, and one seat swapped.
import path from 'node:path';
import {
  apiCall, assert, base, fitsPhone, newContext, openSeatMap, run, seatedSale, shot, shots, signUpApi, test,
} from '../lib.mjs';

/** A screenshot of one element: the sticky header covers part of a full-page one. */
async function shotOf(page, selector, name) {
  await page.locator(selector).screenshot({ path: path.join(shots, `${name}.png`) });
}

/**
 * Proxies the page's live socket and resolves `until(ids)` once a seat-map
 * delta naming every id as taken has been handed to the page.
 */
async function watchDeltas(page) {
  const waiters = [];
  await page.routeWebSocket(/\/live\/ws(\?|$)/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((m) => {
      ws.send(m);
      let msg;
      try {
        msg = JSON.parse(m);
      } catch {
        return;
      }
      for (const w of waiters) if (msg.type === 'seats' && msg.form === 'delta' && w.ids.every((id) => (msg.taken || []).includes(id))) w.done();
    });
  });
  return {
    until: (ids) => new Promise((done) => waiters.push({ ids, done })),
  };
}

// The same race through "best available" after choosing on the map the very
// seats it will pick (learnt from a twin sale: the pick is deterministic).
for (const [locale, lang, how] of [['en-US', 'en', 'chosen'], ['ko-KR', 'ko', 'chosen'], ['en-US', 'en', 'best']]) {
  test(`seat map (${lang}, ${how}): the live update about my own hold arriving before its answer never says "taken by someone else"`, async (browser) => {
    const sale = await seatedSale(`Browser own hold ${lang} ${how} ${run}`);
    const venue = await apiCall('GET', `/api/sales/${sale.id}/venue`);
    const row = venue.sections[1].rows[3];
    let seats = [row.first_seat + 6, row.first_seat + 7];
    if (how === 'best') {
      const twin = await seatedSale(`Browser own hold twin ${run}`);
      const probe = await apiCall('POST', '/api/admin/users/bulk', { count: 1, name_prefix: 'probe' });
      const picked = await apiCall('POST', `/api/sales/${twin.id}/seats/holds`, { best: { count: 2, section: 1 } }, probe.users[0].token);
      seats = picked.seats.map((x) => x.id);
    }
    const names = seats.map((id) => {
      const r = venue.sections[1].rows.find((x) => id >= x.first_seat && id < x.first_seat + x.seats.length);
      return `Balcony ${r.label}-${r.seats[id - r.first_seat][0]}`;
    });
    const context = await newContext(browser, locale);
    await signUpApi(context, 'Moon');
    const page = await context.newPage();
    const deltas = await watchDeltas(page);
    // The hold's answer is held back until the page has been handed the
    // delta that marks these very seats taken: the order the bug needs.
    let delivered = null;
    await page.route(`**/api/sales/${sale.id}/seats/holds`, async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      const seen = deltas.until(seats);
      const res = await route.fetch();
      await seen;
      // The delta names the seats; the page has applied it once its count of seats left shows them gone.
      await page.waitForFunction((n) => document.querySelector('#seats-left').textContent.replace(/\D/g, '') === String(n), 78);
      delivered = await page.evaluate(() => ({
        message: document.querySelector('#seat-message').hidden ? '' : document.querySelector('#seat-message').textContent,
      }));
      await route.fulfill({ response: res });
    });
    await openSeatMap(page, sale.id);
    await page.click('#seatmap g.section[data-section="1"]');
    for (const id of seats) await page.click(`#seatmap circle[data-seat="${id}"]`);
    await page.click(how === 'best' ? '#best-button' : '#hold-seats');
    await page.waitForSelector('#seat-hold-panel:not([hidden])');
    assert(delivered, 'the hold went through the held-back route');
    assert(delivered.message === '', `while the answer was on its way the page said: ${delivered.message}`);
    const held = await page.textContent('#seat-hold-text');
    assert(names.every((n) => held.includes(n)), `the hold names ${names}: ${held}`);
    const visible = await page.isVisible('#seat-message');
    const text = visible ? await page.textContent('#seat-message') : '';
    assert(!/someone else|다른 분/.test(text), `the holder reads: ${text}`);
    for (const id of seats) {
      assert((await page.getAttribute(`#seatmap circle[data-seat="${id}"]`, 'data-state')) === 'mine', `seat ${id} shows as mine`);
    }
    await shot(page, `seatmap-own-hold-${lang}-${how}`);
    return context;
  });
}

test('seat map by keyboard: one tab stop among the seats, named "Balcony A-1, ₩90,000, free", arrows along a row, Enter chooses, Escape goes back', async (browser) => {
  const sale = await seatedSale(`Browser keyboard seats ${run}`);
  const venue = await apiCall('GET', `/api/sales/${sale.id}/venue`);
  const rows = venue.sections[1].rows;
  const context = await newContext(browser);
  await signUpApi(context, 'Seo');
  const page = await context.newPage();
  await openSeatMap(page, sale.id);
  const focused = () => page.evaluate(() => {
    const e = document.activeElement;
    return { seat: e?.dataset?.seat ? Number(e.dataset.seat) : null, section: e?.dataset?.section ?? null, label: e?.getAttribute('aria-label') || '' };
  });
  // Tab from the top of the page reaches the sections.
  await page.focus('#seatmap g.section[data-section="0"]');
  await page.keyboard.press('Tab');
  assert((await focused()).section === '1', 'Tab goes to the next section');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#seatmap circle[data-seat]');
  let at = await focused();
  assert(at.seat === rows[0].first_seat, `zooming in by keyboard focuses the first free seat, got ${JSON.stringify(at)}`);
  assert(at.label === 'Balcony A-1, ₩90,000, free', `the seat's name: ${at.label}`);
  const stops = await page.locator('#seatmap circle[tabindex="0"]').count();
  assert(stops === 1, `one tab stop among the seats, got ${stops}`);
  assert((await page.locator('#seatmap circle[role="button"]').count()) === 40, 'every seat of the zoomed section is a button');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  at = await focused();
  assert(at.seat === rows[0].first_seat + 2, `two to the right: ${JSON.stringify(at)}`);
  await page.keyboard.press('Enter');
  at = await focused();
  assert(at.label === 'Balcony A-3, ₩90,000, chosen', `chosen by Enter: ${at.label}`);
  assert((await page.getAttribute(`#seatmap circle[data-seat="${at.seat}"]`, 'aria-pressed')) === 'true', 'pressed');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press(' ');
  assert((await page.textContent('#selection-text')).includes('Balcony A-3, Balcony A-4'), 'Space chooses too');
  await page.keyboard.press('End');
  assert((await focused()).seat === rows[0].first_seat + 9, 'End goes to the end of the row');
  await page.keyboard.press('ArrowRight');
  assert((await focused()).seat === rows[0].first_seat + 9, 'the row ends there');
  await page.keyboard.press('ArrowDown');
  at = await focused();
  assert(at.seat >= rows[1].first_seat && at.seat < rows[1].first_seat + 10 && at.label.startsWith('Balcony B-'), `down to the next row: ${at.label}`);
  assert((await page.locator('#seatmap circle[tabindex="0"]').count()) === 1, 'still one tab stop');
  // Tab leaves the map; Shift+Tab comes back to the same seat.
  const last = at;
  await page.keyboard.press('Tab');
  at = await focused();
  assert(at.seat === null, `Tab leaves the seats at once: ${JSON.stringify(at)}`);
  await page.keyboard.press('Shift+Tab');
  assert((await focused()).seat === last.seat, 'Shift+Tab returns to the seat last focused');
  await page.evaluate(() => document.activeElement.scrollIntoView({ block: 'center' }));
  await shot(page, 'seatmap-keyboard');
  // A full-page screenshot resizes the page, which redraws the map: the focus stays on the seat.
  await page.waitForFunction((id) => document.activeElement?.dataset?.seat === String(id), last.seat);
  await page.keyboard.press('Escape');
  at = await focused();
  assert(at.section === '1' && (await page.locator('#seatmap circle').count()) === 0, `Escape shows all sections, focus on the one left: ${JSON.stringify(at)}`);
  return context;
});

/** Distance between two CSS colours, 0 to 441. */
function colourDistance(a, b) {
  const rgb = (c) => (c.match(/\d+(\.\d+)?/g) || []).slice(0, 3).map(Number);
  const [x, y] = [rgb(a), rgb(b)];
  return Math.hypot(x[0] - y[0], x[1] - y[1], x[2] - y[2]);
}

test('seat map: a delta lost on the way makes the page ask its live socket for a new snapshot, and the map adds up', async (browser) => {
  const sale = await seatedSale(`Browser lost delta ${run}`);
  const venue = await apiCall('GET', `/api/sales/${sale.id}/venue`);
  const row = venue.sections[0].rows[0];
  const [first, second] = [[row.first_seat + 1], [row.first_seat + 5]];
  const others = (await apiCall('POST', '/api/admin/users/bulk', { count: 2, name_prefix: 'gap' })).users;
  const context = await newContext(browser);
  const page = await context.newPage();
  // The proxy drops the first seat delta, as a lost message would be, and
  // records what the page says to the server.
  let dropped = null;
  let lost;
  const deltaLost = new Promise((resolve) => { lost = resolve; });
  const asked = [];
  await page.routeWebSocket(/\/live\/ws(\?|$)/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => {
      asked.push(m);
      server.send(m);
    });
    server.onMessage((m) => {
      const msg = JSON.parse(m);
      if (msg.type === 'seats' && msg.form === 'delta' && !dropped) {
        dropped = msg;
        lost();
        return;
      }
      ws.send(m);
    });
  });
  await openSeatMap(page, sale.id);
  await page.click('#seatmap g.section[data-section="0"]');
  await apiCall('POST', `/api/sales/${sale.id}/seats/holds`, { seats: first }, others[0].token);
  await deltaLost;
  assert((await page.getAttribute(`#seatmap circle[data-seat="${first[0]}"]`, 'data-state')) === 'free', 'the lost delta is not shown');
  await apiCall('POST', `/api/sales/${sale.id}/seats/holds`, { seats: second }, others[1].token);
  for (const id of [...first, ...second]) {
    await page.waitForSelector(`#seatmap circle[data-seat="${id}"][data-state="taken"]`, { timeout: 5000 });
  }
  assert(asked.some((m) => JSON.parse(m).subscribe === 'seats'), `the page asked for a new snapshot: ${asked}`);
  assert((await page.textContent('#seats-left')).replace(/\D/g, '') === '78', 'the count adds up');
  return context;
});

test('seat map: my seats are marked and coloured apart from free seats of a red VIP tier', async (browser) => {
  const sale = await seatedSale(`Browser my seat colour ${run}`);
  const venue = await apiCall('GET', `/api/sales/${sale.id}/venue`);
  const row = venue.sections[0].rows[1];
  const [mine, free] = [row.first_seat + 2, row.first_seat + 4];
  const context = await newContext(browser);
  await signUpApi(context, 'Nam');
  const page = await context.newPage();
  await openSeatMap(page, sale.id);
  await page.click('#seatmap g.section[data-section="0"]');
  await page.click(`#seatmap circle[data-seat="${mine}"]`);
  await page.click('#hold-seats');
  await page.waitForSelector('#seat-hold-panel:not([hidden])');
  const look = (id) => page.$eval(`#seatmap circle[data-seat="${id}"]`, (e) => getComputedStyle(e).fill);
  const [mineFill, freeFill] = [await look(mine), await look(free)];
  const apart = colourDistance(mineFill, freeFill);
  assert(apart > 150, `my seat (${mineFill}) and a free VIP seat (${freeFill}) look alike: ${apart.toFixed(0)}`);
  assert((await page.locator('#seatmap .mark[data-mark="mine"]').count()) === 1, 'my seat carries a mark, not only a colour');
  assert((await page.getAttribute(`#seatmap circle[data-seat="${mine}"]`, 'aria-label')).endsWith(', yours'), 'and says so');
  const legend = await page.$$eval('#seat-legend .swatch', (els) => els.map((e) => getComputedStyle(e).backgroundColor));
  const vip = await page.$eval('#seat-legend li:first-child .swatch', (e) => getComputedStyle(e).backgroundColor);
  const swatchMine = await page.$eval('#seat-legend .swatch.state-mine', (e) => getComputedStyle(e).backgroundColor);
  assert(colourDistance(vip, swatchMine) > 150, `legend: VIP ${vip}, mine ${swatchMine} (${legend.join(' ')})`);
  await page.$eval(`#seatmap circle[data-seat="${mine}"]`, (e) => e.scrollIntoView({ block: 'center', inline: 'center' }));
  await shot(page, 'seatmap-mine-vs-vip');
  return context;
});

test('seat map on a phone: a wide section opens with its row labels on screen', async (browser) => {
  const sale = await apiCall('POST', '/api/sales', {
    kind: 'seated', title: `Browser wide section ${run}`, currency: 'KRW',
    seated: {
      generate: { name: 'Wide Hall', sections: [{ name: 'Arena', tier: 'R', price: 80000, colour: '#3366cc', rows: 6, seats_per_row: 40, x: 0, y: 0, curve_degrees: 0, spacing: 10 }] },
      per_person_limit: 4, seats_per_hold_max: 4, hold_seconds: 300,
    },
    opens_at: null,
  });
  await apiCall('POST', `/api/sales/${sale.id}/open`);
  for (const [locale, lang] of [['en-US', 'en'], ['ko-KR', 'ko']]) {
    const context = await newContext(browser, locale);
    const page = await context.newPage();
    await openSeatMap(page, sale.id);
    await page.click('#seatmap g.section[data-section="0"]');
    await page.waitForSelector('#seatmap circle[data-seat]');
    const seen = await page.evaluate(() => {
      const map = document.querySelector('#seatmap').getBoundingClientRect();
      const scrolls = document.querySelector('#seatmap').scrollWidth > document.querySelector('#seatmap').clientWidth;
      const labels = [...document.querySelectorAll('#seatmap .row-label')].map((e) => e.getBoundingClientRect());
      return { scrolls, shown: labels.filter((r) => r.left >= map.left && r.right <= map.right).length, all: labels.length };
    });
    assert(seen.scrolls, 'the section is wider than a phone (the case in question)');
    assert(seen.all === 6 && seen.shown === 6, `row labels on screen: ${seen.shown} of ${seen.all}`);
    await shot(page, `seatmap-phone-zoomed-${lang}`);
  }
  return null;
});

/** A JSON call from the page with its session and CSRF token. */
function pageApi(page, method, p, body) {
  return page.evaluate(async ([method, p, body]) => {
    const headers = { 'content-type': 'application/json', 'x-csrf-token': document.querySelector('meta[name="csrf-token"]').content };
    const res = await fetch(p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: await res.json().catch(() => null) };
  }, [method, p, body]);
}

/** Holds and pays for `seats` as the page's user; returns the order. */
async function buySeats(page, saleId, seats) {
  const held = await pageApi(page, 'POST', `/api/sales/${saleId}/seats/holds`, { seats });
  assert(held.status === 201, `hold: ${JSON.stringify(held)}`);
  const paid = await pageApi(page, 'POST', `/api/sales/${saleId}/holds/${held.body.id}/pay`, { provider: 'wallet' });
  assert(paid.status === 200, `pay: ${JSON.stringify(paid)}`);
  return held.body;
}

test('my page, seat orders: give back one seat, change one seat on the map\'s free seats, cancel and refund the order', async (browser) => {
  const sale = await seatedSale(`Browser seat order ${run}`);
  const venue = await apiCall('GET', `/api/sales/${sale.id}/venue`);
  const floor = venue.sections[0].rows;
  const [a, b, c] = [floor[0].first_seat, floor[0].first_seat + 1, floor[0].first_seat + 2];
  const target = floor[4].first_seat + 7; // Floor E-8
  const context = await newContext(browser);
  await signUpApi(context, 'Ryu');
  const page = await context.newPage();
  page.on('dialog', (d) => d.accept());
  await page.goto(`${base}/me`);
  const order = await buySeats(page, sale.id, [a, b, c]);
  await page.reload();
  const row = `#my-seats li.row[data-hold="${order.id}"]`;
  assert((await page.locator(`${row} li.seat-item`).count()) === 3, 'each seat of the order is listed');
  await shotOf(page, row, 'me-seat-order');

  // Give back the middle seat.
  await page.click(`${row} li.seat-item[data-seat="${b}"] [data-action="release"]`);
  await page.waitForSelector('#me-message:not([hidden])');
  assert((await page.textContent('#me-message')).includes('Floor A-2 is given back'), `message: ${await page.textContent('#me-message')}`);
  let mine = (await pageApi(page, 'GET', '/api/me/seats')).body.seats.find((h) => h.id === order.id);
  assert(JSON.stringify(mine.seats.map((x) => x.id)) === JSON.stringify([a, c]) && mine.amount === 300000, `after giving back: ${JSON.stringify(mine)}`);
  assert((await page.textContent(row)).includes('Given back or exchanged: Floor A-2'), 'the row says which seat went back');
  assert((await page.locator(`${row} li.seat-item`).count()) === 2, 'two seats left');

  // Change the first seat: the form offers the section's free seats, row by row.
  await page.click(`${row} li.seat-item[data-seat="${a}"] [data-action="swap-open"]`);
  const pick = `${row} li.seat-item[data-seat="${a}"] select[data-swap-to]`;
  await page.waitForSelector(`${pick} option`, { state: 'attached' });
  const offered = await page.$$eval(`${pick} option`, (os) => os.map((o) => Number(o.value)));
  assert(!offered.includes(a) && !offered.includes(c) && offered.includes(b) && offered.includes(target), `free seats offered: ${offered.length}`);
  assert((await page.locator(`${pick} optgroup`).count()) === 5, 'grouped by row');
  await page.selectOption(pick, String(target));
  await shotOf(page, row, 'me-seat-swap');
  await page.click(`${row} li.seat-item[data-seat="${a}"] [data-action="swap"]`);
  await page.waitForFunction(() => /changed to/.test(document.querySelector('#me-message')?.textContent || ''));
  assert((await page.textContent('#me-message')).includes('Floor A-1 is changed to Floor E-8'), 'the change is confirmed');
  mine = (await pageApi(page, 'GET', '/api/me/seats')).body.seats.find((h) => h.id === order.id);
  assert(JSON.stringify(mine.seats.map((x) => x.id).sort((x, y) => x - y)) === JSON.stringify([c, target]), `after the change: ${JSON.stringify(mine.seats)}`);
  const map = await apiCall('GET', `/api/sales/${sale.id}/seats`);
  assert(map.available === 78, `the seat map counts 2 seats gone: ${map.available}`);

  // Cancel and refund the whole order.
  await page.click(`${row} [data-action="refund"]`);
  await page.waitForFunction(() => /refunded/.test(document.querySelector('#me-message')?.textContent || ''));
  mine = (await pageApi(page, 'GET', '/api/me/seats')).body.seats.find((h) => h.id === order.id);
  assert(mine.status === 'refunded', `status: ${mine.status}`);
  assert((await page.textContent(`${row} .badge`)).includes('Refunded'), 'the row says refunded');
  assert((await page.locator(`${row} button`).count()) === 0, 'nothing more to do with a refunded order');
  assert((await apiCall('GET', `/api/sales/${sale.id}/seats`)).available === 80, 'every seat is back on sale');
  await fitsPhone(page);
  return context;
});

test('my page, seat orders in Korean: the seats of an order with their buttons, and the change form, fit a phone', async (browser) => {
  const sale = await seatedSale(`Browser seat order ko ${run}`);
  const venue = await apiCall('GET', `/api/sales/${sale.id}/venue`);
  const row0 = venue.sections[1].rows[0];
  const context = await newContext(browser, 'ko-KR');
  await signUpApi(context, 'Kwon');
  const page = await context.newPage();
  await page.goto(`${base}/me`);
  const order = await buySeats(page, sale.id, [row0.first_seat + 4, row0.first_seat + 5]);
  await page.reload();
  const row = `#my-seats li.row[data-hold="${order.id}"]`;
  assert((await page.textContent(`${row} [data-action="refund"]`)).includes('환불'), 'the refund button speaks Korean');
  await page.click(`${row} li.seat-item[data-seat="${row0.first_seat + 4}"] [data-action="swap-open"]`);
  await page.waitForSelector(`${row} select[data-swap-to] option`, { state: 'attached' });
  const sections = await page.$$eval(`${row} select[data-swap-section] option`, (os) => os.map((o) => o.textContent));
  assert(sections.length === 2 && sections[1].startsWith('Balcony') && (await page.inputValue(`${row} select[data-swap-section]`)) === '1', `sections: ${sections}`);
  await fitsPhone(page);
  await shotOf(page, row, 'me-seat-swap-ko');
  return context;
});

test('seat map: a seat I hold for a friend is marked as a friend\'s, apart from mine and from free seats', async (browser) => {
  const sale = await seatedSale(`Browser friend seat mark ${run}`);
  const venue = await apiCall('GET', `/api/sales/${sale.id}/venue`);
  const row = venue.sections[0].rows[2];
  const [mine, theirs] = [row.first_seat + 3, row.first_seat + 4];
  const ca = await newContext(browser);
  await signUpApi(ca, 'Oh');
  const cb = await newContext(browser);
  const emailB = await signUpApi(cb, 'Pyo');
  const [pa, pb] = [await ca.newPage(), await cb.newPage()];
  await pa.goto(`${base}/me`);
  await pb.goto(`${base}/me`);
  const asked = await pageApi(pa, 'POST', '/api/me/friends', { email: emailB });
  assert(asked.status < 300, `friend request: ${JSON.stringify(asked)}`);
  const idA = Number(await pa.getAttribute('meta[name="user-id"]', 'content'));
  const idB = Number(await pb.getAttribute('meta[name="user-id"]', 'content'));
  const accepted = await pageApi(pb, 'POST', `/api/me/friends/${idA}/accept`);
  assert(accepted.status < 300, `accept: ${JSON.stringify(accepted)}`);
  const held = await pageApi(pa, 'POST', `/api/sales/${sale.id}/seats/holds`, { seats: [mine, theirs], holders: [idA, idB] });
  assert(held.status === 201, `hold: ${JSON.stringify(held)}`);
  await openSeatMap(pa, sale.id);
  await pa.waitForSelector('#seat-hold-panel:not([hidden])');
  await pa.click('#seatmap g.section[data-section="0"]');
  await pa.waitForSelector(`#seatmap circle[data-seat="${theirs}"][data-state="friend"]`);
  assert((await pa.getAttribute(`#seatmap circle[data-seat="${mine}"]`, 'data-state')) === 'mine', 'my own seat is mine');
  assert((await pa.locator('#seatmap .mark[data-mark="mine"]').count()) === 1, 'a check on mine');
  assert((await pa.locator('#seatmap .mark[data-mark="friend"]').count()) === 1, 'a ring on the friend\'s');
  assert((await pa.getAttribute(`#seatmap circle[data-seat="${theirs}"]`, 'aria-label')).endsWith(', held for a friend'), 'named as a friend\'s');
  const fill = (id) => pa.$eval(`#seatmap circle[data-seat="${id}"]`, (e) => getComputedStyle(e).fill);
  const apart = colourDistance(await fill(theirs), await fill(row.first_seat));
  assert(apart > 150, `a friend's seat and a free VIP seat look alike: ${apart.toFixed(0)}`);
  assert((await pa.textContent('#seat-legend')).includes("A friend's"), 'the legend explains the mark');
  await shotOf(pa, '#seated-panel', 'seatmap-friend-seat');
  return ca;
});
