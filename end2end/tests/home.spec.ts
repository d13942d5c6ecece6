import { expect, test } from '@playwright/test';

test('the server-rendered home page hydrates in the browser', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));

  await page.goto('/');

  await expect(page.getByRole('heading', { name: 'First-come-first-served coupons' })).toBeVisible();
  // The text changes only once the wasm bundle has taken over the page.
  await expect(page.getByTestId('hydration')).toHaveText('interactive');
  expect(errors).toEqual([]);
});

test('the health endpoint answers ok', async ({ request }) => {
  const response = await request.get('/healthz');
  expect(response.status()).toBe(200);
  expect(await response.json()).toEqual({ status: 'ok' });
});
