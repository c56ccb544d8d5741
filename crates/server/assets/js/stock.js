// stock.js: owns a stock sale's page. Live stock (the page's live socket,
// live.js: `status` and `stock` messages; GET /api/sales/{id} only while the
// socket is down), the quantity picker and subtotal, holding
// (POST holds), the hold timer counting down to expires_at on the server's
// clock, paying with the wallet (which confirms) and cancelling, and a human
// message for every refusal (a short wallet included).

import { api, command, t, money, number, problemMessage, problemSlug, isoToMs, clockText, showMessage, showSaleStatus, labelPayButton, payWithWallet, payByCard } from './app.js';
import { serverNow, syncClock } from './clock.js';
import { subscribe } from './live.js';

const $ = (id) => document.getElementById(id);
const root = $('sale');
const saleId = root.dataset.saleId;
const currency = root.dataset.currency;
const signedIn = root.dataset.signedIn === 'true';
const form = $('hold-form');
const qty = $('qty');
const message = $('stock-message');

let sale = null;
let hold = null;
let timer = null;
let busy = false;

function unitPrice() {
  return sale?.stock?.price ?? 0;
}

function maxQuantity() {
  const st = sale?.stock;
  if (!st) return Number(qty?.max) || 1;
  return Math.max(1, Math.min(st.order_quantity_max, st.available || 1));
}

function quantity() {
  const q = Math.floor(Number(qty.value));
  return Number.isFinite(q) ? Math.min(Math.max(q, 1), maxQuantity()) : 1;
}

function updateSubtotal() {
  if (!qty) return;
  qty.max = String(maxQuantity());
  $('subtotal').textContent = money(unitPrice() * quantity(), currency);
}

/** Why buying is impossible right now, or '' when it is possible. */
function blocker() {
  if (!sale) return '';
  if (sale.status === 'scheduled') return t('stock.not_open');
  if (sale.status === 'closed') return t('stock.closed');
  if (sale.stock.available === 0) return t('stock.sold_out');
  return '';
}

function render() {
  if (!sale?.stock) return;
  const st = sale.stock;
  $('stock-available').textContent = number(st.available);
  $('stock-meter').value = st.available;
  showSaleStatus(sale.status);
  if (!form || hold || busy) return;
  const why = blocker();
  $('hold-button').disabled = !!why;
  if (why) showMessage(message, why, 'warn');
  else if (message.dataset.tone === 'warn' && message.dataset.sticky !== 'true') showMessage(message, '');
  updateSubtotal();
}

async function refresh() {
  const r = await api('GET', `/api/sales/${saleId}`);
  if (r.ok) {
    sale = r.data;
    render();
  }
}

function showForm() {
  if (!form) return;
  hold = null;
  clearInterval(timer);
  form.hidden = false;
  $('hold-panel').hidden = true;
  $('order-panel').hidden = true;
  render();
}

function showHold(h) {
  hold = h;
  form.hidden = true;
  $('order-panel').hidden = true;
  $('hold-panel').hidden = false;
  $('hold-text').textContent = t('stock.held', { n: number(h.quantity), amount: money(h.amount, currency) });
  labelPayButton($('confirm-button'), h.amount);
  const end = isoToMs(h.expires_at);
  clearInterval(timer);
  const tick = () => {
    const left = end - serverNow();
    if (left > 0) {
      $('hold-timer').textContent = clockText(left);
      return;
    }
    showForm();
    message.dataset.sticky = 'true';
    showMessage(message, t('stock.expired'), 'warn');
    refresh();
  };
  tick();
  timer = setInterval(tick, 250);
}

async function onHold(ev) {
  ev.preventDefault();
  if (busy) return;
  busy = true;
  const button = $('hold-button');
  button.disabled = true;
  button.textContent = t('stock.holding');
  message.dataset.sticky = '';
  showMessage(message, '');
  const r = await command('POST', `/api/sales/${saleId}/holds`, { body: { quantity: quantity() } });
  busy = false;
  button.textContent = t('sale.hold');
  button.disabled = false;
  if (r.ok) showHold(r.data);
  else {
    message.dataset.sticky = 'true';
    showMessage(message, problemMessage(r.problem), 'error');
  }
  refresh();
}

async function onConfirm() {
  if (!hold || busy) return;
  busy = true;
  $('confirm-button').disabled = true;
  const r = await payWithWallet(saleId, hold.id);
  busy = false;
  $('confirm-button').disabled = false;
  if (r.ok) {
    clearInterval(timer);
    const q = hold.quantity;
    hold = null;
    $('hold-panel').hidden = true;
    $('order-panel').hidden = false;
    const done = t('stock.confirmed', { ref: r.data.reference, q: number(q), amount: money(r.data.amount, currency) });
    const paid = r.data.amount
      ? ` ${t('wallet.paid', { amount: money(r.data.amount, r.data.currency), balance: money(r.data.available, r.data.currency) })}`
      : '';
    $('order-text').textContent = done + paid;
    showMessage(message, '');
  } else {
    message.dataset.sticky = 'true';
    showMessage(message, problemMessage(r.problem), 'error');
    if (['hold-expired', 'hold-not-active', 'not-found'].includes(problemSlug(r.problem))) showForm();
  }
  refresh();
}

async function onCancel() {
  if (!hold || busy) return;
  busy = true;
  $('cancel-button').disabled = true;
  const r = await command('DELETE', `/api/sales/${saleId}/holds/${hold.id}`);
  busy = false;
  $('cancel-button').disabled = false;
  message.dataset.sticky = 'true';
  if (r.ok || ['hold-expired', 'hold-not-active'].includes(problemSlug(r.problem))) {
    showForm();
    showMessage(message, r.ok ? t('stock.cancelled') : problemMessage(r.problem), r.ok ? 'ok' : 'warn');
  } else {
    showMessage(message, problemMessage(r.problem), 'error');
  }
  refresh();
}

/** A hold made earlier (another tab, before a reload) is picked up again. */
async function resumeHold() {
  const r = await api('GET', '/api/me/holds');
  if (!r.ok) return;
  const mine = r.data.holds.find((h) => String(h.sale_id) === saleId && h.status === 'held');
  if (mine) showHold(mine);
}

if (form) {
  form.addEventListener('submit', onHold);
  qty.addEventListener('input', updateSubtotal);
  $('qty-minus').addEventListener('click', () => {
    qty.value = String(Math.max(1, quantity() - 1));
    updateSubtotal();
  });
  $('qty-plus').addEventListener('click', () => {
    qty.value = String(Math.min(maxQuantity(), quantity() + 1));
    updateSubtotal();
  });
  $('confirm-button').addEventListener('click', onConfirm);
  $('card-button')?.addEventListener('click', () => hold && payByCard(saleId, hold.id, message));
  $('cancel-button').addEventListener('click', onCancel);
  $('buy-again').addEventListener('click', showForm);
}

function onStatus(m) {
  if (!sale) return;
  sale.status = m.status;
  render();
}

function onStock(m) {
  if (!sale?.stock) return;
  Object.assign(sale.stock, { total: m.total, available: m.available, held: m.held, sold: m.sold });
  render();
}

syncClock();
await refresh();
// After the first read, which the pushed messages then update (the socket
// sends its current messages on opening, so nothing is missed in between).
subscribe(saleId, 'status', onStatus, { poll: refresh });
subscribe(saleId, 'stock', onStock);
if (signedIn && form) await resumeHold();
