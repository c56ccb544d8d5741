// orders.mjs: order references on the pages, and organizers editing and
// deleting their sales from the dashboard.
import { apiCall, assert, base, fitsPhone, newContext, run, shot, signUpApi, stockSale, test } from '../lib.mjs';

const REFERENCE = /^[2-9A-HJ-NP-Z]{3}-[2-9A-HJ-NP-Z]{4}$/;

/** Holds one unit on the sale's page and confirms it; answers the order text shown. */
async function buyOnPage(page, saleId) {
  await page.goto(`${base}/sales/${saleId}`);
  await page.click('#hold-button');
  await page.waitForSelector('#hold-panel:not([hidden])');
  await page.click('#confirm-button');
  await page.waitForSelector('#order-panel:not([hidden])');
  return page.textContent('#order-text');
}

test('orders: two first orders in two sales show two different references on my page', async (browser) => {
  const a = await stockSale(`Reference sale A ${run}`);
  const b = await stockSale(`Reference sale B ${run}`);
  const context = await newContext(browser);
  await signUpApi(context, 'Ref');
  const page = await context.newPage();
  const shown = [];
  for (const sale of [a, b]) {
    const text = await buyOnPage(page, sale.id);
    const ref = text.match(/Order (\S+) confirmed/)?.[1] || '';
    assert(REFERENCE.test(ref), `the stock page names the order by its reference: ${text}`);
    shown.push(ref);
  }
  await page.goto(`${base}/me`);
  const rows = page.locator('#my-orders li.row');
  assert((await rows.count()) === 2, 'two orders on my page');
  const refs = await page.locator('#my-orders .reference').allTextContents();
  assert(refs.length === 2 && refs.every((r) => REFERENCE.test(r.trim())), `references on my page: ${refs}`);
  assert(refs[0].trim() !== refs[1].trim(), `two orders #1 of two sales share a reference: ${refs}`);
  assert([...refs].map((r) => r.trim()).sort().join() === [...shown].sort().join(), 'my page shows the references the sale pages showed');
  assert(!(await page.textContent('#my-orders')).includes('#1'), 'no bare per-sale order number on my page');
  // Each reference sits beside its own sale.
  for (const [sale, ref] of [[a, shown[0]], [b, shown[1]]]) {
    const row = page.locator(`#my-orders li.row[data-sale="${sale.id}"]`);
    assert((await row.locator('.reference').textContent()).trim() === ref, `sale ${sale.id} shows ${ref}`);
  }
  // The owner looks the order up by the reference read out over the phone.
  const found = await (await context.request.get(`${base}/api/orders/${shown[1]}`)).json();
  assert(found.sale_id === b.id && found.stock.status === 'confirmed', `lookup by reference: ${JSON.stringify(found)}`);
  await fitsPhone(page);
  await shot(page, 'orders-me-references');
  return context;
});

test('orders: an organizer edits the title after opening but cannot change the stock, and deletes an unsold sale', async (browser) => {
  const context = await newContext(browser);
  await signUpApi(context, 'Editor');
  const me = await (await context.request.get(`${base}/api/me`)).json();
  await apiCall('PUT', `/api/admin/users/${me.id}/role`, { role: 'organizer' });
  const page = await context.newPage();
  await page.goto(`${base}/organizer`);
  // Two sales of the organizer's own, made with the page's session.
  const create = (title) => page.evaluate(async (title) => {
    const res = await fetch('/api/sales', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': document.querySelector('meta[name="csrf-token"]').content },
      body: JSON.stringify({ kind: 'stock', title, stock: 20, price: 1000, per_person_limit: 4, order_quantity_max: 2, hold_seconds: 300 }),
    });
    return res.json();
  }, title);
  const sold = await create(`Edited after opening ${run}`);
  const unsold = await create(`Test sale to delete ${run}`);
  await apiCall('POST', `/api/sales/${sold.id}/open`);
  await apiCall('POST', `/api/sales/${sold.id}/holds`, { quantity: 1 });

  // After opening: the title changes, the stock field is fixed.
  await page.goto(`${base}/organizer/sales/${sold.id}`);
  await page.waitForFunction(() => document.querySelector('#edit-title').value !== '');
  assert(await page.isDisabled('#edit-stock'), 'the stock cannot be edited once the sale is open');
  assert(await page.isDisabled('#edit-opens_at'), 'the opening time cannot be edited once the sale is open');
  assert(await page.isEnabled('#edit-closes_at'), 'the closing time can still change');
  await page.fill('#edit-title', `Renamed after opening ${run}`);
  await page.click('#edit-save');
  await page.waitForFunction(() => document.querySelector('#dash-message').textContent.includes('Saved'));
  assert((await page.textContent('#dash-title')).trim() === `Renamed after opening ${run}`, 'the dashboard shows the new title');
  // Even if the field is forced open, the server refuses and the page says why.
  await page.evaluate(() => { document.querySelector('#edit-stock').disabled = false; });
  await page.fill('#edit-stock', '500');
  await page.click('#edit-save');
  await page.waitForFunction(() => document.querySelector('#dash-message').textContent.includes('cannot change'));
  const after = await apiCall('GET', `/api/sales/${sold.id}`);
  assert(after.stock.total === 20 && after.title === `Renamed after opening ${run}`, `stock kept, title changed: ${JSON.stringify(after)}`);
  await fitsPhone(page);
  await shot(page, 'orders-dashboard-edit');
  // A sale someone holds from cannot be deleted.
  page.once('dialog', (d) => d.accept());
  await page.click('#delete-sale');
  await page.waitForFunction(() => document.querySelector('#dash-message').textContent.includes('cannot be deleted'));
  const buyerPage = await context.newPage();
  await buyerPage.goto(`${base}/sales/${sold.id}`);
  assert((await buyerPage.textContent('h1')).includes(`Renamed after opening ${run}`), 'the sale page shows the new title');
  await buyerPage.close();

  // The unsold sale: deleted from its dashboard, gone from the lists.
  await page.goto(`${base}/organizer/sales/${unsold.id}`);
  await page.waitForFunction(() => document.querySelector('#edit-title').value !== '');
  assert(await page.isEnabled('#edit-stock'), 'before opening the stock can change');
  page.once('dialog', (d) => d.accept());
  await Promise.all([page.waitForURL(`${base}/organizer`), page.click('#delete-sale')]);
  assert(!(await page.textContent('#org-sales')).includes(`Test sale to delete ${run}`), 'the deleted sale left the organizer list');
  assert((await page.textContent('#org-sales')).includes(`Renamed after opening ${run}`), 'the other sale stays');
  await page.goto(`${base}/`);
  assert(!(await page.textContent('main')).includes(`Test sale to delete ${run}`), 'the deleted sale left the home page');
  const gone = await page.goto(`${base}/sales/${unsold.id}`);
  assert(gone.status() === 404, 'a deleted sale has no page');
  return context;
});
