import { expect } from '@playwright/test';
import { open, test } from './helpers';

test('the health endpoint answers ok', async ({ request }) => {
  const response = await request.get('/healthz');
  expect(response.status()).toBe(200);
  expect(await response.json()).toEqual({ status: 'ok' });
});

test('the browser downloads the wasm bundle compressed', async ({ page }) => {
  test.skip(
    !(process.env.E2E_SERVER ?? '').includes('release'),
    'only release builds carry compressed copies (./dev test checks the release build)',
  );
  const wasm = page.waitForResponse((response) => response.url().endsWith('/pkg/coupon.wasm'));
  await open(page, '/');
  const encoding = (await wasm).headers()['content-encoding'];
  expect(['br', 'gzip']).toContain(encoding);
});
