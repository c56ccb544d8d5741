// tickets.mjs: tickets end to end against the real server, with no answer
// played by the test: a free seat bought through the API, its QR code on
// my page and on the ticket page; handed to a friend from the ticket page;
// staff named by the organizer admit the real ticket at the gate page from
// chromium's fake camera (a Y4M of that ticket's own QR text) and refuse it
// the second time, and the organizer's dashboard counts it; one seat of a
// two-seat order given back shows its ticket revoked. Free sales (price 0)
// keep payment out of the way.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { admin, apiCall, assert, base, chromiumPath, fitsPhone, newContext, run, shot, signUpApi, test } from '../lib.mjs';
import { writeQrVideo } from '../lib/y4m.mjs';

/** A free seated sale owned by the operator: one section "Floor", one row of 6 seats, open. */
async function freeSeats(title) {
  const sale = await apiCall('POST', '/api/sales', {
    kind: 'seated', title, description: 'Made by the ticket tests.', currency: 'KRW',
    seated: {
      generate: { name: 'Ticket Hall', sections: [{ name: 'Floor', tier: 'GA', price: 0, colour: '#cc3333', rows: 1, seats_per_row: 6, x: 0, y: 0, curve_degrees: 0, spacing: 10 }] },
      per_person_limit: 4, seats_per_hold_max: 4, hold_seconds: 300,
    },
    opens_at: new Date(Date.now() + 3 * 86400e3).toISOString(), waiting_room: null,
  });
  await apiCall('POST', `/api/sales/${sale.id}/open`);
  return sale.id;
}

/** A JSON call from the page, with its session and CSRF token. */
async function call(page, method, url, body) {
  return page.evaluate(async ([m, u, b]) => {
    const headers = { 'content-type': 'application/json' };
    const csrf = document.querySelector('meta[name="csrf-token"]');
    if (csrf) headers['x-csrf-token'] = csrf.content;
    const r = await fetch(u, { method: m, headers, body: b === undefined ? undefined : JSON.stringify(b) });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  }, [method, url, body]);
}

/** `page`'s person holds and confirms `seats` (ids) of `saleId`: the order's id. */
async function buySeats(page, saleId, seats) {
  const held = await call(page, 'POST', `/api/sales/${saleId}/seats/holds`, { seats });
  assert(held.status === 201 || held.status === 200, `held: ${JSON.stringify(held)}`);
  const done = await call(page, 'POST', `/api/sales/${saleId}/seats/holds/${held.body.id}/confirm`);
  assert(done.status === 200, `confirmed: ${JSON.stringify(done)}`);
  return held.body.id;
}

async function myTickets(page, saleId) {
  const r = await call(page, 'GET', '/api/me/tickets');
  assert(r.status === 200, `my tickets: ${r.status}`);
  return r.body.tickets.filter((t) => t.sale_id === saleId);
}

/** Signs a person up in a fresh context at 390 px and opens my page: [context, page, id]. */
async function person(browser, name, locale = 'en-US') {
  const context = await newContext(browser, locale);
  await signUpApi(context, name);
  const page = await context.newPage();
  await page.goto(`${base}/me`);
  const id = Number(await page.getAttribute('meta[name="user-id"]', 'content'));
  return [context, page, id];
}

test('tickets (en, 390 px): a free seat\'s QR ticket on my page and its ticket page; handed to a friend', async (browser) => {
  assert(admin, 'needs the admin token');
  const saleId = await freeSeats(`Ticket page ${run}`);
  const [, page, buyerId] = await person(browser, 'Holder');
  const [, friendPage, friendId] = await person(browser, 'Friend');
  await buySeats(page, saleId, [0]);

  await page.goto(`${base}/me`);
  const row = `#my-tickets li.ticket-row[data-sale="${saleId}"]`;
  await page.waitForSelector(row);
  assert((await page.$$(row)).length === 1, 'one seat, one ticket');
  assert(await page.$(`${row} svg.qr path`), 'the QR code is drawn on my page');
  assert((await page.textContent(`${row} .ticket-place`)).includes('Seat Floor A-1'), 'the seat in words');
  assert((await page.getAttribute(`${row}`, 'data-state')) === 'valid', 'valid');
  await fitsPhone(page);
  await shot(page, 'tickets-me-en');

  await Promise.all([page.waitForURL(/\/tickets\/\d+\/\d+$/), page.click(`${row} a.ticket-link`)]);
  const [ticket] = await myTickets(page, saleId);
  const svg = await page.$('#ticket-qr svg.qr');
  assert(svg, 'the QR code on the ticket page');
  const box = await svg.boundingBox();
  assert(box.width >= 280 && box.width <= 390, `big enough to scan at 390 px: ${box.width}`);
  // The drawing is the ticket's own QR text: the label names it, the server drew it from ticket.qr.
  assert(ticket.qr && ticket.qr.length > 100, 'the holder gets the QR text');
  assert((await page.textContent('#ticket-place')).includes('Seat Floor A-1'), 'the seat');
  assert((await page.textContent('#ticket-holder')).trim() === 'Holder', 'the holder');
  assert((await page.textContent('#ticket-title')).includes(`Ticket page ${run}`), 'the sale');
  assert((await page.textContent('#ticket-when')).trim().length > 0, 'the time');
  assert((await page.textContent('#ticket-state')).trim() === 'Valid', 'valid');
  assert(await page.$('#transfer-none'), 'no friends yet: the page says how');
  await fitsPhone(page);
  await shot(page, 'ticket-page-en');

  // Someone else gets the human 404.
  const res = await friendPage.goto(`${base}/tickets/${saleId}/${ticket.ticket}`);
  assert(res.status() === 404, `another person: ${res.status()}`);

  // Become friends, then hand the ticket over from the page.
  const asked = await call(page, 'POST', '/api/me/friends', { user_id: friendId });
  assert(asked.status === 201, `asked: ${JSON.stringify(asked)}`);
  const accepted = await call(friendPage, 'POST', `/api/me/friends/${buyerId}/accept`);
  assert(accepted.status === 200, `accepted: ${JSON.stringify(accepted)}`);
  await page.reload();
  await page.waitForSelector('#transfer-form');
  await page.selectOption('#transfer-to', String(friendId));
  page.once('dialog', (d) => d.accept());
  await page.click('#transfer-submit');
  await page.waitForSelector('#ticket[data-state="transferred"]');
  assert(!(await page.$('#ticket-qr svg')), 'the old code is taken off the page');
  assert((await page.textContent('#ticket-state')).includes('Transferred to Friend'), 'says where it went');
  await fitsPhone(page);
  await shot(page, 'ticket-page-transferred-en');
  const theirs = await myTickets(friendPage, saleId);
  assert(theirs.length === 1 && theirs[0].generation === 2 && theirs[0].qr && theirs[0].qr !== ticket.qr, 'the friend holds a new generation');
  assert((await myTickets(page, saleId)).length === 0, 'no longer mine');
  await friendPage.goto(`${base}/tickets/${saleId}/${ticket.ticket}`);
  assert(await friendPage.$('#ticket-qr svg.qr'), 'the friend sees the new code');
  assert((await friendPage.textContent('main')).includes('handed to you by a friend'), 'and where it came from');
});

test('tickets (ko, fake camera): staff admit the real ticket at the gate and refuse it the second time; the dashboard counts it', async (browser) => {
  assert(admin, 'needs the admin token');
  // The organizer is a person here, so the dashboard can be opened.
  const [orgContext, orgPage, orgId] = await person(browser, 'Organizer', 'ko-KR');
  await apiCall('PUT', `/api/admin/users/${orgId}/role`, { role: 'organizer' });
  await orgPage.reload();
  const made = await call(orgPage, 'POST', '/api/sales', {
    kind: 'seated', title: `게이트 ${run}`, description: '', currency: 'KRW',
    seated: {
      generate: { name: 'Hall', sections: [{ name: 'Floor', tier: 'GA', price: 0, colour: '#cc3333', rows: 1, seats_per_row: 6, x: 0, y: 0, curve_degrees: 0, spacing: 10 }] },
      per_person_limit: 4, seats_per_hold_max: 4, hold_seconds: 300,
    },
    opens_at: null, waiting_room: null,
  });
  assert(made.status === 201, `made: ${JSON.stringify(made)}`);
  const saleId = made.body.id;
  assert((await call(orgPage, 'POST', `/api/sales/${saleId}/open`)).status === 200, 'opened');
  const [, buyerPage] = await person(browser, 'Buyer', 'ko-KR');
  await buySeats(buyerPage, saleId, [2]);
  const [ticket] = await myTickets(buyerPage, saleId);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'stampede-tickets-'));
  const video = path.join(dir, 'ticket.y4m');
  // The code shows for 1 s, then 3 s of white, so each loop is a new scan.
  writeQrVideo(video, ticket.qr, { fps: 5, codeFrames: 5, blankFrames: 15 });
  const camera = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${video}`,
    ],
  });
  try {
    const staffContext = await newContext(camera, 'ko-KR');
    await signUpApi(staffContext, 'Staff');
    const page = await staffContext.newPage();
    await page.goto(`${base}/me`);
    const staffId = Number(await page.getAttribute('meta[name="user-id"]', 'content'));
    let res = await page.goto(`${base}/sales/${saleId}/gate`);
    assert(res.status() === 403, `not staff yet: ${res.status()}`);

    // The organizer names them on the dashboard.
    await orgPage.goto(`${base}/organizer/sales/${saleId}`);
    await orgPage.waitForSelector('#staff-none:not([hidden])');
    // Read once on load; from here on the numbers must come over the live socket.
    await orgPage.waitForFunction(() => document.querySelector('#checkin-admitted').textContent === '0');
    const dashboardReads = [];
    orgPage.on('request', (r) => {
      if (new URL(r.url()).pathname === `/api/sales/${saleId}/checkin`) dashboardReads.push(r.url());
    });
    const email = await page.evaluate(async () => (await (await fetch('/api/me')).json()).email);
    await orgPage.fill('#staff-email', email);
    await orgPage.click('#staff-add');
    await orgPage.waitForSelector(`#staff-list li[data-user="${staffId}"]`);
    assert((await orgPage.textContent('#staff-message')).includes('Staff'), 'added, by name');

    res = await page.goto(`${base}/sales/${saleId}/gate`);
    assert(res.status() === 200, `staff open the gate: ${res.status()}`);
    await page.waitForSelector('#gate[data-kit]');
    await page.fill('#gate-name', '북문');
    await page.press('#gate-name', 'Tab');
    await page.click('#camera-start');
    await page.waitForSelector('#gate[data-camera="on"]');
    await page.waitForSelector('#verdict[data-verdict="admitted"]', { timeout: 20000 });
    assert((await page.textContent('#verdict-word')).trim() === '입장', 'a big 입장');
    assert((await page.textContent('#verdict-place')).includes('Floor A-3'), `the seat: ${await page.textContent('#verdict-place')}`);
    assert((await page.textContent('#verdict-holder')).includes('Buyer'), 'the holder');
    await fitsPhone(page);
    await shot(page, 'tickets-gate-admit-ko');
    await page.waitForSelector('#verdict[data-verdict="refused"]', { timeout: 20000 });
    assert((await page.textContent('#verdict-word')).trim() === '거부', 'a big 거부');
    const reason = await page.textContent('#verdict-reason');
    assert(reason.includes('이미 입장했습니다') && reason.includes('북문'), `already admitted at this gate, named, in Korean: ${reason}`);
    assert((await page.getAttribute('#verdict', 'data-reason')) === 'already-admitted', 'the server said so');
    await shot(page, 'tickets-gate-refuse-ko');
    await page.click('#camera-stop');
    await page.waitForSelector('#gate[data-camera="off"]');

    // The holder's page says it was used; the dashboard counts it.
    await buyerPage.goto(`${base}/tickets/${saleId}/${ticket.ticket}`);
    const state = await buyerPage.textContent('#ticket-state');
    assert(/\d\d:\d\d KST에 입장함/.test(state), `used at HH:MM: ${state}`);
    assert(!(await buyerPage.$('#ticket-qr svg')), 'a used ticket shows no code');
    await fitsPhone(buyerPage);
    await shot(buyerPage, 'ticket-page-used-ko');
    // The dashboard stayed open since staff were named: the admission is pushed, not read again.
    await orgPage.waitForFunction(() => document.querySelector('#checkin-admitted').textContent === '1');
    assert((await orgPage.textContent('#checkin-tickets')).trim() === '1', 'one ticket in all');
    assert(dashboardReads.length === 0, `pushed over the live socket, not polled: ${dashboardReads}`);
    assert((await orgPage.getAttribute('#gate-link', 'href')) === `/sales/${saleId}/gate`, 'a link to the gate page');
    await fitsPhone(orgPage);
    await shot(orgPage, 'dashboard-checkin-staff-ko');

    // Removed staff are refused at once.
    orgPage.once('dialog', (d) => d.accept());
    await orgPage.click(`#staff-list li[data-user="${staffId}"] button`);
    await orgPage.waitForSelector('#staff-none:not([hidden])');
    res = await page.goto(`${base}/sales/${saleId}/gate`);
    assert(res.status() === 403, `no longer staff: ${res.status()}`);
    return orgContext;
  } finally {
    await camera.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tickets (en and ko): one seat of a two-seat order given back shows its ticket revoked', async (browser) => {
  assert(admin, 'needs the admin token');
  const saleId = await freeSeats(`Give back ${run}`);
  const [context, page] = await person(browser, 'Pair');
  const order = await buySeats(page, saleId, [3, 4]);
  const before = await myTickets(page, saleId);
  assert(before.length === 2, `two tickets: ${before.length}`);
  const given = before.find((t) => t.place.seat_id === 4);
  const kept = before.find((t) => t.place.seat_id === 3);
  const r = await call(page, 'POST', `/api/sales/${saleId}/seats/holds/${order}/release`, { seat: 4 });
  assert(r.status === 200, `released: ${JSON.stringify(r)}`);

  await page.goto(`${base}/tickets/${saleId}/${given.ticket}`);
  await page.waitForSelector('#ticket[data-state="revoked"]');
  assert((await page.textContent('#ticket-state')).trim() === 'Revoked: refunded', 'revoked, in words');
  assert(!(await page.$('#ticket-qr svg')), 'no code for a revoked ticket');
  assert(!(await page.$('#transfer-panel')), 'nothing to hand on');
  await fitsPhone(page);
  await shot(page, 'ticket-page-revoked-en');
  await page.goto(`${base}/me`);
  assert((await page.getAttribute(`#my-tickets li[data-ticket="${given.ticket}"]`, 'data-state')) === 'revoked', 'revoked on my page');
  assert((await page.getAttribute(`#my-tickets li[data-ticket="${kept.ticket}"]`, 'data-state')) === 'valid', 'the other seat still valid');
  assert(await page.$(`#my-tickets li[data-ticket="${kept.ticket}"] svg.qr`), 'with its code');

  await page.goto(`${base}/lang/ko?next=${encodeURIComponent(`/tickets/${saleId}/${given.ticket}`)}`);
  await page.waitForSelector('#ticket[data-state="revoked"]');
  assert((await page.textContent('#ticket-state')).trim() === '취소됨: 환불', 'in Korean');
  assert((await page.textContent('#ticket-place')).includes('좌석 Floor A-5'), 'the seat in Korean');
  await fitsPhone(page);
  await shot(page, 'ticket-page-revoked-ko');

  // Signed out: log in first, and come back to the ticket.
  const anonymous = await newContext(browser);
  const visitor = await anonymous.newPage();
  await visitor.goto(`${base}/tickets/${saleId}/${kept.ticket}`);
  const at = new URL(visitor.url());
  assert(at.pathname === '/login' && at.searchParams.get('next') === `/tickets/${saleId}/${kept.ticket}`, `signed out: ${visitor.url()}`);
  return context;
});

test('tickets (en, offline with the real kit): a revoked ticket refused on the device; a ticket another gate let in comes back as a conflict', async (browser) => {
  assert(admin, 'needs the admin token');
  const saleId = await freeSeats(`Offline kit ${run}`);
  const [, buyerPage] = await person(browser, 'Pair');
  const order = await buySeats(buyerPage, saleId, [0, 1]);
  const tickets = await myTickets(buyerPage, saleId);
  const kept = tickets.find((t) => t.place.seat_id === 0);
  const given = tickets.find((t) => t.place.seat_id === 1);
  const released = await call(buyerPage, 'POST', `/api/sales/${saleId}/seats/holds/${order}/release`, { seat: 1 });
  assert(released.status === 200, `released: ${JSON.stringify(released)}`);

  const [context, page, staffId] = await person(browser, 'Door');
  await apiCall('POST', `/api/sales/${saleId}/staff`, { user_id: staffId });
  await page.goto(`${base}/sales/${saleId}/gate`);
  // The real kit: the sale's key and a list that revokes the released seat's ticket.
  await page.waitForSelector('#gate[data-kit="1"]');
  await context.setOffline(true);
  await page.waitForFunction(() => document.querySelector('#gate-network').dataset.state === 'offline');
  const scan = async (text) => {
    await page.evaluate(() => {
      document.querySelector('#verdict').dataset.verdict = '';
    });
    await page.fill('#scan-input', text);
    await page.press('#scan-input', 'Enter');
    await page.waitForFunction(() => document.querySelector('#verdict').dataset.verdict !== '');
    return page.evaluate(() => ({ ...document.querySelector('#verdict').dataset }));
  };
  let v = await scan(kept.qr);
  assert(v.verdict === 'admitted' && v.mode === 'offline', `admitted offline: ${JSON.stringify(v)}`);
  v = await scan(given.qr);
  assert(v.verdict === 'refused' && v.reason === 'ticket-revoked', `the released seat's ticket, refused offline: ${JSON.stringify(v)}`);
  await fitsPhone(page);
  await shot(page, 'tickets-offline-revoked-en');

  // Meanwhile another gate, online, lets the same ticket in.
  const online = await apiCall('POST', `/api/sales/${saleId}/checkin`, { qr: kept.qr, gate: 99 });
  assert(online.verdict === 'admitted', `the other gate: ${JSON.stringify(online)}`);
  await context.setOffline(false);
  await page.waitForSelector('#gate[data-queued="0"]');
  await page.waitForSelector('#conflicts-panel:not([hidden])');
  const line = await page.textContent('#conflicts li');
  assert(line.includes(`#${kept.ticket}`) && line.includes('Already admitted'), `the conflict shown: ${line}`);
  await fitsPhone(page);
  await shot(page, 'tickets-offline-conflict-en');
  const progress = await apiCall('GET', `/api/sales/${saleId}/checkin`);
  assert(progress.admitted === 1 && progress.tickets === 1, `one ticket, let in once: ${JSON.stringify(progress)}`);
  assert(progress.conflicts.length === 1 && progress.conflicts[0].ticket === kept.ticket && progress.conflicts[0].reason === 'already-admitted',
    `the organizer sees the conflict: ${JSON.stringify(progress.conflicts)}`);
});
