// seats.js: owns a seated sale's page. The SVG seat map drawn from
// GET /api/sales/{id}/venue (the whole venue with one <path> per section,
// coloured by its share of free seats; a tapped section is zoomed into with
// the SVG viewBox and only then are its seats drawn, one element each, so a
// 50,000-seat venue keeps a small DOM), kept live over the page's live
// socket (live.js, `seats` messages: a bitset snapshot, then deltas; a gap
// in seq asks for a new snapshot; GET /api/sales/{id}/seats while the socket
// is down), the price legend, choosing seats, holding them (chosen or best
// available), the hold timer, confirming and cancelling. A seats-taken
// refusal marks the seats it names taken at once. With friends (from
// GET /api/me/friends), each chosen seat gets a select saying who sits
// there, sent as the hold's `holders`.
//
// The live update about the viewer's own hold usually arrives before the
// hold's answer (both leave the server once the hold is durable), so the
// seats of a hold on its way (`pending`) are never reported as taken by
// someone else; only its answer says what became of them.
//
// Keyboard: sections are buttons; in a zoomed section the seats form one
// roving tab stop (only the current seat has tabindex 0), arrows move along
// a row (up and down to the nearest seat of the next row), Home and End go
// to a row's ends, Enter or Space chooses, Escape goes back to all sections.
// Each seat is named "Balcony H-39, ₩90,000, free"; the names are set only
// for the zoomed section, so a 50,000-seat venue keeps a small DOM.

import { api, command, t, tn, money, number, problemMessage, problemSlug, isoToMs, clockText, showMessage, userId, labelPayButton, payWithWallet, payByCard } from './app.js';
import { serverNow, syncClock } from './clock.js';
import { subscribe, restart, isLive } from './live.js';

const $ = (id) => document.getElementById(id);
const root = $('sale');
const saleId = root.dataset.saleId;
const currency = root.dataset.currency;
const panel = $('seated-panel');
const holdMax = Math.max(1, Number(panel.dataset.holdMax) || 1);
const wrap = $('seatmap');
const svg = $('seatmap-svg');
/** The SVG namespace, taken from the page's own <svg> element. */
const SVG = svg.namespaceURI;
const message = $('seat-message');
const chooser = $('seat-choose');
/** Seats drawn this big (CSS px between neighbours) at least when zoomed: a finger's width. */
const MIN_SEAT_PX = 26;

let venue = null;
/** Seat i is taken when bit i % 8 of byte i / 8 is set. */
let taken = new Uint8Array(0);
let sectionFree = [];
let status = root.dataset.status;
let lastSeq = -1;
let zoomed = null;
/** Seat id -> its element, for the zoomed section only. */
let seatEls = new Map();
const selected = new Set();
/** Seats bought by or for the viewer, shown as theirs: seat id -> 'mine' or 'friend' (the viewer booked it for a friend). */
const owned = new Map();
/** The seats of a hold request on its way: they may show up taken before its answer does. */
const pending = new Set();
/** The zoomed section's seat that takes focus (the roving tab stop). */
let focusId = null;
/** Marks (a check for mine, a ring for a friend's) drawn over seats, by seat id. */
let markEls = new Map();
let markLayer = null;
let hold = null;
let timer = null;
let busy = false;
/** The viewer's friends ({id, name}), who may be given seats. */
let friends = [];
/** Seat id -> the user id chosen to sit there (absent: the viewer). */
const holderOf = new Map();

const isTaken = (id) => (taken[id >> 3] & (1 << (id & 7))) !== 0;
function setTaken(id, on) {
  if (id >> 3 >= taken.length) return;
  if (on) taken[id >> 3] |= 1 << (id & 7);
  else taken[id >> 3] &= ~(1 << (id & 7));
}

function el(name, attrs = {}, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

const round = (n) => Math.round(n * 10) / 10;

/** Bounds and seat spacing of each section, computed once. */
function prepare(v) {
  for (const s of v.sections) {
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity, gap = Infinity, count = 0;
    for (const row of s.rows) {
      row.seats.forEach(([, x, y], i) => {
        minX = Math.min(minX, x); maxX = Math.max(maxX, x);
        minY = Math.min(minY, y); maxY = Math.max(maxY, y);
        if (i > 0) {
          const [, px, py] = row.seats[i - 1];
          const d = Math.hypot(x - px, y - py);
          if (d > 0) gap = Math.min(gap, d);
        }
      });
      count += row.seats.length;
    }
    s.count = count;
    s.gap = Number.isFinite(gap) ? gap : 10;
    s.box = count ? { minX, minY, maxX, maxY } : { minX: 0, minY: 0, maxX: 0, maxY: 0 };
    s.last = s.first_seat + count;
  }
  v.gap = Math.min(...v.sections.map((s) => s.gap), 10);
  const boxes = v.sections.filter((s) => s.count).map((s) => s.box);
  v.box = boxes.length
    ? {
        minX: Math.min(...boxes.map((b) => b.minX)), minY: Math.min(...boxes.map((b) => b.minY)),
        maxX: Math.max(...boxes.map((b) => b.maxX)), maxY: Math.max(...boxes.map((b) => b.maxY)),
      }
    : { minX: 0, minY: 0, maxX: 100, maxY: 100 };
}

/** A section's colour by its share of free seats: green when most are free, red when few, grey when none. */
function availabilityColour(free, total) {
  if (!total || free <= 0) return '#9a9aa6';
  const share = free / total;
  return `hsl(${Math.round(10 + 120 * share)} 62% 44%)`;
}

function sectionIndexOf(id) {
  return venue.sections.findIndex((s) => id >= s.first_seat && id < s.last);
}

/** The section, row and label of a seat id, for messages. */
function seatName(id) {
  const s = venue.sections[sectionIndexOf(id)];
  if (!s) return `#${id}`;
  const row = s.rows.find((r) => id >= r.first_seat && id < r.first_seat + r.seats.length);
  return row ? `${s.name} ${row.label}-${row.seats[id - row.first_seat][0]}` : s.name;
}

function sizeSvg(box, pad, zoomedIn, gap) {
  const w = box.maxX - box.minX + 2 * pad;
  const h = box.maxY - box.minY + 2 * pad;
  svg.setAttribute('viewBox', `${round(box.minX - pad)} ${round(box.minY - pad)} ${round(w)} ${round(h)}`);
  const avail = Math.max(200, wrap.clientWidth - 2);
  let px = avail;
  if (zoomedIn) px = Math.max(avail, Math.ceil((w / gap) * MIN_SEAT_PX));
  svg.setAttribute('width', String(px));
  svg.setAttribute('height', String(Math.max(80, Math.ceil((px * h) / w))));
  wrap.classList.toggle('scrolls', px > avail);
}

/** The whole venue: the stage, and each section as one path through its rows. */
function drawOverview() {
  zoomed = null;
  seatEls = new Map();
  svg.replaceChildren();
  const b0 = venue.box;
  const width = b0.maxX - b0.minX;
  // The stage and labels grow with the venue, so they stay readable when it is scaled to the screen.
  const u = Math.max(venue.gap, width / 60);
  sizeSvg({ ...b0, minY: b0.minY - 5 * u }, 2 * u, false, u);
  const stageW = Math.max(width, 4 * u);
  svg.append(el('rect', { class: 'stage', x: b0.minX, y: b0.minY - 5 * u, width: stageW, height: 2.4 * u, rx: u / 2 }));
  svg.append(el('text', { class: 'stage-label', x: b0.minX + stageW / 2, y: b0.minY - 3.8 * u, 'font-size': 1.4 * u }, t('seats.stage')));
  venue.sections.forEach((s, i) => {
    if (!s.count) return;
    const group = el('g', { class: 'section', 'data-section': i, tabindex: 0, role: 'button' });
    let d = '';
    for (const row of s.rows) {
      row.seats.forEach(([, x, y], k) => {
        d += `${k ? 'L' : 'M'}${x} ${y}`;
      });
      if (row.seats.length === 1) d += 'h0.01';
    }
    const b = s.box;
    const pad = s.gap * 0.8;
    group.append(el('rect', {
      class: 'section-box', x: b.minX - pad, y: b.minY - pad, width: b.maxX - b.minX + 2 * pad,
      height: b.maxY - b.minY + 2 * pad, rx: pad, stroke: s.colour, 'stroke-width': Math.max(s.gap / 4, u / 6),
    }));
    group.append(el('path', { class: 'section-seats', d, 'stroke-width': s.gap * 0.7 }));
    group.append(el('text', { class: 'section-label', x: (b.minX + b.maxX) / 2, y: (b.minY + b.maxY) / 2, 'font-size': Math.min(Math.max(1.6 * s.gap, width / 30), (b.maxX - b.minX + 2 * pad) / 2) }, s.name));
    svg.append(group);
  });
  paintSections();
  $('seat-legend').style.removeProperty('--free');
  $('zoom-out').hidden = true;
  $('zoom-title').textContent = t('seats.tap_section');
  svg.setAttribute('aria-label', t('seats.map_label'));
}

function paintSections() {
  for (const group of svg.querySelectorAll('g.section')) {
    const i = Number(group.dataset.section);
    const s = venue.sections[i];
    const free = sectionFree[i] ?? s.count;
    group.querySelector('.section-seats').setAttribute('stroke', availabilityColour(free, s.count));
    group.setAttribute('aria-label', `${s.name}: ${t('seats.free_of', { free: number(free), total: number(s.count) })}`);
    group.dataset.free = String(free);
  }
}

function seatState(id) {
  if (owned.has(id)) return owned.get(id);
  const held = hold?.seats?.find((x) => x.id === id);
  if (held) return held.holder_id && held.holder_id !== Number(userId()) ? 'friend' : 'mine';
  if (selected.has(id)) return 'selected';
  return isTaken(id) ? 'taken' : 'free';
}

/** A seat's accessible name: "Balcony H-39, ₩90,000, free". */
function seatLabel(id, state) {
  const s = venue.sections[sectionIndexOf(id)];
  return t('seats.seat_label', { seat: seatName(id), price: money(s?.price || 0, currency), state: t(`seats.is_${state}`) });
}

function paintSeat(id) {
  const e = seatEls.get(id);
  if (!e) return;
  const state = seatState(id);
  if (e.dataset.state === state) return;
  e.setAttribute('data-state', state);
  e.setAttribute('aria-label', seatLabel(id, state));
  e.setAttribute('aria-pressed', String(state === 'selected'));
  paintMark(id, state);
}

/** Yours and a friend's seats carry a mark besides their colour, so no tier colour can be mistaken for them. */
function paintMark(id, state) {
  const old = markEls.get(id);
  const want = state === 'mine' || state === 'friend' ? state : null;
  if (old?.dataset.mark === want) return;
  old?.remove();
  markEls.delete(id);
  const c = seatEls.get(id);
  if (!want || !c || !markLayer) return;
  const x = Number(c.getAttribute('cx'));
  const y = Number(c.getAttribute('cy'));
  const r = Number(c.getAttribute('r'));
  const m = want === 'mine'
    ? el('path', { class: 'mark', 'data-mark': want, d: `M${round(x - 0.45 * r)} ${round(y + 0.02 * r)}L${round(x - 0.12 * r)} ${round(y + 0.36 * r)}L${round(x + 0.48 * r)} ${round(y - 0.34 * r)}`, 'stroke-width': round(0.24 * r) })
    : el('circle', { class: 'mark', 'data-mark': want, cx: x, cy: y, r: round(0.42 * r), 'stroke-width': round(0.2 * r) });
  markEls.set(id, m);
  markLayer.append(m);
}

/** One section, seat by seat. */
function drawSection(i, { focus = false } = {}) {
  const s = venue.sections[i];
  zoomed = i;
  seatEls = new Map();
  markEls = new Map();
  svg.replaceChildren();
  const g = s.gap;
  sizeSvg(s.box, 1.6 * g, true, g);
  const layer = el('g', { class: 'seats' });
  // Through the CSSOM: the page's CSP refuses style attributes.
  layer.style.setProperty('--tier', s.colour);
  layer.style.setProperty('--sw', `${round(g * 0.08)}px`);
  const r = round(g * 0.42);
  for (const row of s.rows) {
    if (!row.seats.length) continue;
    const [, x0, y0] = row.seats[0];
    layer.append(el('text', { class: 'row-label', x: x0 - 1.1 * g, y: y0, 'font-size': g * 0.55 }, row.label));
    row.seats.forEach(([label, x, y], k) => {
      const id = row.first_seat + k;
      const state = seatState(id);
      const c = el('circle', {
        cx: x, cy: y, r, 'data-seat': id, 'data-state': state, role: 'button', tabindex: -1,
        'aria-label': seatLabel(id, state), 'aria-pressed': String(state === 'selected'),
      });
      c.append(el('title', {}, `${s.name} ${row.label}-${label} · ${money(s.price, currency)}`));
      seatEls.set(id, c);
      layer.append(c);
    });
  }
  markLayer = el('g', { class: 'marks', 'aria-hidden': 'true' });
  svg.append(layer, markLayer);
  for (const id of seatEls.keys()) paintMark(id, seatState(id));
  // The tab stop: the seat that had it, else the first free one, else the first.
  if (!seatEls.has(focusId)) {
    const ids = [...seatEls.keys()];
    focusId = ids.find((id) => seatState(id) === 'free') ?? ids[0] ?? null;
  }
  if (focusId !== null) {
    seatEls.get(focusId).setAttribute('tabindex', '0');
    if (focus) seatEls.get(focusId).focus();
  }
  $('seat-legend').style.setProperty('--free', s.colour);
  $('zoom-out').hidden = false;
  $('zoom-title').textContent = `${s.name} · ${s.tier} · ${money(s.price, currency)}`;
  svg.setAttribute('aria-label', `${s.name}: ${t('seats.keys_hint')}`);
  // Rows start at the left with their labels: open there, or on a phone the labels are off screen.
  wrap.scrollLeft = 0;
  wrap.scrollTop = 0;
}

/** The row holding seat `id`: [section, row index]. */
function rowOf(id) {
  const s = venue.sections[sectionIndexOf(id)];
  const r = s ? s.rows.findIndex((x) => id >= x.first_seat && id < x.first_seat + x.seats.length) : -1;
  return [s, r];
}

/** Where an arrow key goes from seat `id` in the zoomed section, or null. */
function seatFrom(id, key) {
  const [s, r] = rowOf(id);
  if (!s || r < 0) return null;
  const row = s.rows[r];
  const k = id - row.first_seat;
  const last = row.seats.length - 1;
  if (key === 'ArrowLeft') return k > 0 ? id - 1 : null;
  if (key === 'ArrowRight') return k < last ? id + 1 : null;
  if (key === 'Home') return row.first_seat;
  if (key === 'End') return row.first_seat + last;
  if (key !== 'ArrowUp' && key !== 'ArrowDown') return null;
  // The nearest seat of the next non-empty row up or down, by position.
  const step = key === 'ArrowUp' ? -1 : 1;
  const [, x, y] = row.seats[k];
  for (let j = r + step; j >= 0 && j < s.rows.length; j += step) {
    const next = s.rows[j];
    if (!next.seats.length) continue;
    let best = 0;
    next.seats.forEach(([, nx, ny], n) => {
      const [, bx, by] = next.seats[best];
      if (Math.hypot(nx - x, ny - y) < Math.hypot(bx - x, by - y)) best = n;
    });
    return next.first_seat + best;
  }
  return null;
}

function moveFocus(id) {
  const target = seatEls.get(id);
  if (!target) return;
  seatEls.get(focusId)?.setAttribute('tabindex', '-1');
  focusId = id;
  target.setAttribute('tabindex', '0');
  target.focus();
}

function drawLegend() {
  const tiers = new Map();
  for (const s of venue.sections) {
    if (!tiers.has(s.tier)) tiers.set(s.tier, { price: s.price, colour: s.colour });
  }
  const items = [...tiers].map(([tier, { price, colour }]) => {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.setProperty('background', colour);
    const name = document.createElement('strong');
    name.textContent = tier;
    const p = document.createElement('span');
    p.textContent = money(price, currency);
    li.append(sw, name, p);
    return li;
  });
  const shown = friends.length ? ['free', 'selected', 'mine', 'friend', 'taken'] : ['free', 'selected', 'mine', 'taken'];
  const states = shown.map((state) => {
    const li = document.createElement('li');
    li.className = 'state';
    const sw = document.createElement('span');
    sw.className = `swatch state-${state}`;
    li.append(sw, document.createTextNode(t(`seats.state_${state}`)));
    return li;
  });
  $('seat-legend').replaceChildren(...items, ...states);
}

// ------------------------------------------------------------ live map

/** A whole map: from the live socket (`live`), or polled while it is down. */
function applySnapshot(m, live = true) {
  const raw = atob(m.taken || '');
  taken = new Uint8Array(Math.max(raw.length, Math.ceil((venue?.seats || 0) / 8)));
  for (let i = 0; i < raw.length; i++) taken[i] = raw.charCodeAt(i);
  for (const id of selected) if (isTaken(id) && !pending.has(id)) selected.delete(id);
  for (const x of hold?.seats || []) setTaken(x.id, true);
  lastSeq = m.seq;
  applyCommon(m);
  for (const id of seatEls.keys()) paintSeat(id);
  wrap.dataset.live = String(live);
}

function applyDelta(m) {
  lastSeq = m.seq;
  let lost = [];
  for (const id of m.taken || []) {
    setTaken(id, true);
    // A seat of the hold on its way is most likely the viewer's own: its answer decides.
    if (!pending.has(id) && selected.delete(id)) lost.push(id);
    paintSeat(id);
  }
  for (const id of m.freed || []) {
    setTaken(id, false);
    paintSeat(id);
  }
  if (lost.length) {
    lost = lost.map(seatName).join(', ');
    message.dataset.sticky = 'true';
    showMessage(message, t('seats.just_taken', { seats: lost }), 'warn');
  }
  applyCommon(m);
}

function applyCommon(m) {
  if (Array.isArray(m.sections)) sectionFree = m.sections;
  if (m.status && m.status !== status) {
    status = m.status;
    $('sale-status').textContent = t(`status.${status}`);
    $('sale-status').className = `badge status-${status}`;
  }
  if (typeof m.available === 'number') $('seats-left').textContent = tn('sale.seats_left', m.available);
  if (zoomed === null) paintSections();
  renderChooser();
}

/** Asked the server for a new snapshot after a gap: deltas wait for it. */
let resyncing = false;

function onSeats(m) {
  if (m.form === 'snapshot') {
    resyncing = false;
    applySnapshot(m);
  } else if (m.form === 'delta' && m.seq > lastSeq && !resyncing) {
    // A gap means the map missed a change: start again from a new snapshot.
    if (m.seq !== lastSeq + 1) {
      resyncing = true;
      restart('seats');
    } else {
      applyDelta(m);
    }
  }
}

/** While the live socket is down: the map as it is now, not live. */
async function pollSeats() {
  wrap.dataset.live = 'false';
  const r = await api('GET', `/api/sales/${saleId}/seats`);
  // Once the socket is back its own snapshot comes first; an older poll must not undo it.
  if (r.ok && !isLive()) applySnapshot(r.data, false);
}

// ------------------------------------------------------------ choosing and holding

/** Why holding is impossible right now, or ''. */
function blocker() {
  if (status === 'scheduled') return t('stock.not_open');
  if (status === 'closed') return t('stock.closed');
  if (sectionFree.length && sectionFree.every((n) => n === 0)) return t('seats.sold_out');
  return '';
}

function renderChooser() {
  if (!chooser || hold || busy) return;
  const why = blocker();
  const n = selected.size;
  const amount = [...selected].reduce((sum, id) => sum + (venue.sections[sectionIndexOf(id)]?.price || 0), 0);
  $('selection-text').textContent = n
    ? t('seats.selected', { n: number(n), max: number(holdMax), amount: money(amount, currency), seats: [...selected].sort((a, b) => a - b).map(seatName).join(', ') })
    : t('seats.none_selected', { max: number(holdMax) });
  $('hold-seats').disabled = !!why || n === 0;
  renderHolders();
  $('best-button').disabled = !!why;
  if (why) showMessage(message, why, 'warn');
  else if (message.dataset.tone === 'warn' && message.dataset.sticky !== 'true') showMessage(message, '');
}

/** One select per chosen seat, "me" or a friend, when the viewer has friends. */
function html(name, attrs = {}, text) {
  const e = document.createElement(name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function renderHolders() {
  const box = $('seat-holders');
  if (!box) return;
  const seats = [...selected].sort((a, b) => a - b);
  for (const id of [...holderOf.keys()]) if (!selected.has(id)) holderOf.delete(id);
  box.hidden = !friends.length || !seats.length;
  if (box.hidden) {
    box.replaceChildren();
    return;
  }
  const title = html('p', { class: 'holders-title' }, t('seats.holders_title'));
  const rows = seats.map((id) => {
    const label = html('label', { class: 'holder' });
    const name = html('span', {}, seatName(id));
    const pick = html('select', { 'data-holder-for': id });
    pick.append(new Option(t('seats.holder_me'), '', false, !holderOf.has(id)));
    for (const f of friends) pick.append(new Option(f.name, String(f.id), false, holderOf.get(id) === f.id));
    label.append(name, pick);
    return label;
  });
  box.replaceChildren(title, ...rows);
}

/** Who sits where, or undefined when every seat is the viewer's. */
function holders(seats) {
  if (!seats.some((id) => holderOf.has(id))) return undefined;
  const me = Number(userId());
  return seats.map((id) => holderOf.get(id) ?? me);
}

function onMapClick(ev) {
  const seat = ev.target.closest('[data-seat]');
  if (seat) {
    const id = Number(seat.dataset.seat);
    if (id !== focusId) {
      seatEls.get(focusId)?.setAttribute('tabindex', '-1');
      focusId = id;
      seat.setAttribute('tabindex', '0');
    }
    toggleSeat(id);
    return;
  }
  const section = ev.target.closest('[data-section]');
  if (section) drawSection(Number(section.dataset.section), { focus: ev.type === 'keydown' });
}

function onMapKey(ev) {
  if (ev.key === 'Enter' || ev.key === ' ') {
    if (!ev.target.closest('[data-seat], [data-section]')) return;
    ev.preventDefault();
    onMapClick(ev);
    return;
  }
  if (zoomed === null) return;
  if (ev.key === 'Escape') {
    ev.preventDefault();
    const section = zoomed;
    drawOverview();
    svg.querySelector(`g.section[data-section="${section}"]`)?.focus();
    return;
  }
  const seat = ev.target.closest('[data-seat]');
  if (!seat) return;
  const next = seatFrom(Number(seat.dataset.seat), ev.key);
  if (next === null && !ev.key.startsWith('Arrow') && ev.key !== 'Home' && ev.key !== 'End') return;
  // Arrows never scroll the map: at a row's end they stay put.
  ev.preventDefault();
  if (next !== null) moveFocus(next);
}

function toggleSeat(id) {
  if (!chooser || hold || busy || owned.has(id)) return;
  message.dataset.sticky = '';
  if (selected.has(id)) selected.delete(id);
  else if (isTaken(id)) {
    showMessage(message, t('seats.not_free'), 'warn');
    return;
  } else if (selected.size >= holdMax) {
    showMessage(message, t('seats.max', { n: number(holdMax) }), 'warn');
    return;
  } else {
    selected.add(id);
    showMessage(message, '');
  }
  paintSeat(id);
  renderChooser();
}

function seatList(h) {
  const me = Number(userId());
  return h.seats
    .map((x) => {
      const seat = `${x.section} ${x.row}-${x.label}`;
      const friend = x.holder_id && x.holder_id !== me ? friends.find((f) => f.id === x.holder_id) : null;
      return friend ? t('seats.for_friend', { seat, name: friend.name }) : seat;
    })
    .join(', ');
}

function showChooser() {
  if (!chooser) return;
  hold = null;
  clearInterval(timer);
  chooser.hidden = false;
  $('seat-hold-panel').hidden = true;
  $('seat-order-panel').hidden = true;
  for (const id of seatEls.keys()) paintSeat(id);
  renderChooser();
}

function showHold(h) {
  hold = h;
  selected.clear();
  for (const x of h.seats) setTaken(x.id, true);
  for (const id of seatEls.keys()) paintSeat(id);
  chooser.hidden = true;
  $('seat-order-panel').hidden = true;
  $('seat-hold-panel').hidden = false;
  $('seat-hold-text').textContent = t('seats.held', { seats: seatList(h), amount: money(h.amount, h.currency || currency) });
  labelPayButton($('seat-confirm'), h.amount);
  const end = h.expires_at_us ? h.expires_at_us / 1000 : isoToMs(h.expires_at);
  clearInterval(timer);
  const tick = () => {
    const left = end - serverNow();
    if (left > 0) {
      $('seat-hold-timer').textContent = clockText(left);
      return;
    }
    showChooser();
    message.dataset.sticky = 'true';
    showMessage(message, t('seats.expired'), 'warn');
  };
  tick();
  timer = setInterval(tick, 250);
}

async function holdSeats(body, button) {
  if (busy) return;
  busy = true;
  button.disabled = true;
  const label = button.textContent;
  button.textContent = t('stock.holding');
  message.dataset.sticky = '';
  showMessage(message, '');
  // Best available may pick the very seats chosen on the map, so they wait for the answer too.
  for (const id of body.seats || selected) pending.add(id);
  const r = await command('POST', `/api/sales/${saleId}/seats/holds`, { body });
  pending.clear();
  busy = false;
  button.textContent = label;
  button.disabled = false;
  if (r.ok) {
    showHold(r.data);
    return;
  }
  message.dataset.sticky = 'true';
  // Not held, so chosen seats the live map saw go meanwhile went to someone else.
  const refused = problemSlug(r.problem) === 'seats-taken' && Array.isArray(r.problem.seats) ? r.problem.seats : [];
  for (const id of refused) setTaken(id, true);
  const lost = [...selected].filter((id) => isTaken(id)).sort((a, b) => a - b);
  for (const id of lost) {
    selected.delete(id);
    paintSeat(id);
  }
  if (refused.length) {
    showMessage(message, t('seats.just_taken', { seats: refused.map(seatName).join(', ') }), 'error');
  } else if (lost.length) {
    showMessage(message, `${problemMessage(r.problem)} ${t('seats.just_taken', { seats: lost.map(seatName).join(', ') })}`, 'error');
  } else {
    showMessage(message, problemMessage(r.problem), 'error');
  }
  renderChooser();
}

function onHold() {
  if (!selected.size) return;
  const seats = [...selected].sort((a, b) => a - b);
  const body = { seats };
  const who = holders(seats);
  if (who) body.holders = who;
  holdSeats(body, $('hold-seats'));
}

function onBest() {
  const best = { count: Math.min(holdMax, Math.max(1, Number($('best-count').value) || 1)) };
  if (zoomed !== null) best.section = zoomed;
  holdSeats({ best }, $('best-button'));
}

async function onConfirm() {
  if (!hold || busy) return;
  busy = true;
  $('seat-confirm').disabled = true;
  const r = await payWithWallet(saleId, hold.id);
  busy = false;
  $('seat-confirm').disabled = false;
  if (r.ok) {
    clearInterval(timer);
    const bought = hold;
    hold = null;
    const me = Number(userId());
    for (const x of bought.seats) {
      owned.set(x.id, x.holder_id && x.holder_id !== me ? 'friend' : 'mine');
      paintSeat(x.id);
    }
    $('seat-hold-panel').hidden = true;
    $('seat-order-panel').hidden = false;
    const paid = r.data.amount
      ? ` ${t('wallet.paid', { amount: money(r.data.amount, r.data.currency), balance: money(r.data.available, r.data.currency) })}`
      : '';
    $('seat-order-text').textContent = t('seats.confirmed', {
      ref: r.data.reference,
      seats: seatList(bought),
      amount: money(r.data.amount, currency),
    }) + paid;
    showMessage(message, '');
  } else {
    message.dataset.sticky = 'true';
    showMessage(message, problemMessage(r.problem), 'error');
    if (['hold-expired', 'hold-not-active', 'not-found'].includes(problemSlug(r.problem))) showChooser();
  }
}

async function onCancel() {
  if (!hold || busy) return;
  busy = true;
  $('seat-cancel').disabled = true;
  const seats = hold.seats.map((x) => x.id);
  const r = await command('DELETE', `/api/sales/${saleId}/seats/holds/${hold.id}`);
  busy = false;
  $('seat-cancel').disabled = false;
  message.dataset.sticky = 'true';
  if (r.ok || ['hold-expired', 'hold-not-active'].includes(problemSlug(r.problem))) {
    if (r.ok) for (const id of seats) setTaken(id, false);
    showChooser();
    showMessage(message, r.ok ? t('seats.cancelled') : problemMessage(r.problem), r.ok ? 'ok' : 'warn');
  } else {
    showMessage(message, problemMessage(r.problem), 'error');
  }
}

/** A hold made earlier (another tab, before a reload) is picked up again; seats bought earlier show as mine. */
async function resumeHold() {
  const r = await api('GET', '/api/me/seats');
  if (!r.ok) return;
  const me = Number(userId());
  for (const h of r.data.seats) {
    if (String(h.sale_id) !== saleId || h.status !== 'confirmed') continue;
    for (const x of h.seats) {
      if (x.holder_id === me) owned.set(x.id, 'mine');
      else if (h.booker_id === me) owned.set(x.id, 'friend');
    }
  }
  for (const id of seatEls.keys()) paintSeat(id);
  const mine = r.data.seats.find((h) => String(h.sale_id) === saleId && h.status === 'held' && h.booker_id === me);
  if (mine) showHold(mine);
}

// ------------------------------------------------------------ start

svg.addEventListener('click', onMapClick);
svg.addEventListener('keydown', onMapKey);
$('zoom-out').addEventListener('click', drawOverview);
if (chooser) {
  const pick = $('best-count');
  for (let n = 1; n <= holdMax; n++) pick.append(new Option(number(n), String(n), false, n === Math.min(2, holdMax)));
  $('hold-seats').addEventListener('click', onHold);
  $('best-button').addEventListener('click', onBest);
  $('seat-confirm').addEventListener('click', onConfirm);
  $('seat-card')?.addEventListener('click', () => hold && payByCard(saleId, hold.id, message));
  $('seat-cancel').addEventListener('click', onCancel);
  $('seat-again').addEventListener('click', showChooser);
  $('seat-holders')?.addEventListener('change', (ev) => {
    const pick = ev.target.closest('select[data-holder-for]');
    if (!pick) return;
    const id = Number(pick.dataset.holderFor);
    if (pick.value) holderOf.set(id, Number(pick.value));
    else holderOf.delete(id);
  });
}
let resizing = null;
window.addEventListener('resize', () => {
  clearTimeout(resizing);
  resizing = setTimeout(() => {
    if (!venue) return;
    // Redrawing replaces the elements: a keyboard user keeps their place.
    const section = svg.contains(document.activeElement) ? document.activeElement.closest('[data-section]')?.dataset.section : undefined;
    const had = svg.contains(document.activeElement);
    if (zoomed === null) {
      drawOverview();
      if (section !== undefined) svg.querySelector(`g.section[data-section="${section}"]`)?.focus();
    } else {
      drawSection(zoomed, { focus: had });
    }
  }, 150);
});

syncClock();
const v = await api('GET', `/api/sales/${saleId}/venue`);
if (!v.ok) {
  showMessage(message, problemMessage(v.problem), 'error');
} else {
  venue = v.data;
  prepare(venue);
  taken = new Uint8Array(Math.ceil(venue.seats / 8));
  sectionFree = venue.sections.map((s) => s.count);
  drawLegend();
  drawOverview();
  $('seatmap-loading').hidden = true;
  subscribe(saleId, 'seats', onSeats, { poll: pollSeats });
  if (chooser) {
    const f = await api('GET', '/api/me/friends');
    if (f.ok) friends = f.data.friends.map((x) => ({ id: x.id, name: x.name }));
    if (friends.length) {
      drawLegend();
      if (zoomed !== null) $('seat-legend').style.setProperty('--free', venue.sections[zoomed].colour);
    }
    await resumeHold();
  }
  renderChooser();
}
