import { defineConfig } from '@playwright/test';

// The server under test is the binary `cargo leptos build` produced, started by Playwright
// itself (which waits for /healthz) against the Redis and PostgreSQL that ./dev test started.
const port = Number(process.env.E2E_PORT ?? 3100);
const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 5_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  use: {
    baseURL,
    locale: 'en-US',
    trace: 'retain-on-failure',
    launchOptions: {
      // Debian's Chromium: Playwright's own browser download cannot work on this network.
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  webServer: {
    // ./dev test sets E2E_SERVER=target/release/server (after `cargo leptos build --release`);
    // without it, the debug build of `cargo leptos build` is checked.
    command: process.env.E2E_SERVER ?? 'target/debug/server',
    cwd: '..',
    url: `${baseURL}/healthz`,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: 'pipe',
    stderr: 'pipe',
    env: {
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: 'target/site',
      LEPTOS_OUTPUT_NAME: 'coupon',
      REDIS_URL: process.env.REDIS_URL ?? '',
      DATABASE_URL: process.env.DATABASE_URL ?? '',
      RUST_LOG: process.env.RUST_LOG ?? 'info',
      ADMIN_EMAIL: 'admin@example.com',
      ADMIN_PASSWORD: 'e2e-password-123',
      MEMBER_DEMO_SIGN_IN: 'true',
      // Every member of every test signs in from 127.0.0.1.
      RATE_SIGNINS_PER_MINUTE: '1000',
      MEMBER_TOKEN_SECRET: 'e2e-member-token-secret-of-32-bytes!',
      API_KEY: 'e2e-api-key',
      LIVE_TICK_MS: '250',
      SYNC_IDLE_MS: '50',
    },
  },
});
