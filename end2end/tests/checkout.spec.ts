import { expect } from '@playwright/test';
import { createCampaign, memberPage, signInAsAdmin, test } from './helpers';

const api = { Authorization: 'Bearer e2e-api-key' };

test('the marketer watches the redeemed count rise while a checkout redeems', async ({
  page,
}) => {
  await signInAsAdmin(page);
  const id = await createCampaign(page, `Checkout ${Date.now()}`, 3);
  await expect(page.getByTestId('redeemed')).toHaveText('0');

  // A shop's checkout: claims for two members, then holds and redeems their codes.
  const codes: string[] = [];
  for (const member of ['buyer-a', 'buyer-b']) {
    const claim = await page.request.post(`/api/v1/campaigns/${id}/claims`, {
      headers: api,
      data: { user_id: member },
    });
    expect(claim.status()).toBe(201);
    codes.push((await claim.json()).code);
  }
  const held = await page.request.post(`/api/v1/coupons/${codes[0]}/holds`, {
    headers: api,
    data: { order_id: 'order-1', order_amount: 20000 },
  });
  expect(held.status()).toBe(201);
  await expect(page.getByTestId('held')).toHaveText('1');

  for (const [n, code] of codes.entries()) {
    const redeemed = await page.request.post(`/api/v1/coupons/${code}/redemptions`, {
      headers: api,
      data: { order_id: `order-${n + 1}`, order_amount: 20000 },
    });
    expect(redeemed.status()).toBe(201);
    await expect(page.getByTestId('redeemed')).toHaveText(String(n + 1));
  }
  await expect(page.getByTestId('held')).toHaveText('0');
  await expect(page.getByTestId('redemption-rate')).toHaveText('100.0%');
  await expect(page.getByTestId('discount-granted')).toHaveText('₩6,000');

  // The coupon search shows one coupon's state and history.
  await page.goto(`/admin/coupons?q=${codes[0]}`);
  await expect(page.getByTestId('coupon-state')).toHaveText('Redeemed');
  await expect(page.getByRole('cell', { name: 'Held' })).toBeVisible();
  await page.screenshot({ path: 'screenshots/admin-coupon-search.png', fullPage: true });
});

test('a member sees when their coupon was used on the claim page', async ({ page, browser }) => {
  await signInAsAdmin(page);
  const id = await createCampaign(page, `Used ${Date.now()}`, 2);
  const member = await memberPage(browser, id, 'shopper');
  await member.getByRole('button', { name: 'Claim' }).click();
  const code = (await member.getByTestId('coupon-code').textContent()) ?? '';
  await expect(member.getByTestId('coupon-usage')).toHaveText(/^Use it by /);

  const redeemed = await page.request.post(`/api/v1/coupons/${code}/redemptions`, {
    headers: api,
    data: { order_id: 'shop-order-9', order_amount: 50000, user_id: 'shopper' },
  });
  expect(redeemed.status()).toBe(201);

  await member.reload();
  await expect(member.getByTestId('coupon-usage')).toHaveText(/^Used on /);
  await member.context().close();
});

test('the create form fits its card on a laptop and on a phone', async ({ page }) => {
  await signInAsAdmin(page);
  for (const size of [
    { width: 1280, height: 900 },
    { width: 390, height: 844 },
  ]) {
    await page.setViewportSize(size);
    await page.goto('/admin/campaigns/new');
    const card = await page.locator('section.panel').boundingBox();
    for (const input of await page.locator('section.panel input, section.panel select').all()) {
      const box = await input.boundingBox();
      expect(box && card && box.x + box.width <= card.x + card.width + 0.5).toBeTruthy();
    }
  }
  await page.screenshot({ path: 'screenshots/admin-new-phone.png', fullPage: true });
});
