// app.js: owns what every page shares. The i18n catalogue the page loads
// (t), the CSRF token of a signed-in page, the JSON API client (api) whose
// problem answers become human messages (problemMessage), formatting for the
// page's locale (money, numbers, times, timers), and, on every page, writing
// <time data-local> in the viewer's own time zone and running the
// [data-countdown-us] timers on the server's clock. Counted words go through
// tn (the catalogue's `key.one` form where the language has one), durations
// through duration. A waiting room's pass,
// once set (setPass), goes with every buying command (POST holds, clicks).
// Since every change goes through api(), it also keeps the header's name in
// step with the account and tells the page (a `stampede:bought` event on
// document) when a purchase went through, so a waiting room can recount its pass.

import { serverNow, syncClock } from './clock.js';

// The page loads its language's catalogue (i18n/<lang>.js, a cached asset) as
// a deferred classic script before its modules, so it is here by now.
const catalogue = globalThis.stampedeCatalogue ?? {};

/** The page's language (`ko` or `en`) and the locale Intl formats with. */
export const lang = document.documentElement.lang || 'en';
export const locale = document.documentElement.dataset.locale || 'en-US';

/** The catalogue text for `key`, with `{name}` placeholders filled from `vars`. */
export function t(key, vars) {
  let s = catalogue[key] ?? key;
  if (vars) {
    for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
  }
  return s;
}

const plurals = new Intl.PluralRules(locale);

/**
 * Like t, for a count: `{n}` becomes the count with thousands separators, and
 * the catalogue's `key.one` (or another plural category) is used where the
 * language has that form ("1 recipient"), else `key`.
 */
export function tn(key, n, vars = {}) {
  const form = `${key}.${plurals.select(n)}`;
  return t(form in catalogue ? form : key, { n: number(n), ...vars });
}

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content || '';
}

export function userId() {
  return document.querySelector('meta[name="user-id"]')?.content || '';
}

let pass = '';

/** The waiting room's pass, sent as `stampede-pass` on buying commands from now on. */
export function setPass(value) {
  pass = value || '';
}

/** A fresh idempotency key (works outside secure contexts too). */
export function newKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Calls the JSON API with the session cookie (and the CSRF token on changes).
 * Resolves to { ok: true, status, data } or { ok: false, status, problem }.
 */
export async function api(method, path, { body, key } = {}) {
  const headers = { accept: 'application/json' };
  if (method !== 'GET') {
    const token = csrfToken();
    if (token) headers['x-csrf-token'] = token;
  }
  if (key) headers['idempotency-key'] = key;
  if (pass && method === 'POST' && /\/(holds|clicks)$/.test(path)) headers['stampede-pass'] = pass;
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    return { ok: false, status: 0, problem: { type: '/problems/network', detail: String(e) } };
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (res.ok) {
    followChange(method, path, data);
    return { ok: true, status: res.status, data };
  }
  const problem = data && typeof data.type === 'string' ? data : { type: '/problems/unknown', detail: text.slice(0, 200) };
  return { ok: false, status: res.status, problem, retryAfter: Number(res.headers.get('retry-after')) || 0 };
}

/** Like api(), retrying a 503 (overloaded) with the same idempotency key a few times. */
export async function command(method, path, opts = {}) {
  const key = opts.key || newKey();
  let r = await api(method, path, { ...opts, key });
  for (let i = 0; i < 3 && !r.ok && r.status === 503 && problemSlug(r.problem) === 'overloaded'; i++) {
    await new Promise((ok) => setTimeout(ok, 1000 * Math.max(1, r.retryAfter || 1)));
    r = await api(method, path, { ...opts, key });
  }
  return r;
}

/** What other parts of the page show about a successful answer. */
function followChange(method, path, data) {
  if (path === '/api/me' && typeof data?.name === 'string') showUserName(data.name);
  if (method === 'POST' && /\/(confirm|clicks|pay)$/.test(path)) {
    document.dispatchEvent(new CustomEvent('stampede:bought', { detail: { path, data } }));
  }
}

/** The signed-in person's wallet (GET /api/me/wallet), or null when it cannot be read. */
export async function wallet() {
  const r = await api('GET', '/api/me/wallet');
  return r.ok ? r.data : null;
}

/**
 * Words a hold's pay button: "Pay with wallet (balance ₩…)" for a priced
 * hold, a plain confirm for a free one. The balance is read when the hold is shown.
 */
export async function labelPayButton(button, amount) {
  if (!button) return;
  if (!amount) {
    button.textContent = t('wallet.pay_free');
    return;
  }
  const w = await wallet();
  button.textContent = t('wallet.pay', { balance: money(w ? w.available : 0, w?.currency || 'KRW') });
}

/**
 * Pays for a hold (stock or seats) with the wallet: reserve, confirm, take
 * (POST .../pay). A free hold is confirmed the same way. Answers as command() does.
 */
export function payWithWallet(saleId, holdId) {
  return command('POST', `/api/sales/${saleId}/holds/${holdId}/pay`, { body: { provider: 'wallet' } });
}

/**
 * Pays for a hold by card: asks for the gateway's checkout page and goes
 * there (the gateway sends the buyer back to the sale page with the result).
 * Resolves only when it could not go, with the refusal to show.
 */
export async function payByCard(saleId, holdId, message) {
  const r = await command('POST', `/api/sales/${saleId}/holds/${holdId}/pay`, { body: { provider: 'gateway' } });
  if (r.ok && r.data.checkout_url) {
    showMessage(message, t('pay.redirecting'), 'ok');
    window.location.assign(r.data.checkout_url);
    return null;
  }
  message.dataset.sticky = 'true';
  showMessage(message, problemMessage(r.problem), 'error');
  return r;
}

/** The signed-in person's name in the header (shortened there by CSS; the title keeps it whole). */
export function showUserName(name) {
  const el = document.getElementById('nav-user');
  if (!el) return;
  el.textContent = name;
  el.title = name;
}

/**
 * A sale's status as it changes live: the badge, and the label of the opening
 * time ("Opens" becomes "Opened"; "opens when the organizer opens it" goes).
 */
export function showSaleStatus(status) {
  const badge = document.getElementById('sale-status');
  if (badge) {
    badge.textContent = t(`status.${status}`);
    badge.className = `badge status-${status}`;
  }
  if (status === 'scheduled') return;
  const label = document.getElementById('opens-label');
  const manual = document.getElementById('opens-manually');
  if (manual) {
    manual.hidden = true;
    if (label) label.hidden = true;
  } else if (label) {
    label.textContent = t('sale.opened_at');
  }
}

export function problemSlug(p) {
  return (p?.type || '').replace('/problems/', '');
}

/** Catalogue labels of the request fields a problem can name (its `field` member). */
const FIELD_LABELS = {
  title: 'org.f_title', description: 'org.f_description', currency: 'org.f_currency',
  opens_at: 'org.f_opens_at', closes_at: 'org.f_closes_at', stock: 'org.f_stock', price: 'org.f_price',
  per_person_limit: 'org.f_per_person', order_quantity_max: 'org.f_order_max', hold_seconds: 'org.f_hold_seconds',
  winners: 'org.f_winners', seats_per_hold_max: 'org.f_seats_per_hold', quantity: 'field.quantity',
  'waiting_room.policy': 'org.f_policy', 'waiting_room.chunk_size': 'org.f_chunk_size',
  'waiting_room.chunk_seconds': 'org.f_chunk_seconds', 'waiting_room.active_max': 'org.f_active_max',
  'waiting_room.pass_seconds': 'org.f_pass_seconds', 'waiting_room.pow_bits': 'org.f_pow_bits',
};

/** What a problem's `field` and `rule` members say, in the viewer's language; '' if the rule is unknown here. */
function fieldRuleText(p) {
  const key = FIELD_LABELS[p.field] ?? `field.${p.field}`;
  const field = key in catalogue ? t(key) : p.field;
  const num = (v) => (typeof v === 'number' ? number(v) : String(v ?? ''));
  const rule = p.rule === 'length' && !p.min ? 'length_max' : p.rule;
  if (!catalogue[`rule.${rule}`]) return '';
  return t(`rule.${rule}`, { field, min: num(p.min), max: num(p.max) });
}

/** A problem answer in the viewer's language; the API's detail is added where it says more. */
export function problemMessage(p) {
  const slug = problemSlug(p);
  const known = catalogue[`problem.${slug}`];
  if (slug === 'sections-overlap' && Array.isArray(p.sections) && p.sections.length === 2) {
    return t('problem.sections-overlap', { a: p.sections[0], b: p.sections[1] });
  }
  const ruleText = p && typeof p.field === 'string' ? fieldRuleText(p) : '';
  if (ruleText) {
    const lead = known ?? t('problem.invalid-field');
    return /[.!?。]$/.test(lead) ? `${lead} ${ruleText}` : `${lead}: ${ruleText}`;
  }
  let msg = known ?? t('problem.unknown');
  const detailHelps = !known || slug === 'invalid-field' || (lang === 'en' && ['sold-out', 'limit-reached', 'bad-quantity'].includes(slug));
  if (p?.detail && detailHelps) msg += ` (${p.detail})`;
  return msg;
}

/** An amount in the currency's minor unit: ₩55,000 (KRW has no decimals). */
export function money(amount, currency) {
  const digits = ['KRW', 'JPY'].includes(currency) ? 0 : 2;
  const value = digits ? amount / 100 : amount;
  try {
    return new Intl.NumberFormat(locale, {
      style: 'currency',
      currency,
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    }).format(value);
  } catch {
    return `${currency} ${value}`;
  }
}

export function number(n) {
  return new Intl.NumberFormat(locale).format(n);
}

/**
 * A duration a person reads at a glance: "195.123 ms", "17.078 s",
 * "7 min 17.078 s", "2 h 5 min 3.000 s" (Korean: 7분 17.078초), with the
 * milliseconds kept, since a drop's ranks can be that close.
 */
export function duration(ms) {
  const total = Math.max(0, Number(ms) || 0);
  const fixed = (v, digits) =>
    new Intl.NumberFormat(locale, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(v);
  if (total < 1000) return t('time.ms', { n: fixed(total, 3) });
  // Whole milliseconds from here on, so 59.9996 s never shows as "60.000 s".
  const whole = Math.round(total);
  const h = Math.floor(whole / 3_600_000);
  const m = Math.floor((whole % 3_600_000) / 60_000);
  const s = fixed((whole % 60_000) / 1000, 3);
  if (h) return t('time.h_min_s', { h: number(h), m, s });
  if (m) return t('time.min_s', { m, s });
  return t('time.s', { s });
}

/** Milliseconds since the epoch of an RFC 3339 time (microseconds allowed). */
export function isoToMs(iso) {
  return Date.parse(String(iso).replace(/(\.\d{3})\d+/, '$1'));
}

export function dateTime(ms) {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(ms));
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** A timer's text: 4:05, or 1:04:05 past an hour. */
export function clockText(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** A countdown's text with tenths: 00:00:05.3, with days in front past a day. */
export function countdownText(ms) {
  const tenths = Math.max(0, Math.floor(ms / 100));
  const s = Math.floor(tenths / 10);
  const d = Math.floor(s / 86400);
  const body = `${pad(Math.floor((s % 86400) / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}.${tenths % 10}`;
  return d ? `${t('time.days', { n: d })} ${body}` : body;
}

/** Shows `text` in a message element; `tone` is '', 'ok', 'warn' or 'error'. */
export function showMessage(el, text, tone = '') {
  if (!el) return;
  el.textContent = text;
  el.hidden = !text;
  el.dataset.tone = tone;
}

/** Writes every <time data-local> in the viewer's locale and own time zone. */
export function localizeTimes(root = document) {
  for (const el of root.querySelectorAll('time[data-local]')) {
    const ms = isoToMs(el.dateTime);
    if (Number.isFinite(ms)) {
      el.title = el.textContent;
      el.textContent = dateTime(ms);
    }
  }
}

/** Runs the [data-countdown-us] timers (hold expiries) on the server's clock. */
function startCountdowns() {
  const els = [...document.querySelectorAll('[data-countdown-us]')];
  if (!els.length) return;
  const tick = () => {
    for (const el of els) {
      const left = Number(el.dataset.countdownUs) / 1000 - serverNow();
      el.textContent = left > 0 ? clockText(left) : t('time.expired');
      el.classList.toggle('expired', left <= 0);
    }
  };
  tick();
  setInterval(tick, 250);
  syncClock().then(tick);
}

localizeTimes();
startCountdowns();
