// ticket_page.js: owns the ticket page (/tickets/{sale}/{ticket}): handing
// the ticket to a friend. The form posts POST /api/sales/{id}/tickets/{ticket}/transfer
// ({ to }); once the sale has moved it, the page takes the QR code away at
// once (the old code is revoked, and a screenshot of it would only be
// refused at the gate) and says to whom it went. Everything else on the page
// is drawn by the server.

import { command, problemMessage, showMessage, t } from './app.js';

const $ = (id) => document.getElementById(id);
const root = $('ticket');
const form = $('transfer-form');
const message = $('ticket-message');

form?.addEventListener('submit', async (event) => {
  event.preventDefault();
  const select = $('transfer-to');
  const to = Number(select.value);
  const name = select.selectedOptions[0]?.textContent ?? '';
  if (!Number.isSafeInteger(to) || to <= 0) return;
  if (!window.confirm(t('tickets.transfer_confirm', { name }))) return;
  const button = $('transfer-submit');
  button.disabled = true;
  const r = await command('POST', `/api/sales/${root.dataset.saleId}/tickets/${root.dataset.ticket}/transfer`, { body: { to } });
  if (!r.ok) {
    button.disabled = false;
    showMessage(message, problemMessage(r.problem), 'error');
    return;
  }
  root.dataset.state = 'transferred';
  const qr = $('ticket-qr');
  qr.replaceChildren(Object.assign(document.createElement('p'), { className: 'ticket-void', textContent: t('tickets.no_code') }));
  const badge = $('ticket-state');
  badge.textContent = t('tickets.state.transferred', { name: r.data.holder || name });
  badge.className = 'badge ticket-transferred';
  $('ticket-holder').textContent = r.data.holder || name;
  $('transfer-panel').remove();
  showMessage(message, t('tickets.transferred', { name: r.data.holder || name }), 'ok');
});
