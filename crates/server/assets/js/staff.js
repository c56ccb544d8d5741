// staff.js: owns the staff section of a sale's organizer dashboard
// (/organizer/sales/{id}): the accounts named to run this sale's gates
// (GET /api/sales/{id}/staff), naming one by e-mail address (POST) and
// removing one (DELETE /api/sales/{id}/staff/{user}). Staff then open the
// gate page of this sale, and only this sale.

import { api, command, problemMessage, showMessage, t } from './app.js';

const $ = (id) => document.getElementById(id);
const panel = $('staff-panel');
const saleId = $('dashboard')?.dataset.saleId;
const list = $('staff-list');
const message = $('staff-message');

function row(member) {
  const li = document.createElement('li');
  li.className = 'row';
  li.dataset.user = String(member.user_id);
  const name = document.createElement('span');
  name.className = 'staff-name';
  name.textContent = member.name;
  const remove = document.createElement('button');
  remove.type = 'button';
  remove.textContent = t('staff.remove');
  remove.addEventListener('click', async () => {
    if (!window.confirm(t('staff.confirm_remove', { name: member.name }))) return;
    remove.disabled = true;
    const r = await command('DELETE', `/api/sales/${saleId}/staff/${member.user_id}`);
    if (r.ok) {
      showMessage(message, t('staff.removed', { name: member.name }), 'ok');
      await load();
    } else {
      remove.disabled = false;
      showMessage(message, problemMessage(r.problem), 'error');
    }
  });
  li.append(name, remove);
  return li;
}

async function load() {
  const r = await api('GET', `/api/sales/${saleId}/staff`);
  if (!r.ok) {
    showMessage(message, problemMessage(r.problem), 'error');
    return;
  }
  list.replaceChildren(...r.data.staff.map(row));
  $('staff-none').hidden = r.data.staff.length > 0;
}

if (panel && saleId) {
  $('staff-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const input = $('staff-email');
    const email = input.value.trim();
    if (!email) {
      showMessage(message, t('staff.email_needed'), 'error');
      return;
    }
    $('staff-add').disabled = true;
    const r = await command('POST', `/api/sales/${saleId}/staff`, { body: { email } });
    $('staff-add').disabled = false;
    if (r.ok) {
      input.value = '';
      showMessage(message, t('staff.added', { name: r.data.name }), 'ok');
      await load();
    } else {
      showMessage(message, problemMessage(r.problem), 'error');
    }
  });
  await load();
}
