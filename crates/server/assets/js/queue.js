// queue.js: owns the waiting room in front of a sale. The live line over
// the page's live socket (live.js, `queue` messages: one shared status
// message per change: admitted, waiting, rate, sold out, closed; GET
// /api/sales/{id}/queue while the socket is down), joining with a proof of work
// solved here with WebCrypto SHA-256 (with progress; a small SHA-256 of its
// own where WebCrypto is missing, on plain http other than localhost), the viewer's place,
// people ahead and an ETA counted down between messages, and, once admitted,
// the pass from GET queue/me (204 while not in line): it is handed to app.js
// (sent as stampede-pass) and the sale's own buying script is loaded. A pass
// is good until it expires or its holder bought up to the per-person limit;
// after each purchase (app.js's `stampede:bought`) the ticket is read again,
// so the page says how many more the pass allows and until when, and once it
// ended, why, and that the line cannot be joined again (buying is hidden then,
// but a hold already taken can still be paid for).

import {
  api, command, t, number, problemMessage, problemSlug, clockText, showMessage, userId, setPass, showSaleStatus,
} from './app.js';
import { serverNow, syncClock } from './clock.js';
import { subscribe } from './live.js';

const $ = (id) => document.getElementById(id);
const root = $('sale');
const saleId = root.dataset.saleId;
const kind = root.dataset.kind;
const signedIn = root.dataset.signedIn === 'true';
const message = $('queue-message');
const POW_DOMAIN = new TextEncoder().encode('stampede-pow-v1');
/** Hashes tried per batch while solving (one await per batch keeps the page responsive). */
const POW_BATCH = 256;

let status = null;
let ticket = null;
let statusAt = 0;
let admittedShown = false;
let scriptLoaded = false;
let passTimer = 0;
let expiryAsked = false;
let joining = false;

function hexBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function leadingZeroBits(bytes) {
  let bits = 0;
  for (const b of bytes) {
    if (b === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(b) - 24;
  }
  return bits;
}

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** SHA-256 in plain JavaScript, for browsers without WebCrypto (insecure origins). */
export function sha256(msg) {
  const blocks = Math.ceil((msg.length + 9) / 64);
  const buf = new Uint8Array(blocks * 64);
  buf.set(msg);
  buf[msg.length] = 0x80;
  const view = new DataView(buf.buffer);
  view.setUint32(buf.length - 4, msg.length * 8);
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const w = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let b = 0; b < blocks; b++) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(b * 64 + 4 * i);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    let [a, bb, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & bb) ^ (a & c) ^ (bb & c))) >>> 0;
      hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = bb; bb = a; a = (t1 + t2) >>> 0;
    }
    h[0] += a; h[1] += bb; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  h.forEach((x, i) => ov.setUint32(4 * i, x));
  return out.buffer;
}

/** SHA-256 with WebCrypto where the page has it, else in JavaScript. */
function digest(msg) {
  return globalThis.crypto?.subtle ? crypto.subtle.digest('SHA-256', msg) : Promise.resolve(sha256(msg));
}

/**
 * Finds a nonce with SHA-256("stampede-pow-v1" || commitment || user id u64 LE || nonce u64 LE)
 * starting with `bits` zero bits; `progress(tries)` is called after each batch.
 */
async function solvePow(commitmentHex, user, bits, progress) {
  const commitment = hexBytes(commitmentHex);
  const head = new Uint8Array(POW_DOMAIN.length + 32 + 8);
  head.set(POW_DOMAIN, 0);
  head.set(commitment, POW_DOMAIN.length);
  new DataView(head.buffer).setBigUint64(POW_DOMAIN.length + 32, BigInt(user), true);
  for (let start = 0; ; start += POW_BATCH) {
    const jobs = [];
    for (let n = start; n < start + POW_BATCH; n++) {
      const msg = new Uint8Array(head.length + 8);
      msg.set(head, 0);
      new DataView(msg.buffer).setBigUint64(head.length, BigInt(n), true);
      jobs.push(digest(msg));
    }
    const hashes = await Promise.all(jobs);
    for (let i = 0; i < hashes.length; i++) {
      if (leadingZeroBits(new Uint8Array(hashes[i])) >= bits) return start + i;
    }
    progress(start + POW_BATCH);
  }
}

function show(id, on) {
  const e = $(id);
  if (e) e.hidden = !on;
}

/** One of the big boxes: a number, or words (set smaller, so they wrap at spaces, never inside a word). */
function box(id, text, words = false) {
  const e = $(id);
  e.textContent = text;
  e.classList.toggle('words', words);
}

function timeOfDay(ms) {
  return new Intl.DateTimeFormat(document.documentElement.dataset.locale || 'en-US', { timeStyle: 'short' }).format(new Date(ms));
}

/** Renders the line and the viewer's place from the newest status and ticket. */
function render() {
  if (!status) return;
  $('queue-joined').textContent = number(status.joined);
  $('queue-admitted-count').textContent = number(status.admitted);
  $('queue-waiting').textContent = number(status.waiting);
  showSaleStatus(status.status);
  let notice = '';
  if (status.status === 'closed') notice = t('queue.closed');
  else if (status.sold_out) notice = t('queue.sold_out');
  showMessage($('queue-notice'), notice, notice ? 'warn' : '');
  const joinButton = $('queue-join');
  if (joinButton) joinButton.disabled = joining || !!notice;
  if (!ticket) {
    show('queue-mine', false);
    return;
  }
  show('queue-join-box', false);
  show('queue-mine', true);
  $('queue-ticket').textContent = number(ticket.ticket);
  // Once the pass ended, a place in line means nothing more ("your turn", "now" would mislead).
  // Once the sale closed, nobody's turn comes and a pass buys nothing new; a
  // hold already taken can still be paid, below, so only the line's words go.
  const closed = status.status === 'closed';
  const over = root.dataset.pass === 'ended' || closed;
  show('queue-state', !over);
  show('queue-big', !over);
  if (closed) show('queue-admitted', false);
  if (over) {
    show('queue-keep', false);
    return;
  }
  if (ticket.place == null || status.prequeue) {
    box('queue-place', t('queue.place_unknown'), true);
    box('queue-ahead', '–');
    if (status.status === 'scheduled') box('queue-eta', t('queue.eta_at_opening'), true);
    else box('queue-eta', '–');
    $('queue-state').textContent = t('queue.prequeue');
    show('queue-keep', true);
    return;
  }
  const ahead = Math.max(0, ticket.place - status.admitted - 1);
  const yourTurn = ticket.admitted || ticket.place <= status.admitted;
  box('queue-place', number(yourTurn ? 0 : ticket.place - status.admitted));
  box('queue-ahead', number(yourTurn ? 0 : ahead));
  // Waiting is over: nothing more happens by keeping the page open.
  show('queue-keep', !yourTurn);
  if (yourTurn) {
    box('queue-eta', t('queue.now'), true);
    $('queue-state').textContent = t('queue.your_turn');
  } else {
    const rate = status.rate_per_s || 0;
    const elapsed = (serverNow() - statusAt) / 1000;
    const eta = rate > 0 ? Math.max(0, ahead / rate - elapsed) : null;
    if (eta == null) box('queue-eta', t('queue.eta_unknown'), true);
    else box('queue-eta', clockText(eta * 1000));
    $('queue-state').textContent = status.status === 'scheduled' ? t('queue.waiting_open') : t('queue.waiting');
  }
}

async function readTicket() {
  const r = await api('GET', `/api/sales/${saleId}/queue/me`);
  if (r.ok) {
    ticket = r.status === 204 ? null : r.data;
    // The words first: admitting loads the buying script, and the panel it
    // shows must not sit there without saying it is your turn meanwhile.
    render();
    if (ticket?.pass && ticket.pass_state === 'admitted') await admit();
    else if (ticket && ['used', 'expired'].includes(ticket.pass_state)) await passEnded();
  }
  render();
}

/** What the live pass still allows, and until when. */
function showPass() {
  const end = ticket.pass_expires_at_us / 1000;
  // A drop's pass is one click: nothing to count.
  const counts = kind !== 'drop';
  show('queue-pass-allows', counts);
  if (counts) $('queue-pass-allows').textContent = t('queue.pass_allows', { left: number(ticket.pass_left), limit: number(ticket.per_person_limit) });
  $('queue-pass-until').textContent = t('queue.pass_until', { time: timeOfDay(end) });
}

/** The sale's own buying script, once; it also picks up a hold taken earlier. */
async function loadBuying() {
  for (const e of document.querySelectorAll('[data-after-admission]')) e.hidden = false;
  if (scriptLoaded) return;
  scriptLoaded = true;
  const script = { stock: 'stock.js', drop: 'drop.js', seated: 'seats.js' }[kind];
  if (script) await import(`./${script}`);
}

/** Admitted: the pass goes with buying commands, and the sale's buying page comes up. */
async function admit() {
  setPass(ticket.pass);
  showPass();
  if (admittedShown) return;
  admittedShown = true;
  show('queue-admitted', true);
  const end = ticket.pass_expires_at_us / 1000;
  const tick = () => {
    const left = end - serverNow();
    $('queue-pass-timer').textContent = left > 0 ? clockText(left) : t('time.expired');
    // The server decides when the pass ended; ask it once the lifetime is up.
    if (left <= 0 && !expiryAsked) {
      expiryAsked = true;
      readTicket();
    }
  };
  tick();
  passTimer = setInterval(tick, 500);
  await loadBuying();
}

/**
 * The pass ended (bought up to the limit, clicked, or expired): buying is
 * hidden (CSS, by #sale[data-pass="ended"]), and the page says why and that
 * the line cannot be joined again.
 */
async function passEnded() {
  setPass('');
  clearInterval(passTimer);
  root.dataset.pass = 'ended';
  show('queue-admitted', false);
  const ended = ticket.pass_ended_at_us / 1000;
  let why;
  if (ticket.pass_state === 'expired') why = t('queue.ended_expired', { time: timeOfDay(ended) });
  else if (kind === 'drop') why = t('queue.ended_clicked');
  else why = t('queue.ended_limit', { bought: number(ticket.bought), limit: number(ticket.per_person_limit) });
  $('queue-ended-text').textContent = why;
  const bought = ticket.pass_state === 'expired' && kind !== 'drop' && ticket.bought > 0;
  show('queue-ended-bought', bought);
  if (bought) $('queue-ended-bought').textContent = t('queue.ended_bought', { bought: number(ticket.bought), limit: number(ticket.per_person_limit) });
  show('queue-ended', true);
  await loadBuying();
}

async function join() {
  if (joining || !status) return;
  joining = true;
  render();
  showMessage(message, '');
  const bits = status.pow_bits;
  const expected = 2 ** bits;
  show('queue-pow', true);
  const bar = $('queue-pow-meter');
  bar.max = 1;
  bar.value = 0;
  $('queue-pow-text').textContent = t('queue.solving', { tries: number(0) });
  let nonce;
  try {
    nonce = await solvePow(status.commitment, Number(userId()), bits, (tries) => {
      // The chance of having found one by now: 1 - (1 - 2^-bits)^tries.
      bar.value = 1 - Math.exp(-tries / expected);
      $('queue-pow-text').textContent = t('queue.solving', { tries: number(tries) });
    });
  } catch {
    joining = false;
    show('queue-pow', false);
    showMessage(message, t('queue.no_webcrypto'), 'error');
    render();
    return;
  }
  bar.value = 1;
  $('queue-pow-text').textContent = t('queue.joining');
  const r = await command('POST', `/api/sales/${saleId}/queue/join`, { body: { nonce } });
  joining = false;
  show('queue-pow', false);
  if (r.ok) {
    ticket = r.data;
    if (ticket.admitted) await readTicket();
  } else if (problemSlug(r.problem) === 'bad-proof-of-work') {
    // The organizer raised the difficulty meanwhile: solve again with the new bits.
    const s = await api('GET', `/api/sales/${saleId}/queue`);
    if (s.ok) onStatus(s.data);
    showMessage(message, t('queue.pow_changed'), 'warn');
  } else {
    showMessage(message, problemMessage(r.problem), 'error');
  }
  render();
}

function onStatus(s) {
  const before = status;
  status = s;
  statusAt = serverNow();
  // Read the ticket again when it may have changed: places drawn, or our turn come.
  if (ticket && !admittedShown) {
    const shuffled = before?.prequeue && !s.prequeue;
    const turn = ticket.place != null && ticket.place <= s.admitted;
    if (shuffled || turn || ticket.place == null) readTicket();
  }
  render();
}

async function pollStatus() {
  const r = await api('GET', `/api/sales/${saleId}/queue`);
  if (r.ok) onStatus(r.data);
}

$('queue-join')?.addEventListener('click', join);
// A purchase counts against the pass: read what it still allows.
document.addEventListener('stampede:bought', () => {
  if (ticket) readTicket();
});
syncClock();
await pollStatus();
if (signedIn) await readTicket();
subscribe(saleId, 'queue', onStatus, { poll: pollStatus });
setInterval(render, 1000);
// A slow safety net: the ticket is read again now and then while waiting.
setInterval(() => {
  if (signedIn && ticket && !admittedShown && !document.hidden) readTicket();
}, 5000);
