import { expect } from '@playwright/test';
import { createCampaign, newContext, open, signInAsAdmin, test } from './helpers';

test('an admin page is refused when signed out', async ({ page }) => {
  await open(page, '/admin/campaigns/new');

  await expect(page.getByText('Please sign in as an admin.')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Create' })).toHaveCount(0);
});

test('a wrong password is refused', async ({ page }) => {
  await open(page, '/admin/login');
  await page.getByLabel('Email').fill('admin@example.com');
  await page.getByLabel('Password').fill('wrong-password');
  await page.getByRole('button', { name: 'Sign in' }).click();

  await expect(page.getByText('Wrong email or password.')).toBeVisible();
});

test('a form error is shown at its field and the typed values stay', async ({ page }) => {
  await signInAsAdmin(page);
  await open(page, '/admin/campaigns/new');
  await page.getByLabel('Name').fill('Percent too high');
  await page.getByLabel('Discount kind').selectOption('percentage');
  await page.getByLabel('Discount amount').fill('150');
  await page.getByLabel('Quantity').fill('0');

  await page.getByRole('button', { name: 'Create' }).click();

  await expect(page.locator('#field-discount_amount-error')).toContainText('at most 100');
  await expect(page.locator('#field-quantity-error')).toContainText('at least 1');
  await expect(page.getByLabel('Name')).toHaveValue('Percent too high');
  await expect(page.getByLabel('Discount amount')).toHaveValue('150');
  await expect(page).toHaveURL(/\/admin\/campaigns\/new$/);
});

test('a marketer pauses, resumes and tops up a campaign', async ({ page }) => {
  await signInAsAdmin(page);
  await createCampaign(page, `Controls ${Date.now()}`, 2);

  await page.getByRole('button', { name: 'Pause' }).click();
  await expect(page.getByTestId('status')).toHaveText('Paused');
  await page.getByRole('button', { name: 'Resume' }).click();
  await expect(page.getByTestId('status')).toHaveText('Active');
  await page.getByLabel('Change quantity').fill('10');
  await page.getByRole('button', { name: 'Apply' }).click();

  await expect(page.getByTestId('remaining')).toHaveText('10');
  // Which Redis node holds the campaign's keys (on a cluster: the primary owning its slot).
  await expect(page.getByTestId('redis-node')).toHaveText(/^127\.0\.0\.1:\d+$/);
  await open(page, '/admin');
  await expect(page.getByRole('heading', { name: 'Campaigns' })).toBeVisible();
  await page.screenshot({ path: 'screenshots/admin-list.png', fullPage: true });
});

test('ending a campaign asks first and says it cannot be undone', async ({ page }) => {
  await signInAsAdmin(page);
  await createCampaign(page, `Ending ${Date.now()}`, 2);

  // The browser's own dialog asks; the first time the marketer says no.
  const asked: string[] = [];
  page.once('dialog', async (dialog) => {
    asked.push(dialog.message());
    await dialog.dismiss();
  });
  await page.getByRole('button', { name: 'End campaign' }).click();
  await expect.poll(() => asked.length).toBe(1);
  expect(asked[0]).toContain('Ending cannot be undone');
  await expect(page.getByTestId('status')).toHaveText('Active');
  page.once('dialog', (dialog) => dialog.accept());
  await page.getByRole('button', { name: 'End campaign' }).click();

  await expect(page.getByTestId('status')).toHaveText('Ended');
  await expect(page.getByRole('button', { name: 'End campaign' })).toHaveCount(0);
});

test('a live page whose stream was answered 503 reconnects and says it is live again', async ({
  page,
}) => {
  await signInAsAdmin(page);
  const id = await createCampaign(page, `Recovering ${Date.now()}`, 2);
  await expect(page.getByText('Live', { exact: true })).toBeVisible();

  // The next attempts to open the stream get a 503, as during a deploy or a database outage;
  // an EventSource closes for good on an HTTP error answer.
  let refused = 0;
  await page.route(`**/admin/live/campaigns/${id}`, async (route) => {
    if (refused < 2) {
      refused += 1;
      await route.fulfill({ status: 503, body: 'unavailable' });
    } else {
      await route.continue();
    }
  });
  await page.reload();
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await expect(page.getByText('Reconnecting')).toBeVisible();

  await expect(page.getByText('Live', { exact: true })).toBeVisible({ timeout: 15_000 });
  expect(refused).toBe(2);
});

test('the pages speak Korean by default for Korean browsers and switch languages', async ({
  browser,
}) => {
  const context = await newContext(browser, { locale: 'ko-KR' });
  const page = await context.newPage();
  await open(page, '/');
  await expect(page.getByRole('heading', { name: '선착순 쿠폰' })).toBeVisible();
  await page.screenshot({ path: 'screenshots/home-ko.png', fullPage: true });

  await page.getByRole('link', { name: 'English' }).click();
  await expect(page.getByRole('heading', { name: 'First-come coupons' })).toBeVisible();
  await page.reload();
  await expect(page.getByRole('heading', { name: 'First-come coupons' })).toBeVisible();
  await context.close();
});

test('the campaign page says when its live stream drops and recovers on its own', async ({ page }) => {
  await signInAsAdmin(page);
  const id = await createCampaign(page, `Stream drop ${Date.now()}`, 4);
  await expect(page.getByText('Live', { exact: true })).toBeVisible();

  // The stream cannot connect: the page says so.
  await page.route('**/admin/live/**', (route) => route.abort());
  await page.reload();
  await expect(page.getByText('Connection lost. Reconnecting…')).toBeVisible();

  // The network is back: the browser reconnects by itself and numbers flow again.
  await page.unroute('**/admin/live/**');
  await expect(page.getByText('Live', { exact: true })).toBeVisible({ timeout: 15_000 });
  const claim = await page.request.post(`/api/v1/campaigns/${id}/claims`, {
    headers: { Authorization: 'Bearer e2e-api-key' },
    data: { user_id: 'after-reconnect' },
  });
  expect(claim.status()).toBe(201);
  await expect(page.getByTestId('remaining')).toHaveText('3');
});
