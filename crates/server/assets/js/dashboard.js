// dashboard.js: owns a sale's organizer dashboard (/organizer/sales/{id}).
// The open and close buttons; the live numbers, pushed over the page's live
// socket as `dashboard` messages (live.js; sold, held, available, the waiting
// room's joined / admitted / waiting, the command count; GET /api/sales/{id}
// and .../stats only while the socket is down, with live.js's backoff), revenue
// (price × sold for stock, else read from the organizer-only results when
// sales move); for drops the click-time histogram drawn from the leaderboard
// when clicks move; once the sale is closed, the results table with the
// buyers' or winners' contact data; and editing (PATCH /api/sales/{id}: the
// fields that are fixed since opening are disabled, and only changed ones are
// sent) and deleting (DELETE /api/sales/{id}) the sale. For sales with
// tickets, check-in progress (pushed too: tickets let in of those sold) and
// the conflicts of offline gates (GET /api/sales/{id}/checkin, read on load
// and again only when the pushed conflict count moves).

import { api, command, t, tn, locale, money, number, duration, dateTime, isoToMs, problemMessage, showMessage } from './app.js';
import { subscribe, isLive } from './live.js';

const $ = (id) => document.getElementById(id);
const root = $('dashboard');
const saleId = root.dataset.saleId;
const kind = root.dataset.kind;
const currency = root.dataset.currency || 'KRW';
const message = $('dash-message');
const histogram = $('histogram');
const SVG = histogram?.namespaceURI;

/** At most how often the results-based revenue and the histogram are read when they move. */
const REVENUE_MS = 5000;
const HISTOGRAM_MS = 2000;
const CHECKIN_MS = 2000;
const BUCKETS = 20;

let status = root.dataset.status;
let lastRevenueAt = 0;
let lastHistogramAt = 0;
let resultsShownFor = '';

function setText(id, text) {
  const e = $(id);
  if (e) e.textContent = text;
}

function showStatus(s) {
  status = s;
  root.dataset.status = s;
  const badge = $('dash-status');
  badge.textContent = t(`status.${s}`);
  badge.className = `badge status-${s}`;
  $('open-sale').disabled = s !== 'scheduled';
  $('close-sale').disabled = s === 'closed';
  lockFields(s);
}

async function refresh() {
  const r = await api('GET', `/api/sales/${saleId}`);
  if (!r.ok) return;
  const sale = r.data;
  if (!formFilled) {
    formFilled = true;
    fillForm(sale);
  }
  showStatus(sale.status);
  if (sale.stock) {
    setText('dash-sold', number(sale.stock.sold));
    setText('dash-held', number(sale.stock.held));
    setText('dash-available', number(sale.stock.available));
    setText('dash-revenue', money(sale.stock.price * sale.stock.sold, currency));
  } else if (sale.seated) {
    setText('dash-sold', number(sale.seated.sold));
    setText('dash-held', number(sale.seated.held));
    setText('dash-available', number(sale.seated.available));
    if (Date.now() - lastRevenueAt >= REVENUE_MS) {
      lastRevenueAt = Date.now();
      const res = await api('GET', `/api/sales/${saleId}/results`);
      if (res.ok) setText('dash-revenue', money(res.data.revenue, currency));
    }
  } else if (sale.drop) {
    setText('dash-sold', number(sale.drop.won));
    setText('dash-clicks', number(sale.drop.clicks));
    setText('dash-available', number(Math.max(0, sale.drop.winners - sale.drop.won)));
    if (Date.now() - lastHistogramAt >= HISTOGRAM_MS && sale.drop.clicks > 0) {
      lastHistogramAt = Date.now();
      await drawHistogram();
    }
  }
  if (sale.waiting_room) {
    setText('dash-joined', number(sale.waiting_room.joined));
    setText('dash-admitted', number(sale.waiting_room.admitted));
    setText('dash-waiting', number(sale.waiting_room.waiting));
  }
  await showRate();
  await showCheckin();
  setText('dash-updated', t('org.updated', { time: new Date().toLocaleTimeString(locale) }));
  if (sale.status === 'closed' && resultsShownFor !== 'closed') {
    resultsShownFor = 'closed';
    await showResults();
  }
}

let lastCount = null;

/** Commands per second since the previous reading of the sale's counter. */
async function showRate() {
  const r = await api('GET', `/api/sales/${saleId}/stats`);
  if (r.ok) showCount(r.data.commands_total, r.data.at_us);
}

function showCount(n, at) {
  const now = { n, at };
  if (lastCount && now.at > lastCount.at) {
    const perSecond = ((now.n - lastCount.n) * 1e6) / (now.at - lastCount.at);
    setText('dash-rps', number(Math.round(perSecond)));
  }
  lastCount = now;
}

/** Clicks per bucket of milliseconds after opening, as SVG bars. */
async function drawHistogram() {
  if (!histogram) return;
  const r = await api('GET', `/api/sales/${saleId}/leaderboard?limit=1000`);
  if (!r.ok) return;
  const times = r.data.entries.map((e) => Number(e.after_open_ms)).filter(Number.isFinite);
  histogram.replaceChildren();
  if (!times.length) return;
  const maxMs = Math.max(...times, 1);
  const width = maxMs / BUCKETS;
  const counts = new Array(BUCKETS).fill(0);
  const won = new Array(BUCKETS).fill(0);
  r.data.entries.forEach((e) => {
    const i = Math.min(BUCKETS - 1, Math.floor(Number(e.after_open_ms) / width));
    counts[i]++;
    if (e.won) won[i]++;
  });
  const top = Math.max(...counts);
  const W = 400;
  const H = 160;
  const barW = W / BUCKETS;
  histogram.setAttribute('viewBox', `0 0 ${W} ${H + 20}`);
  counts.forEach((c, i) => {
    const h = top ? (c / top) * H : 0;
    const bar = document.createElementNS(SVG, 'rect');
    bar.setAttribute('x', String(i * barW + 1));
    bar.setAttribute('y', String(H - h));
    bar.setAttribute('width', String(barW - 2));
    bar.setAttribute('height', String(h));
    bar.setAttribute('class', won[i] ? 'bar won' : 'bar');
    const title = document.createElementNS(SVG, 'title');
    title.textContent = tn('org.bucket', c, { from: duration(i * width), to: duration((i + 1) * width) });
    bar.append(title);
    histogram.append(bar);
  });
  for (const [x, label, anchor] of [[0, duration(0), 'start'], [W, duration(maxMs), 'end']]) {
    const text = document.createElementNS(SVG, 'text');
    text.setAttribute('x', String(x));
    text.setAttribute('y', String(H + 16));
    text.setAttribute('text-anchor', anchor);
    text.setAttribute('class', 'axis');
    text.textContent = label;
    histogram.append(text);
  }
  setText('histogram-text', tn('org.histogram_text', r.data.total, { n: number(times.length), total: number(r.data.total) }));
}

async function showResults() {
  const r = await api('GET', `/api/sales/${saleId}/results`);
  if (!r.ok) {
    showMessage(message, problemMessage(r.problem), 'error');
    return;
  }
  const body = $('results-body');
  body.replaceChildren();
  for (const p of r.data.recipients) {
    const tr = document.createElement('tr');
    // A drop's prizes are free: no amount column, no revenue.
    const cells = [kind === 'drop' ? number(p.order) : p.reference, p.name, p.email, number(p.quantity)];
    if (kind !== 'drop') cells.push(money(p.amount, currency));
    for (const v of cells) {
      const td = document.createElement('td');
      td.textContent = v;
      tr.append(td);
    }
    body.append(tr);
  }
  const n = r.data.recipients.length;
  const summary =
    kind === 'drop' ? tn('org.results_summary_drop', n) : tn('org.results_summary', n, { revenue: money(r.data.revenue, currency) });
  setText('results-summary', r.data.truncated ? `${summary} ${t('org.results_truncated')}` : summary);
  if (kind !== 'drop') setText('dash-revenue', money(r.data.revenue, currency));
  $('results-panel').hidden = false;
}

async function act(action) {
  for (const b of [$('open-sale'), $('close-sale')]) b.disabled = true;
  const r = await command('POST', `/api/sales/${saleId}/${action}`);
  if (r.ok) {
    showMessage(message, t(action === 'open' ? 'org.opened' : 'org.closed'), 'ok');
    showStatus(r.data.status);
  } else {
    showMessage(message, problemMessage(r.problem), 'error');
    showStatus(status);
  }
  if (!isLive()) await refresh();
}

$('open-sale').addEventListener('click', () => act('open'));
$('close-sale').addEventListener('click', () => {
  if (window.confirm(t('org.confirm_close'))) act('close');
});

// ---- Editing and deleting ----

const form = $('edit-form');
const FIELDS = ['title', 'description', 'opens_at', 'closes_at', 'stock', 'price', 'order_quantity_max', 'winners',
  'per_person_limit', 'hold_seconds', 'seats_per_hold_max'];
/** Each field's value as last read from the server: only fields that differ are sent. */
let initial = {};
let formFilled = false;

/** An RFC 3339 time as a datetime-local value in the viewer's zone. */
function localInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local value (the viewer's zone) as RFC 3339 UTC, or null (by hand). */
function rfc3339(value) {
  const ms = value ? new Date(value).getTime() : NaN;
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

function fillForm(sale) {
  const terms = sale.stock || sale.seated || {};
  const values = {
    title: sale.title,
    description: sale.description,
    opens_at: localInput(sale.opens_at),
    closes_at: localInput(sale.closes_at),
    stock: sale.stock?.total,
    price: sale.stock?.price,
    order_quantity_max: sale.stock?.order_quantity_max,
    winners: sale.drop?.winners,
    per_person_limit: terms.per_person_limit,
    hold_seconds: terms.hold_seconds,
    seats_per_hold_max: sale.seated?.seats_per_hold_max,
  };
  initial = {};
  for (const name of FIELDS) {
    const input = form.elements[name];
    if (!input) continue;
    input.value = values[name] ?? '';
    initial[name] = input.value;
  }
  lockFields(sale.status);
}

/** Opening fixes the times and the terms; closing fixes the closing time too. */
function lockFields(s) {
  if (!form) return;
  for (const input of form.querySelectorAll('[data-fixed]')) {
    input.disabled = input.dataset.fixed === 'open' ? s !== 'scheduled' : s === 'closed';
  }
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const body = {};
  for (const name of FIELDS) {
    const input = form.elements[name];
    if (!input || input.disabled || input.value === initial[name]) continue;
    if ('time' in input.dataset) body[name] = rfc3339(input.value);
    else if (input.type === 'number') body[name] = Number(input.value);
    else body[name] = input.value;
  }
  if (!Object.keys(body).length) {
    showMessage(message, t('org.nothing_changed'), 'ok');
    return;
  }
  $('edit-save').disabled = true;
  const r = await command('PATCH', `/api/sales/${saleId}`, { body });
  $('edit-save').disabled = false;
  if (r.ok) {
    fillForm(r.data);
    setText('dash-title', r.data.title);
    showMessage(message, t('org.saved'), 'ok');
  } else {
    showMessage(message, problemMessage(r.problem), 'error');
  }
});

$('delete-sale').addEventListener('click', async () => {
  if (!window.confirm(t('org.confirm_delete'))) return;
  const r = await command('DELETE', `/api/sales/${saleId}`);
  if (r.ok) window.location.assign('/organizer');
  else showMessage(message, problemMessage(r.problem), 'error');
});

/** Runs `read` now if it last ran `every` ms ago, else once when that time is up. */
function throttled(read, every) {
  let last = 0;
  let pending = null;
  return () => {
    if (pending) return;
    const wait = Math.max(0, last + every - Date.now());
    pending = setTimeout(async () => {
      last = Date.now();
      await read();
      pending = null;
    }, wait);
  };
}

const readRevenue = throttled(async () => {
  const res = await api('GET', `/api/sales/${saleId}/results`);
  if (res.ok) setText('dash-revenue', money(res.data.revenue, currency));
}, REVENUE_MS);
const readHistogram = throttled(drawHistogram, HISTOGRAM_MS);

/** What an offline gate's conflict was, in words (the gate page's texts). */
function conflictReason(code) {
  if (code === 'already-admitted') return t('gate.reason.already_admitted');
  if (code === 'ticket-revoked') return t('gate.reason.revoked');
  if (code === 'ticket-superseded') return t('gate.reason.superseded');
  return t('gate.reason.other', { code });
}

function showCheckinCount(tickets, admitted) {
  setText('checkin-admitted', number(admitted));
  setText('checkin-tickets', number(tickets));
  const bar = $('checkin-bar');
  bar.max = Math.max(1, tickets);
  bar.value = admitted;
}

async function showCheckin() {
  if (!$('checkin-panel')) return;
  const r = await api('GET', `/api/sales/${saleId}/checkin`);
  if (!r.ok) return;
  const { tickets, admitted, conflicts } = r.data;
  showCheckinCount(tickets, admitted);
  const list = $('checkin-conflicts');
  list.replaceChildren(
    ...conflicts.map((c) => {
      const li = document.createElement('li');
      li.className = 'row';
      li.dataset.ticket = String(c.ticket);
      li.textContent = t('staff.conflict_line', {
        ticket: c.ticket, holder: c.holder, gate: c.gate, time: dateTime(isoToMs(c.scanned_at)), reason: conflictReason(c.reason),
      });
      return li;
    }),
  );
  $('checkin-no-conflicts').hidden = conflicts.length > 0;
}
const readCheckin = throttled(showCheckin, CHECKIN_MS);

let lastPushed = null;

/** A `dashboard` message: the numbers as of the sale's newest durable batch. */
async function onDashboard(m) {
  const before = lastPushed;
  lastPushed = m;
  showStatus(m.status);
  setText('dash-sold', number(m.sold));
  setText('dash-held', number(m.held));
  setText('dash-available', number(m.available));
  if (m.revenue != null) setText('dash-revenue', money(m.revenue, currency));
  else if (kind === 'seated' && (!before || before.sold !== m.sold)) readRevenue();
  if (m.clicks != null) {
    setText('dash-clicks', number(m.clicks));
    if (m.clicks > 0 && (!before || before.clicks !== m.clicks)) readHistogram();
  }
  if (m.joined != null) {
    setText('dash-joined', number(m.joined));
    setText('dash-admitted', number(m.admitted));
    setText('dash-waiting', number(m.waiting));
  }
  if (m.tickets_admitted != null && $('checkin-panel')) {
    // One ticket per unit or seat sold; the list of conflicts only when it grows.
    showCheckinCount(m.sold, m.tickets_admitted);
    if (before && before.ticket_conflicts !== m.ticket_conflicts) readCheckin();
  }
  showCount(m.commands_total, m.at_us);
  setText('dash-updated', t('org.updated', { time: new Date().toLocaleTimeString(locale) }));
  if (m.status === 'closed' && resultsShownFor !== 'closed') {
    resultsShownFor = 'closed';
    await showResults();
  }
}

// The first read fills the edit form; from then on the socket pushes.
await refresh();
subscribe(saleId, 'dashboard', onDashboard, { poll: refresh, dashboard: true });
