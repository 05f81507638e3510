// End-to-end test of the console chat adapter in a real browser.
//
// It starts the built mentiondesk binary on a replay source, opens the console page in
// headless Chromium and works one card the way an agent would: set the name, claim, reply
// publicly, and see the card and its thread change live. A second source points at a port
// nobody listens on, so the ops-notices panel shows its connector-health notice. It saves a
// screenshot of the page to docs/console.png for the README.
//
// Environment:
//   MENTIONDESK_BIN       path to the built mentiondesk binary (required)
//   MENTIONDESK_EXAMPLES  path to a mentions JSONL file for the replay source (required)
//   CHROMIUM              path to the Chromium binary (default /usr/bin/chromium)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repositoryRoot = path.resolve(here, '..', '..');
const screenshotPath = path.join(repositoryRoot, 'docs', 'console.png');
const startupTimeoutMs = 30_000;
const stepTimeoutMs = 20_000;

function requiredEnv(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} must be set (see the comment at the top of console.test.mjs)`);
  }
  return path.resolve(value);
}

// Asks the kernel for a free loopback port by binding port 0 and releasing it.
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function tomlString(value) {
  return JSON.stringify(value);
}

function writeConfig(directory, examples, consolePort, httpPort, downPort) {
  const configPath = path.join(directory, 'mentiondesk.toml');
  const config = `# Written by tests/browser/console.test.mjs.
[store]
path = ${tomlString(path.join(directory, 'store'))}

[http]
listen = "127.0.0.1:${httpPort}"

[brand]
name = "Acme"
keywords = ["acme", "acme app"]
handles = ["acme.bsky.social", "@acme@mastodon.social", "AcmeSupport"]

[[sources]]
type = "replay"
name = "demo"
path = ${tomlString(examples)}
sent_path = ${tomlString(path.join(directory, 'sent.jsonl'))}
pace = false

# Nothing listens here: the source fails from the start and is announced in the ops panel.
[[sources]]
type = "mastodon"
name = "down"
base_url = "http://127.0.0.1:${downPort}"
access_token = "unused"

[runtime]
health_notice_after = "2s"

[console]
listen = "127.0.0.1:${consolePort}"

[[escalations]]
id = "billing"
label = "Billing team"
`;
  writeFileSync(configPath, config);
  return configPath;
}

function startBot(binary, configPath, directory) {
  const output = [];
  const child = spawn(binary, ['run', '--config', configPath], {
    cwd: directory,
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (chunk) => output.push(chunk.toString()));
  child.stderr.on('data', (chunk) => output.push(chunk.toString()));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, output, exited };
}

async function stopBot(bot) {
  if (bot.child.exitCode !== null || bot.child.signalCode !== null) return;
  bot.child.kill('SIGTERM');
  const timer = setTimeout(() => bot.child.kill('SIGKILL'), 10_000);
  await bot.exited;
  clearTimeout(timer);
}

async function waitForConsole(baseUrl, bot) {
  const deadline = Date.now() + startupTimeoutMs;
  let lastError = null;
  while (Date.now() < deadline) {
    if (bot.child.exitCode !== null) {
      throw new Error(`mentiondesk exited early with code ${bot.child.exitCode}:\n${bot.output.join('')}`);
    }
    try {
      const response = await fetch(`${baseUrl}/api/channels`);
      if (response.ok) return await response.json();
      lastError = new Error(`status ${response.status}`);
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`console did not answer within ${startupTimeoutMs} ms (${lastError}):\n${bot.output.join('')}`);
}

test('an agent claims a card and replies publicly from the console page', async (t) => {
  const binary = requiredEnv('MENTIONDESK_BIN');
  const examples = requiredEnv('MENTIONDESK_EXAMPLES');
  const directory = mkdtempSync(path.join(tmpdir(), 'mentiondesk-browser-'));
  const consolePort = await freePort();
  const httpPort = await freePort();
  const downPort = await freePort();
  const configPath = writeConfig(directory, examples, consolePort, httpPort, downPort);
  const baseUrl = `http://127.0.0.1:${consolePort}`;

  const bot = startBot(binary, configPath, directory);
  let context = null;
  t.after(async () => {
    if (context) await context.close().catch(() => {});
    await stopBot(bot);
    rmSync(directory, { recursive: true, force: true });
  });

  const channels = await waitForConsole(baseUrl, bot);
  assert.ok(channels.some((channel) => channel.id === 'mentions'), 'the mentions channel exists');

  context = await chromium.launchPersistentContext(path.join(directory, 'chromium-profile'), {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(stepTimeoutMs);
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));

  try {
    await page.goto(baseUrl);

    // The page asks once for the agent's name and shows it in the header.
    await page.locator('#agent-dialog').waitFor({ state: 'visible' });
    await page.fill('#agent-input', 'Ana');
    await page.click('#agent-form button[type="submit"]');
    await page.waitForFunction(() => document.getElementById('agent-name').textContent === 'Ana');

    // A card with a Claim button arrives (live, if the replay is still being ingested).
    const claimable = page.locator('.card', { has: page.locator('button[data-action="claim"]') }).first();
    await claimable.waitFor({ state: 'visible', timeout: startupTimeoutMs });
    const cardId = await claimable.getAttribute('id');
    assert.ok(cardId, 'cards carry an element id');
    const card = page.locator(`[id="${cardId}"]`);

    // Claim: the card is swapped in place and shows the owner.
    await card.locator('button[data-action="claim"]').click();
    await page.waitForFunction(
      (id) => {
        const element = document.getElementById(id);
        const state = element && element.querySelector('.state-line');
        return Boolean(state && state.textContent.includes('Ana'));
      },
      cardId,
    );

    // Reply publicly: the form is prefilled with the customer's handle and counts characters.
    const threadBefore = await card.locator('.thread li').count();
    await card.locator('button[data-action="reply"]').click();
    const textarea = card.locator('.reply-form textarea');
    await textarea.waitFor({ state: 'visible' });
    const prefill = await textarea.inputValue();
    assert.match(prefill, /^@\S+ $/, 'the reply is prefilled with "@handle "');
    const replyText = `${prefill}Sorry about the trouble, we are on it and will update you here.`;
    await textarea.fill(replyText);
    const counter = await card.locator('.reply-form .counter').textContent();
    assert.match(counter, /^\d+ \/ \d+$/, 'the form shows a character counter against the limit');
    await card.locator('.reply-form button[type="submit"]').click();

    // The form closes, and once the network accepted the reply the thread gains its note.
    await card.locator('.reply-form').waitFor({ state: 'detached' });
    await page.waitForFunction(
      ({ id, before }) => {
        const element = document.getElementById(id);
        if (!element) return false;
        const notes = Array.from(element.querySelectorAll('.thread li'));
        return (
          notes.length > before &&
          notes.some((note) => /replied publicly/.test(note.textContent) && /we are on it/.test(note.textContent))
        );
      },
      { id: cardId, before: threadBefore },
    );

    // The failing source is announced once in the ops panel (on load or live over SSE).
    await page.waitForFunction(() => {
      const panel = document.getElementById('notices');
      return Boolean(panel && !panel.hidden && /source:down has been failing/.test(panel.textContent));
    });
    const downNotices = await page.locator('#notice-list li', { hasText: 'source:down' }).count();
    assert.equal(downNotices, 1, 'one notice for the failing source');

    assert.deepEqual(pageErrors, [], 'the page script raised no errors');

    // Toasts are private and short-lived: keep them out of the documentation picture.
    await page.evaluate(() => document.getElementById('toasts').replaceChildren());
    mkdirSync(path.dirname(screenshotPath), { recursive: true });
    await page.screenshot({ path: screenshotPath, fullPage: true });
  } catch (error) {
    error.message += `\n--- mentiondesk output ---\n${bot.output.join('').slice(-8000)}`;
    throw error;
  }
});
