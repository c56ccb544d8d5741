// organizer.js: owns the "new sale" form of /organizer/new. Shows the fields
// of the chosen kind (stock, drop, seated) and of the waiting room's policy;
// for seated sales, the section builder (add and remove sections) with a
// live SVG preview of the seats the server's generator will lay out
// (crates/core/src/venue.rs `block_row`: straight rows centred on x, curved
// rows on arcs around a centre in front; sections stacked front to back);
// then posts the sale to the JSON API and goes to its dashboard, or shows
// the API's problem inline.

import { command, t, number, problemMessage, problemSlug, showMessage } from './app.js';

const SPACING = 10;
/** The gap between stacked sections, front to back. */
const GAP = 3 * SPACING;
/** Past this many seats the preview draws rows as lines, not seats. */
const SEATS_DRAWN_MAX = 4000;
const PALETTE = ['#cc3333', '#3366cc', '#339966', '#cc8833', '#8844aa', '#228899'];

const $ = (id) => document.getElementById(id);
const form = $('new-sale-form');
const sectionsBox = $('sections');
const preview = $('venue-preview');
const SVG = preview.namespaceURI;
const errorBox = $('form-error');

function el(name, attrs = {}, ns = '') {
  const e = ns ? document.createElementNS(ns, name) : document.createElement(name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

function kind() {
  return form.querySelector('input[name="kind"]:checked')?.value || 'stock';
}

function showKindFields() {
  const k = kind();
  for (const fs of form.querySelectorAll('[data-kind-only]')) fs.hidden = fs.dataset.kindOnly !== k;
  if (k === 'seated') drawPreview();
}

function showRoomFields() {
  $('room-settings').hidden = !$('f-room').checked;
  const policy = $('f-policy').value;
  for (const l of form.querySelectorAll('[data-policy-only]')) l.hidden = l.dataset.policyOnly !== policy;
}

// ---- The section builder ----

let made = 0;

/** One labelled input of a section. */
function field(cls, label, attrs) {
  const l = el('label');
  l.append(`${label} `);
  const input = el('input', { class: cls, ...attrs });
  l.append(input);
  return l;
}

function addSection(spec = {}) {
  made++;
  const box = el('div', { class: 'section-spec panel' });
  const n = sectionsBox.children.length;
  box.append(
    field('s-name', t('org.s_name'), { value: spec.name ?? `${t('org.section')} ${made}`, maxlength: 100 }),
    field('s-tier', t('org.s_tier'), { value: spec.tier ?? (n === 0 ? 'VIP' : 'R'), maxlength: 100 }),
    field('s-price', t('org.f_price'), { type: 'number', min: 0, value: spec.price ?? (n === 0 ? 150000 : 90000) }),
    field('s-colour', t('org.s_colour'), { type: 'color', value: spec.colour ?? PALETTE[n % PALETTE.length] }),
    field('s-rows', t('org.s_rows'), { type: 'number', min: 1, max: 500, value: spec.rows ?? 5 }),
    field('s-seats', t('org.s_seats_per_row'), { type: 'number', min: 1, max: 1000, value: spec.seats_per_row ?? 10 }),
    field('s-curve', t('org.s_curve'), { type: 'number', min: 0, max: 180, step: 5, value: spec.curve_degrees ?? 0 }),
  );
  const remove = el('button', { type: 'button', class: 's-remove' });
  remove.textContent = t('org.remove_section');
  box.append(remove);
  sectionsBox.append(box);
  drawPreview();
}

const int = (v, fallback = 0) => {
  const n = Math.floor(Number(v));
  return Number.isFinite(n) ? n : fallback;
};

/** The sections as the form says, before positions. */
function readSections() {
  return [...sectionsBox.querySelectorAll('.section-spec')].map((box) => ({
    name: box.querySelector('.s-name').value.trim(),
    tier: box.querySelector('.s-tier').value.trim(),
    price: int(box.querySelector('.s-price').value),
    colour: box.querySelector('.s-colour').value,
    rows: int(box.querySelector('.s-rows').value, 1),
    seats_per_row: int(box.querySelector('.s-seats').value, 1),
    curve_degrees: Math.max(0, Number(box.querySelector('.s-curve').value) || 0),
    spacing: SPACING,
  }));
}

/** The seats of one row, as the server's generator places them (block_row). */
function blockRow(spec, r) {
  const n = spec.seats_per_row;
  const step = spec.spacing;
  const depth = r * step;
  const seats = [];
  for (let i = 0; i < n; i++) {
    const offset = (i - (n - 1) / 2) * step;
    let x;
    let y;
    if (spec.curve_degrees > 0) {
      const arc = (spec.curve_degrees * Math.PI) / 180;
      const front = Math.max(((Math.max(n, 2) - 1) * step) / arc, step);
      const radius = front + depth;
      const angle = offset / radius;
      x = radius * Math.sin(angle);
      y = radius * Math.cos(angle) - front;
    } else {
      x = offset;
      y = depth;
    }
    seats.push([Math.round(spec.x + x), Math.round(spec.y + y)]);
  }
  return seats;
}

/** Rows are clamped to the bounds so the preview stays drawable while typing. */
function sane(spec) {
  return {
    ...spec,
    rows: Math.min(Math.max(spec.rows, 1), 500),
    seats_per_row: Math.min(Math.max(spec.seats_per_row, 1), 1000),
    curve_degrees: Math.min(spec.curve_degrees, 180),
  };
}

/**
 * Positions the sections front to back, centred on x = 0: each one starts
 * GAP behind the back of the one before. Returns the specs with x and y and
 * every section's rows of seats.
 */
function layout(specs) {
  let cursor = 0;
  return specs.map((raw) => {
    const spec = { ...sane(raw), x: 0, y: 0 };
    const rows = [];
    for (let r = 0; r < spec.rows; r++) rows.push(blockRow(spec, r));
    const ys = rows.flat().map((s) => s[1]);
    const top = Math.min(...ys);
    const bottom = Math.max(...ys);
    const y = cursor - top;
    cursor = y + bottom + GAP;
    const placed = { ...raw, x: 0, y };
    return { spec: placed, rows: rows.map((row) => row.map(([sx, sy]) => [sx, sy + y])) };
  });
}

function drawPreview() {
  if (!preview || kind() !== 'seated') return;
  const laid = layout(readSections());
  preview.replaceChildren();
  const total = laid.reduce((sum, s) => sum + s.rows.reduce((a, r) => a + r.length, 0), 0);
  $('preview-text').textContent = t('org.preview_text', { sections: number(laid.length), seats: number(total) });
  if (!laid.length) {
    preview.setAttribute('viewBox', '0 0 100 20');
    return;
  }
  const pts = laid.flatMap((s) => s.rows.flat());
  const minX = Math.min(...pts.map((p) => p[0])) - SPACING;
  const maxX = Math.max(...pts.map((p) => p[0])) + SPACING;
  const minY = Math.min(...pts.map((p) => p[1])) - 4 * SPACING;
  const maxY = Math.max(...pts.map((p) => p[1])) + SPACING;
  preview.setAttribute('viewBox', `${minX} ${minY} ${maxX - minX} ${maxY - minY}`);
  const stageW = Math.max((maxX - minX) * 0.4, 4 * SPACING);
  const stage = el('rect', { class: 'stage', x: -stageW / 2, y: minY + SPACING * 0.5, width: stageW, height: SPACING * 1.5, rx: 2 }, SVG);
  preview.append(stage);
  const asLines = total > SEATS_DRAWN_MAX;
  laid.forEach((s, i) => {
    const g = el('g', { class: 'preview-section', 'data-section': i, fill: s.spec.colour, stroke: s.spec.colour }, SVG);
    for (const row of s.rows) {
      if (asLines) {
        const d = row.map(([x, y], k) => `${k ? 'L' : 'M'}${x} ${y}`).join(' ');
        g.append(el('path', { d, fill: 'none', 'stroke-width': SPACING * 0.7, 'stroke-linecap': 'round' }, SVG));
      } else {
        for (const [x, y] of row) g.append(el('circle', { cx: x, cy: y, r: SPACING * 0.38, stroke: 'none' }, SVG));
      }
    }
    const title = el('title', {}, SVG);
    title.textContent = `${s.spec.name} · ${s.spec.tier}`;
    g.append(title);
    preview.append(g);
  });
}

// ---- Sending ----

/** The server refuses opening and closing times further in the past than this (WINDOW_PAST_TOLERANCE_US). */
const PAST_TOLERANCE_MS = 5 * 60 * 1000;

/** Lets the date pickers offer nothing before now (in the viewer's zone). */
function setEarliestTimes() {
  const now = new Date();
  const local = new Date(now.getTime() - now.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  for (const id of ['f-opens-at', 'f-closes-at']) $(id).min = local;
}

/** A datetime-local value (the viewer's zone) as RFC 3339 UTC, or null. */
function rfc3339(value) {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

const num = (id) => Number($(id).value);

function body() {
  const k = kind();
  const b = {
    kind: k,
    title: $('f-title').value.trim(),
    description: $('f-description').value,
    currency: $('f-currency').value.trim().toUpperCase() || 'KRW',
    opens_at: rfc3339($('f-opens-at').value),
    closes_at: rfc3339($('f-closes-at').value),
    waiting_room: null,
  };
  if (k === 'stock') {
    Object.assign(b, {
      stock: num('f-stock'),
      price: num('f-price'),
      per_person_limit: num('f-per-person'),
      order_quantity_max: num('f-order-max'),
      hold_seconds: num('f-hold-seconds'),
    });
  } else if (k === 'drop') {
    b.winners = num('f-winners');
  } else {
    b.seated = {
      generate: { name: $('f-venue').value.trim(), sections: layout(readSections()).map((s) => s.spec) },
      per_person_limit: num('f-seat-per-person'),
      seats_per_hold_max: num('f-seats-per-hold'),
      hold_seconds: num('f-seat-hold-seconds'),
    };
  }
  if ($('f-room').checked) {
    const room = { policy: $('f-policy').value, pass_seconds: num('f-pass-seconds'), pow_bits: num('f-pow-bits') };
    if (room.policy === 'chunk') {
      room.chunk_size = num('f-chunk-size');
      room.chunk_seconds = num('f-chunk-seconds');
    } else {
      room.active_max = num('f-active-max');
    }
    b.waiting_room = room;
  }
  return b;
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  showMessage(errorBox, '');
  const b = body();
  if (!b.title) {
    showMessage(errorBox, t('org.title_required'), 'error');
    $('f-title').focus();
    return;
  }
  for (const [id, at] of [['f-opens-at', b.opens_at], ['f-closes-at', b.closes_at]]) {
    if (at && Date.parse(at) < Date.now() - PAST_TOLERANCE_MS) {
      const field = t(id === 'f-opens-at' ? 'org.f_opens_at' : 'org.f_closes_at');
      showMessage(errorBox, t('rule.future', { field }), 'error');
      $(id).focus();
      return;
    }
  }
  if (b.kind === 'seated' && !b.seated.generate.sections.length) {
    showMessage(errorBox, t('org.sections_required'), 'error');
    return;
  }
  const button = $('create-sale');
  button.disabled = true;
  const r = await command('POST', '/api/sales', { body: b });
  if (r.ok && r.data?.id) {
    location.href = `/organizer/sales/${r.data.id}`;
    return;
  }
  button.disabled = false;
  let msg = problemMessage(r.problem);
  // A problem that names its field (or sections) is worded here already; the English detail is for API users.
  const worded = r.problem?.field || r.problem?.sections;
  if (r.problem?.detail && !worded && !msg.includes(r.problem.detail) && problemSlug(r.problem) !== 'internal') msg += ` (${r.problem.detail})`;
  showMessage(errorBox, msg, 'error');
});

form.addEventListener('change', (ev) => {
  if (ev.target.name === 'kind') showKindFields();
  if (ev.target.id === 'f-room' || ev.target.id === 'f-policy') showRoomFields();
});
sectionsBox.addEventListener('input', drawPreview);
sectionsBox.addEventListener('click', (ev) => {
  const remove = ev.target.closest('.s-remove');
  if (!remove) return;
  remove.closest('.section-spec').remove();
  drawPreview();
});
$('add-section').addEventListener('click', () => addSection());

addSection({ name: t('org.default_section') });
setEarliestTimes();
showKindFields();
showRoomFields();
