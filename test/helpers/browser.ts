/**
 * Headless Chromium for browser tests: Debian's `chromium` package driven by playwright-core
 * through `executablePath`. Never a browser that Playwright downloads: playwright-core has no
 * download step, and nothing here calls one.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';

export const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Where browser tests leave screenshots (gitignored). */
export const UI_OUTPUT_DIR = fileURLToPath(new URL('../../test-results/ui/', import.meta.url));

type PlaywrightCore = typeof import('playwright-core');

/** Why browser tests cannot run here, or undefined when they can. */
export async function browserUnavailable(): Promise<string | undefined> {
  if (!existsSync(CHROMIUM_BIN)) return `${CHROMIUM_BIN} is missing (apt-get install -y chromium)`;
  if (!(await loadPlaywright())) return 'playwright-core is not installed (npm install -D playwright-core@1.64)';
  return undefined;
}

let loaded: PlaywrightCore | null | undefined;
async function loadPlaywright(): Promise<PlaywrightCore | null> {
  if (loaded === undefined) {
    try {
      loaded = await import('playwright-core');
    } catch {
      loaded = null;
    }
  }
  return loaded;
}

export interface BrowserHandle {
  context: BrowserContext;
  page: Page;
  /** Console errors, uncaught page errors and CSP violations seen so far. */
  problems: string[];
  close(): Promise<void>;
}

/** A fresh profile in a temporary directory, removed on close. */
export async function launchBrowser(): Promise<BrowserHandle> {
  const pw = await loadPlaywright();
  if (!pw) throw new Error('playwright-core is not installed');
  const userDataDir = mkdtempSync(join(tmpdir(), 'remediator-chromium-'));
  const context = await pw.chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_BIN,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1440, height: 900 },
    timeout: 30_000,
  });
  context.setDefaultTimeout(15_000);
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  return {
    context,
    page,
    problems,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot under test-results/ui/ and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(UI_OUTPUT_DIR, { recursive: true });
  const path = join(UI_OUTPUT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
