import { expect } from '@playwright/test';
import { test } from './helpers';

test('the health endpoint answers ok', async ({ request }) => {
  const response = await request.get('/healthz');
  expect(response.status()).toBe(200);
  expect(await response.json()).toEqual({ status: 'ok' });
});
