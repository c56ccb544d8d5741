// me.js: owns the buttons of "my page". Confirming or cancelling a hold
// (stock or seats) and refunding an order through the JSON API; after a
// change the page reloads, with the outcome shown as a message.

import { command, t, problemMessage, showMessage } from './app.js';

const FLASH = 'stampede.flash';
const message = document.getElementById('me-message');

function route(row, action) {
  const { kind, sale, hold, order } = row.dataset;
  const base = kind === 'seated' ? `/api/sales/${sale}/seats` : `/api/sales/${sale}`;
  if (action === 'confirm') return ['POST', `${base}/holds/${hold}/confirm`, t('me.confirmed')];
  if (action === 'cancel') return ['DELETE', `${base}/holds/${hold}`, t('me.cancelled')];
  if (action === 'refund') return ['POST', `${base}/orders/${order}/refund`, t('me.refunded')];
  return null;
}

document.addEventListener('click', async (ev) => {
  const button = ev.target.closest('button[data-action]');
  const row = button?.closest('li.row');
  if (!button || !row) return;
  const action = button.dataset.action;
  const what = route(row, action);
  if (!what) return;
  if (action === 'refund' && !window.confirm(t('me.confirm_refund'))) return;
  for (const b of row.querySelectorAll('button')) b.disabled = true;
  const r = await command(what[0], what[1]);
  if (r.ok) {
    sessionStorage.setItem(FLASH, what[2]);
    location.reload();
    return;
  }
  for (const b of row.querySelectorAll('button')) b.disabled = false;
  showMessage(message, problemMessage(r.problem), 'error');
});

const flash = sessionStorage.getItem(FLASH);
if (flash) {
  sessionStorage.removeItem(FLASH);
  showMessage(message, flash, 'ok');
}
