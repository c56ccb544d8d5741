// gate.mjs: the gate page (/sales/{id}/gate), where staff scan tickets.
//
// The camera path runs for real: chromium reads a Y4M video of a ticket's QR
// code as its camera (lib/y4m.mjs) and the page decodes it with jsQR. The
// tickets and revocation lists are signed here in node (lib/tickets.mjs,
// checked first against ticket.rs's pinned test vector). The check-in API's
// answers are played by the test (page.route) in these specs: they pin what
// the page sends and how it shows each answer, offline included; the
// end-to-end spec against the server's own check-in routes comes with them.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { admin, apiCall, assert, base, chromiumPath, fitsPhone, newContext, run, shot, signUpApi, test } from '../lib.mjs';
import { WIDTH, HEIGHT, qrLuma, writeQrVideo, y4mHeader } from '../lib/y4m.mjs';
import { encodePayload, keyFromSeed, signedList, ticketText } from '../lib/tickets.mjs';
// The page's own module, run here in node (it imports nothing from the page).
import { base64urlDecode, importKey, openRevocationList, openTicket, revocationReason } from '../../../crates/server/assets/js/ticket.js';

/** ticket.rs's pinned vector: seed [7; 32], sale 42, ticket 1234, seat 517, holder 90001, generation 2. */
const PINNED_QR = 'AEVNECIBQUCJDPYFALEZADQXBXJG2WV4GNEH6K3JXRKBDIGJLOTOVX4NKW2J5FNEIZGBNLKYMA2XKRXBAKBVHRDPJG36HE3VBVRZUD2YZF5AOMFDKN2YCXYL';

test('gate: the node ticket signer matches ticket.rs, and the fake-camera video holds a whole code', async () => {
  const key = keyFromSeed(Buffer.alloc(32, 7));
  const payload = { sale: 42, ticket: 1234, place: { seat: 517 }, holder: 90001, generation: 2 };
  assert(encodePayload(payload).toString('hex') === '012ad20901850491bf0502', 'payload bytes as pinned in ticket.rs');
  assert(ticketText(payload, key) === PINNED_QR, 'QR text as pinned in ticket.rs');
  // checkin.rs pins the list's encoding: sale 42, revision 5, [3 -> gen 2, 130 refunded, 131 -> gen 4].
  const list = Buffer.from(signedList({ sale: 42, revision: 5, revocations: [[3, 2], [130, 0], [131, 4]] }, key), 'base64url');
  assert(list.subarray(0, list.length - 64).toString('hex') === '012a050303027f000104', 'list bytes as pinned in checkin.rs');


  // The page's reader opens the pinned ticket and refuses every single-symbol change and cut.
  const webKey = await importKey(key.publicKey);
  const opened = await openTicket(PINNED_QR, webKey);
  assert(opened.sale === 42n && opened.ticket === 1234n && opened.place.kind === 'seat' && opened.place.id === 517
    && opened.holder === 90001n && opened.generation === 2, `ticket.js reads the pinned ticket: ${JSON.stringify(opened, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`);
  const refuses = async (text) => openTicket(text, webKey).then(() => false, () => true);
  for (let i = 0; i < PINNED_QR.length; i++) {
    for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567a0=') {
      if (c !== PINNED_QR[i]) assert(await refuses(PINNED_QR.slice(0, i) + c + PINNED_QR.slice(i + 1)), `symbol ${i} set to ${c} is refused`);
    }
    assert(await refuses(PINNED_QR.slice(0, i) + PINNED_QR.slice(i + 1)), `symbol ${i} cut is refused`);
  }
  const other = await importKey(keyFromSeed(Buffer.alloc(32, 8)).publicKey);
  assert(await openTicket(PINNED_QR, other).then(() => false, () => true), 'another sale\'s key refuses it');
  const read = await openRevocationList(list, webKey);
  assert(read.sale === 42n && read.revision === 5n && read.revocations.size === 3, 'ticket.js reads the pinned list');
  const at = (ticket, generation) => ({ sale: 42n, ticket: BigInt(ticket), generation });
  assert(revocationReason(read, at(1, 1)) === null && revocationReason(read, at(3, 1)) === 'ticket-superseded'
    && revocationReason(read, at(3, 2)) === null && revocationReason(read, at(130, 9)) === 'ticket-revoked'
    && revocationReason(read, { ...at(1, 1), sale: 41n }) === 'wrong-sale', 'the list revokes what checkin.rs says');
  for (let i = 0; i < list.length; i++) {
    const changed = Uint8Array.from(list);
    changed[i] ^= 1;
    assert(await openRevocationList(changed, webKey).then(() => false, () => true), `list byte ${i} changed is refused`);
  }
  assert(base64urlDecode(key.publicKey).length === 32, 'a raw 32-byte key');

  const dir = mkdtempSync(path.join(os.tmpdir(), 'stampede-y4m-'));
  try {
    const file = path.join(dir, 'qr.y4m');
    const drawn = writeQrVideo(file, PINNED_QR, { fps: 5, codeFrames: 2, blankFrames: 1 });
    assert(drawn.version === 5 && drawn.modules === 37, `alphanumeric at level M is version 5, got ${drawn.version}`);
    assert(drawn.px >= 8, `modules of ${drawn.px} px are big enough for a camera`);
    const bytes = readFileSync(file);
    const header = y4mHeader(5);
    assert(bytes.subarray(0, header.length).toString() === header, 'the stream header');
    const frame = 6 + WIDTH * HEIGHT * 1.5;
    assert(bytes.length === header.length + 3 * frame, `three frames of ${frame} bytes`);
    const { luma } = qrLuma(PINNED_QR);
    const first = bytes.subarray(header.length + 6, header.length + 6 + WIDTH * HEIGHT);
    assert(Buffer.compare(first, Buffer.from(luma)) === 0, 'the first frame is the code');
    assert(bytes[header.length + frame + 6 + WIDTH * HEIGHT] === 128, 'chroma is neutral');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** An organizer (signed up in `context`) and an open stock sale of theirs. */
async function organizerSale(context, page, title) {
  await signUpApi(context, 'Gatekeeper');
  const me = await (await context.request.get(`${base}/api/me`)).json();
  await apiCall('PUT', `/api/admin/users/${me.id}/role`, { role: 'organizer' });
  await page.goto(`${base}/organizer`);
  const made = await page.evaluate(async (t) => {
    const headers = { 'content-type': 'application/json', 'x-csrf-token': document.querySelector('meta[name="csrf-token"]').content };
    const body = {
      kind: 'stock', title: t, description: 'Made by the gate tests.', stock: 20, price: 55000, currency: 'KRW',
      per_person_limit: 4, order_quantity_max: 3, hold_seconds: 300, opens_at: null, closes_at: null,
    };
    const r = await fetch('/api/sales', { method: 'POST', headers, body: JSON.stringify(body) });
    return { status: r.status, body: await r.json() };
  }, title);
  assert(made.status === 201, `the organizer made a sale: ${JSON.stringify(made)}`);
  return made.body.id;
}

/** Plays GET .../gate-kit with a kit signed by `key`. */
async function serveKit(page, saleId, key, revocations = [], revision = revocations.length) {
  await page.route(`${base}/api/sales/${saleId}/gate-kit`, (route) =>
    route.fulfill({
      json: { sale: saleId, public_key: key.publicKey, revocations: signedList({ sale: saleId, revision, revocations }, key), revision, admitted: 0, tickets: 6 },
    }),
  );
}

test('gate (en, 390 px): the fake camera\'s ticket is admitted, then refused as already admitted at this gate', async () => {
  assert(admin, 'needs the admin token');
  const key = keyFromSeed(Buffer.alloc(32, 11));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'stampede-gate-'));
  const video = path.join(dir, 'ticket.y4m');
  // The code shows for 1 s, then 3 s of white: longer than the page's 2 s
  // before a code out of view is read again, so each loop is a new scan.
  const camera = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${video}`,
    ],
  });
  try {
    const context = await newContext(camera);
    const page = await context.newPage();
    const saleId = await organizerSale(context, page, `Gate camera ${run}`);
    const qr = ticketText({ sale: saleId, ticket: 7, place: { seat: 12 }, holder: 501, generation: 1 }, key);
    writeQrVideo(video, qr, { fps: 5, codeFrames: 5, blankFrames: 15 });
    await serveKit(page, saleId, key);
    const posts = [];
    await page.route(`${base}/api/sales/${saleId}/checkin`, (route) => {
      const body = route.request().postDataJSON();
      posts.push(body);
      const first = posts.length === 1;
      route.fulfill({
        json: {
          verdict: first ? 'admitted' : 'refused', reason: first ? null : 'already-admitted', ticket: 7,
          place: { seat: 'A-12' }, holder: 'Park Jiwoo', admitted_at: '2026-12-04T10:15:00Z', admitted_gate: body.gate_name,
        },
      });
    });

    await page.goto(`${base}/sales/${saleId}/gate`);
    await page.waitForSelector('#gate[data-kit="0"]');
    await page.fill('#gate-name', 'North door');
    await page.press('#gate-name', 'Tab');
    await page.click('#camera-start');
    await page.waitForSelector('#gate[data-camera="on"]');
    await page.waitForSelector('#verdict[data-verdict="admitted"]', { timeout: 15000 });
    assert(posts[0].qr === qr, 'the page sent the code the camera showed');
    assert(Number.isSafeInteger(posts[0].gate) && posts[0].gate > 0, `a gate id: ${posts[0].gate}`);
    assert(posts[0].gate_name === 'North door', 'the gate name as typed');
    assert((await page.textContent('#verdict-word')).trim() === 'ADMIT', 'a big ADMIT');
    assert((await page.textContent('#verdict-place')).includes('Seat A-12'), 'the seat');
    assert((await page.textContent('#verdict-holder')).includes('Park Jiwoo'), 'the holder');
    await fitsPhone(page);
    await shot(page, 'gate-camera-admit');

    await page.waitForSelector('#verdict[data-verdict="refused"]', { timeout: 15000 });
    assert(posts.length === 2 && posts[1].qr === qr && posts[1].gate === posts[0].gate, 'the second loop of the video was a second scan');
    assert((await page.textContent('#verdict-word')).trim() === 'REFUSE', 'a big REFUSE');
    const reason = await page.textContent('#verdict-reason');
    const time = new Intl.DateTimeFormat('en-US', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date('2026-12-04T10:15:00Z'));
    assert(reason.includes(`Already admitted at ${time} at North door`), `the reason in words: ${reason}`);
    await fitsPhone(page);
    await shot(page, 'gate-camera-refuse');
    await page.click('#camera-stop');
    await page.waitForSelector('#gate[data-camera="off"]');
  } finally {
    await camera.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gate (ko, offline): signatures and the revocation list checked on the device, scans queued and synced, conflicts shown', async (browser) => {
  const key = keyFromSeed(Buffer.alloc(32, 12));
  const context = await newContext(browser, 'ko-KR');
  const page = await context.newPage();
  const saleId = await organizerSale(context, page, `Gate offline ${run}`);
  const ticket = (id, generation = 1, sale = saleId) => ticketText({ sale, ticket: id, place: { unit: 1 }, holder: 900 + id, generation }, key);
  // Ticket 2 was refunded; ticket 3 was transferred (generation 2 is valid).
  await serveKit(page, saleId, key, [[2, 0], [3, 2]], 2);
  await page.goto(`${base}/sales/${saleId}/gate`);
  await page.waitForSelector('#gate[data-kit="2"]');
  assert((await page.textContent('h1')).includes('입장 게이트'), 'the page in Korean');

  await context.setOffline(true);
  await page.waitForFunction(() => document.querySelector('#gate-network').dataset.state === 'offline');
  const scan = async (text) => {
    await page.evaluate(() => {
      document.querySelector('#verdict').dataset.verdict = '';
    });
    await page.fill('#scan-input', text);
    await page.press('#scan-input', 'Enter');
    await page.waitForFunction(() => document.querySelector('#verdict').dataset.verdict !== '');
    return page.evaluate(() => ({ ...document.querySelector('#verdict').dataset, reason_text: document.querySelector('#verdict-reason').textContent }));
  };
  const one = ticket(1);
  let v = await scan(one);
  assert(v.verdict === 'admitted' && v.mode === 'offline', `ticket 1 admitted offline: ${JSON.stringify(v)}`);
  assert((await page.textContent('#verdict-word')).trim() === '입장', 'a big 입장');
  await fitsPhone(page);
  await shot(page, 'gate-offline-admit-ko');
  v = await scan(one);
  assert(v.verdict === 'refused' && v.reason === 'already-admitted', `a second scan at this gate: ${JSON.stringify(v)}`);
  assert(v.reason_text.includes('이미 입장했습니다'), `in Korean: ${v.reason_text}`);
  v = await scan(ticket(2));
  assert(v.verdict === 'refused' && v.reason === 'ticket-revoked', `refunded: ${JSON.stringify(v)}`);
  v = await scan(ticket(3, 1));
  assert(v.verdict === 'refused' && v.reason === 'ticket-superseded', `transferred: ${JSON.stringify(v)}`);
  v = await scan(ticket(4, 1, saleId + 1));
  assert(v.verdict === 'refused' && v.reason === 'wrong-sale', `another sale: ${JSON.stringify(v)}`);
  // One symbol changed (every changed byte changes some symbol).
  const five = ticket(5);
  const forged = five.slice(0, 40) + (five[40] === 'A' ? 'B' : 'A') + five.slice(41);
  v = await scan(forged);
  assert(v.verdict === 'refused' && v.reason === 'bad-signature', `one symbol changed: ${JSON.stringify(v)}`);
  assert((await page.textContent('#verdict-word')).trim() === '거부', 'a big 거부');
  await shot(page, 'gate-offline-forged-ko');
  // A scanner that types lower case is read as upper case.
  v = await scan(five.toLowerCase());
  assert(v.verdict === 'admitted', `lower case upper-cased: ${JSON.stringify(v)}`);
  v = await scan(ticket(3, 2));
  assert(v.verdict === 'admitted', `the transferred ticket's new generation: ${JSON.stringify(v)}`);
  assert((await page.getAttribute('#gate', 'data-queued')) === '3', 'three admissions queued');

  const synced = [];
  await page.route(`${base}/api/sales/${saleId}/checkin/sync`, (route) => {
    const body = route.request().postDataJSON();
    synced.push(body);
    route.fulfill({ json: { verdicts: [{ verdict: 'admitted' }, { verdict: 'conflict', reason: 'already-admitted' }, { verdict: 'admitted' }] } });
  });
  await context.setOffline(false);
  await page.waitForSelector('#gate[data-queued="0"]');
  assert(synced.length === 1, `one sync call, got ${synced.length}`);
  const sent = synced[0];
  assert(Number.isSafeInteger(sent.gate) && sent.gate > 0 && typeof sent.gate_name === 'string', 'the gate sent its id and name');
  assert(sent.scans.length === 3, 'three scans');
  assert(sent.scans[0].qr === one && sent.scans[1].qr === five && sent.scans[2].qr === ticket(3, 2), 'the scans in order, upper case');
  const nonces = new Set(sent.scans.map((s) => s.nonce));
  assert(nonces.size === 3 && [...nonces].every((n) => Number.isSafeInteger(n) && n > 0), `distinct safe nonces: ${[...nonces]}`);
  assert(sent.scans.every((s) => !Number.isNaN(Date.parse(s.scanned_at)) && Object.keys(s).length === 3), 'nonce, scanned_at and qr only');
  await page.waitForSelector('#conflicts-panel:not([hidden])');
  const conflict = await page.textContent('#conflicts li');
  assert(conflict.includes('#5') && conflict.includes('이미 입장했습니다'), `the conflict named: ${conflict}`);
  await fitsPhone(page);
  await shot(page, 'gate-synced-conflict-ko');
  return context;
});

test('gate page: signed-out viewers log in first; a participant gets a human 403', async (browser) => {
  const context = await newContext(browser);
  const page = await context.newPage();
  const organizerContext = await newContext(browser);
  const organizerPage = await organizerContext.newPage();
  const saleId = await organizerSale(organizerContext, organizerPage, `Gate access ${run}`);
  await page.goto(`${base}/sales/${saleId}/gate`);
  assert(new URL(page.url()).pathname === '/login', `signed out: ${page.url()}`);
  await signUpApi(context, 'Visitor');
  const res = await page.goto(`${base}/sales/${saleId}/gate`);
  assert(res.status() === 403, `a participant: ${res.status()}`);
  assert((await page.textContent('h1')).includes('staff only'), 'a human page');
  return context;
});
