// gate.js: owns the gate page (/sales/{id}/gate), where staff at the doors
// let ticket holders in. A ticket's QR text comes from the device camera
// (getUserMedia, the back camera, each video frame read by jsQR, a vendored
// classic script) or from a USB scanner that types it into the field and
// presses Enter. Each scan gets a big ADMIT or REFUSE with the seat or unit,
// the holder and the reason in words.
//
// Online, the server decides: POST /api/sales/{id}/checkin. When the device
// is offline, or the request cannot reach the server, the page decides from
// what it keeps in localStorage: the sale's public key and signed revocation
// list (the gate kit, GET /api/sales/{id}/gate-kit, refreshed every minute
// while online and checked before it is kept) and the tickets this gate has
// admitted. It checks the ticket's signature (ticket.js), the list and its
// own admissions, and queues each admission with a random nonce. Back
// online, it sends the queue (POST /api/sales/{id}/checkin/sync, at most
// 1,000 scans a call; the server remembers nonces, so a resend after a lost
// answer changes nothing) and lists what the server calls conflicts: a
// ticket another gate had admitted, or one revoked meanwhile.
//
// The gate's id (a random integer a JSON number holds exactly) and its name
// are the device's, kept across sales.

import { api, locale, problemMessage, showMessage, t } from './app.js';
import { base64urlDecode, importKey, openRevocationList, openTicket, revocationReason } from './ticket.js';

const $ = (id) => document.getElementById(id);
const root = $('gate');
const saleId = root.dataset.saleId;
const sale = BigInt(saleId);

/** Scans in one sync call: the API's limit. */
const SYNC_SCANS_MAX = 1000;
/** Offline scans kept before the gate stops admitting offline (localStorage holds about 5 MB). */
const QUEUE_MAX = 10_000;
/** Conflicts listed on the page, newest first. */
const CONFLICTS_SHOWN_MAX = 200;
/** A code still in view is read again only after it was out of view this long. */
const REPEAT_MS = 2000;
/** How often the kit is refreshed while online. */
const KIT_REFRESH_MS = 60_000;
/** How often a queue waiting for the network is retried. */
const SYNC_RETRY_MS = 15_000;
/** A verdict is dimmed after this long, so the next person is not read by the last one's. */
const VERDICT_FRESH_MS = 6000;
/** Frames are scaled down to this width before decoding: enough for a code at arm's length, and fast. */
const DECODE_WIDTH_MAX = 640;

const KEY_DEVICE = 'stampede.gate';
const key = (what) => `stampede.gate.${saleId}.${what}`;

function load(name, fallback) {
  try {
    const raw = localStorage.getItem(name);
    return raw ? JSON.parse(raw) : fallback;
  } catch {
    return fallback;
  }
}

/** Saves, and says so on the page when storage is full or blocked. */
function save(name, value) {
  try {
    localStorage.setItem(name, JSON.stringify(value));
    return true;
  } catch {
    showMessage($('gate-message'), t('gate.storage_full'), 'error');
    return false;
  }
}

/** A random integer in [1, 2^53 - 1]: unique enough, and exact in JSON. */
function randomSafeInt() {
  const w = new Uint32Array(2);
  crypto.getRandomValues(w);
  return (w[0] & 0x1f_ffff) * 2 ** 32 + w[1] || 1;
}

const device = load(KEY_DEVICE, {});
if (!Number.isSafeInteger(device.id) || device.id < 1) device.id = randomSafeInt();
if (typeof device.name !== 'string' || !device.name.trim()) device.name = t('gate.default_name', { id: String(device.id).slice(-4) });
save(KEY_DEVICE, device);

/** The last kit that verified: { public_key, revocations, revision, admitted, tickets, fetched_at }. */
let kit = load(key('kit'), null);
/** Tickets this gate let in: ticket id -> { at (ms), gate name }. */
const admitted = load(key('admitted'), {});
/** Offline admissions not yet synced: { nonce, scanned_at, qr, ticket }. */
let queue = load(key('queue'), []);
/** What syncs came back with, newest first. */
let conflicts = load(key('conflicts'), []);

const hhmm = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const timeText = (ms) => (Number.isFinite(ms) ? hhmm.format(new Date(ms)) : '');

function isOffline() {
  return navigator.onLine === false;
}

// ---- what the page shows ----------------------------------------------------

function renderStatus() {
  const offline = isOffline();
  const badge = $('gate-network');
  badge.textContent = offline ? t('gate.offline') : t('gate.online');
  badge.dataset.state = offline ? 'offline' : 'online';
  $('gate-id').textContent = String(device.id);
  root.dataset.kit = kit ? String(kit.revision) : '';
  root.dataset.queued = String(queue.length);
  if (kit) {
    $('gate-kit').textContent = t('gate.kit_status', { revision: kit.revision, time: timeText(kit.fetched_at) });
    $('gate-progress').textContent = t('gate.progress', { admitted: kit.admitted ?? 0, tickets: kit.tickets ?? 0 });
  } else {
    $('gate-kit').textContent = t('gate.no_kit');
    $('gate-progress').textContent = '';
  }
  $('queue-count').textContent = t('gate.queued', { count: queue.length });
  $('sync-now').disabled = !queue.length || offline;
  const list = $('conflicts');
  list.replaceChildren(
    ...conflicts.map((c) => {
      const li = document.createElement('li');
      li.dataset.ticket = c.ticket;
      li.textContent = t('gate.conflict_line', { ticket: c.ticket, time: timeText(c.scanned_at_ms), reason: reasonText({ reason: c.reason }) });
      return li;
    }),
  );
  $('conflicts-panel').hidden = !conflicts.length;
}

function placeText(place) {
  if (!place) return '';
  if (place.seat !== undefined) return t('gate.seat', { seat: place.seat });
  if (place.unit !== undefined) return t('gate.unit', { unit: place.unit });
  // Offline the page knows only the numbers the ticket carries.
  if (place.kind === 'seat') return t('gate.seat_no', { id: place.id });
  if (place.kind === 'unit') return t('gate.unit', { unit: place.id });
  return '';
}

/** The reason in words: when and where for a second entry. */
function reasonText(v) {
  switch (v.reason) {
    case 'already-admitted': {
      const time = timeText(v.at_ms);
      if (time && v.gate) return t('gate.reason.already_admitted_at', { time, gate: v.gate });
      if (time) return t('gate.reason.already_admitted_time', { time });
      return t('gate.reason.already_admitted');
    }
    case 'ticket-revoked':
      return t('gate.reason.revoked');
    case 'ticket-superseded':
      return t('gate.reason.superseded');
    case 'wrong-sale':
      return t('gate.reason.wrong_sale');
    case 'bad-signature':
      return t('gate.reason.forged');
    case 'unknown-ticket':
      return t('gate.reason.unknown');
    case 'nonce-reused':
      return t('gate.reason.nonce_reused');
    case 'no-kit':
      return t('gate.reason.no_kit');
    case 'no-webcrypto':
      return t('gate.reason.no_webcrypto');
    case 'queue-full':
      return t('gate.reason.queue_full');
    default:
      return v.reason ? t('gate.reason.other', { code: v.reason }) : '';
  }
}

let staleTimer = 0;

/** The verdict panel: `v` = { admitted, reason, ticket, place, holder, at_ms, gate, offline }. */
function showVerdict(v) {
  const panel = $('verdict');
  panel.hidden = false;
  panel.dataset.stale = 'false';
  clearTimeout(staleTimer);
  staleTimer = setTimeout(() => {
    panel.dataset.stale = 'true';
  }, VERDICT_FRESH_MS);
  panel.dataset.verdict = v.admitted ? 'admitted' : 'refused';
  panel.dataset.reason = v.reason || '';
  panel.dataset.mode = v.offline ? 'offline' : 'online';
  $('verdict-word').textContent = v.admitted ? t('gate.admit') : t('gate.refuse');
  $('verdict-place').textContent = placeText(v.place);
  $('verdict-holder').textContent = v.holder ?? '';
  $('verdict-reason').textContent = reasonText(v);
  $('verdict-ticket').textContent = v.ticket ? t('gate.ticket_no', { ticket: v.ticket }) : '';
  $('verdict-mode').textContent = v.offline ? t('gate.checked_offline') : t('gate.checked_online');
  // Restarts the flash, so two refusals in a row still catch the eye.
  panel.classList.remove('flash');
  void panel.offsetWidth;
  panel.classList.add('flash');
  if (navigator.vibrate) navigator.vibrate(v.admitted ? 80 : [80, 60, 80, 60, 200]);
}

// ---- checking a ticket ----------------------------------------------------

function remember(ticket, atMs) {
  admitted[ticket] = { at: atMs, gate: device.name };
  save(key('admitted'), admitted);
}

async function checkOnline(qr) {
  const r = await api('POST', `/api/sales/${saleId}/checkin`, { body: { qr, gate: device.id, gate_name: device.name } });
  if (r.ok) {
    const d = r.data || {};
    const atMs = d.admitted_at ? Date.parse(d.admitted_at) : NaN;
    const ok = d.verdict === 'admitted';
    if (ok && d.ticket !== undefined) remember(String(d.ticket), Number.isFinite(atMs) ? atMs : Date.now());
    return {
      admitted: ok,
      reason: d.reason,
      ticket: d.ticket,
      place: d.place,
      holder: d.holder,
      at_ms: atMs,
      gate: d.admitted_gate,
    };
  }
  // Unreachable or a gateway error: the page decides itself.
  if (r.status === 0 || (r.status >= 502 && r.status <= 504)) return null;
  showMessage($('gate-message'), problemMessage(r.problem), 'error');
  return undefined;
}

async function checkOffline(qr) {
  const base = { admitted: false, offline: true };
  if (!kit) return { ...base, reason: 'no-kit' };
  let publicKey;
  try {
    publicKey = await importKey(kit.public_key);
  } catch {
    return { ...base, reason: 'no-webcrypto' };
  }
  let payload;
  try {
    payload = await openTicket(qr, publicKey);
  } catch {
    return { ...base, reason: 'bad-signature' };
  }
  const ticket = payload.ticket.toString();
  const v = { ...base, ticket, place: payload.place, holder: t('gate.holder_no', { id: payload.holder.toString() }) };
  let list;
  try {
    list = await openRevocationList(base64urlDecode(kit.revocations), publicKey);
  } catch {
    return { ...v, reason: 'no-kit' };
  }
  const revoked = revocationReason(list, payload);
  if (revoked) return { ...v, reason: revoked };
  const seen = admitted[ticket];
  if (seen) return { ...v, reason: 'already-admitted', at_ms: seen.at, gate: seen.gate };
  if (queue.length >= QUEUE_MAX) return { ...v, reason: 'queue-full' };
  const now = Date.now();
  queue.push({ nonce: randomSafeInt(), scanned_at: new Date(now).toISOString(), qr, ticket });
  save(key('queue'), queue);
  remember(ticket, now);
  return { ...v, admitted: true, reason: null };
}

let busy = false;

/** One scan from the camera or the field. */
async function check(raw) {
  const qr = String(raw).replace(/\s+/g, '').toUpperCase();
  if (!qr || busy) return;
  busy = true;
  try {
    showMessage($('gate-message'), '');
    let v = isOffline() ? null : await checkOnline(qr);
    if (v === null) v = await checkOffline(qr);
    if (v) showVerdict(v);
  } finally {
    busy = false;
    renderStatus();
  }
}

// ---- the kit and the queue ------------------------------------------------

async function refreshKit() {
  if (isOffline()) return;
  const r = await api('GET', `/api/sales/${saleId}/gate-kit`);
  if (!r.ok) {
    if (r.status !== 0) showMessage($('gate-message'), problemMessage(r.problem), 'error');
    return;
  }
  const d = r.data || {};
  try {
    // Kept only once it verifies: a list that does not would refuse nothing.
    const list = await openRevocationList(base64urlDecode(d.revocations), await importKey(d.public_key));
    if (list.sale !== sale) throw new Error('another sale');
    // The list's revision only rises; an older copy (a stale cache) is not taken over a newer one.
    if (kit && kit.public_key === d.public_key && kit.revision > Number(list.revision)) return;
    kit = {
      public_key: d.public_key,
      revocations: d.revocations,
      revision: Number(list.revision),
      admitted: d.admitted,
      tickets: d.tickets,
      fetched_at: Date.now(),
    };
    save(key('kit'), kit);
  } catch {
    showMessage($('gate-message'), t('gate.kit_invalid'), 'error');
  } finally {
    renderStatus();
  }
}

let syncing = false;

async function sync() {
  if (syncing || !queue.length || isOffline()) return;
  syncing = true;
  try {
    while (queue.length) {
      const batch = queue.slice(0, SYNC_SCANS_MAX);
      const scans = batch.map(({ nonce, scanned_at, qr }) => ({ nonce, scanned_at, qr }));
      const r = await api('POST', `/api/sales/${saleId}/checkin/sync`, { body: { gate: device.id, gate_name: device.name, scans } });
      if (!r.ok) {
        if (r.status !== 0) showMessage($('gate-message'), problemMessage(r.problem), 'error');
        return;
      }
      const verdicts = r.data?.verdicts;
      if (!Array.isArray(verdicts) || verdicts.length !== batch.length) {
        showMessage($('gate-message'), t('gate.sync_garbled'), 'error');
        return;
      }
      batch.forEach((scan, i) => {
        const v = verdicts[i] || {};
        if (v.verdict === 'admitted') return;
        conflicts.unshift({
          ticket: scan.ticket,
          scanned_at_ms: Date.parse(scan.scanned_at),
          reason: v.verdict === 'conflict' ? v.reason : v.verdict,
        });
      });
      conflicts = conflicts.slice(0, CONFLICTS_SHOWN_MAX);
      save(key('conflicts'), conflicts);
      // Scans queued while this call was out stay behind the batch.
      queue = queue.slice(batch.length);
      save(key('queue'), queue);
      showMessage($('gate-message'), t('gate.synced', { count: batch.length }), 'ok');
    }
  } finally {
    syncing = false;
    renderStatus();
  }
}

// ---- the camera -------------------------------------------------------------

const video = $('camera-video');
const canvas = document.createElement('canvas');
const ctx = canvas.getContext('2d', { willReadFrequently: true });
let stream = null;
let last = { text: '', seenAt: 0 };

function nextFrame() {
  if (!stream) return;
  if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(readFrame);
  else requestAnimationFrame(readFrame);
}

function readFrame() {
  if (!stream) return;
  const w0 = video.videoWidth;
  const h0 = video.videoHeight;
  if (w0 && h0 && globalThis.jsQR && !busy) {
    const scale = Math.min(1, DECODE_WIDTH_MAX / w0);
    const w = Math.round(w0 * scale);
    const h = Math.round(h0 * scale);
    if (canvas.width !== w) canvas.width = w;
    if (canvas.height !== h) canvas.height = h;
    ctx.drawImage(video, 0, 0, w, h);
    const code = globalThis.jsQR(ctx.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: 'dontInvert' });
    if (code?.data) {
      const now = performance.now();
      const again = code.data === last.text && now - last.seenAt < REPEAT_MS;
      last = { text: code.data, seenAt: now };
      if (!again) check(code.data);
    }
  }
  nextFrame();
}

async function startCamera() {
  if (!navigator.mediaDevices?.getUserMedia) {
    showMessage($('camera-message'), t('gate.camera_unavailable'), 'warn');
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  } catch {
    showMessage($('camera-message'), t('gate.camera_denied'), 'warn');
    return;
  }
  showMessage($('camera-message'), '');
  video.srcObject = stream;
  video.hidden = false;
  await video.play().catch(() => {});
  $('camera-start').hidden = true;
  $('camera-stop').hidden = false;
  root.dataset.camera = 'on';
  nextFrame();
}

function stopCamera() {
  for (const track of stream?.getTracks() ?? []) track.stop();
  stream = null;
  video.srcObject = null;
  video.hidden = true;
  $('camera-start').hidden = false;
  $('camera-stop').hidden = true;
  root.dataset.camera = 'off';
}

// ---- wiring -----------------------------------------------------------------

$('camera-start').addEventListener('click', startCamera);
$('camera-stop').addEventListener('click', stopCamera);

const field = $('scan-input');
$('scan-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = field.value;
  field.value = '';
  await check(text);
  // A USB scanner types the next code into the same field.
  field.focus();
});

const nameField = $('gate-name');
nameField.value = device.name;
nameField.addEventListener('change', () => {
  const name = nameField.value.trim();
  if (!name) {
    nameField.value = device.name;
    return;
  }
  device.name = name.slice(0, 100);
  save(KEY_DEVICE, device);
});

$('sync-now').addEventListener('click', sync);
$('kit-refresh').addEventListener('click', refreshKit);

window.addEventListener('online', async () => {
  renderStatus();
  await refreshKit();
  await sync();
});
window.addEventListener('offline', renderStatus);
setInterval(refreshKit, KIT_REFRESH_MS);
setInterval(sync, SYNC_RETRY_MS);

renderStatus();
root.dataset.ready = 'true';
await refreshKit();
await sync();
