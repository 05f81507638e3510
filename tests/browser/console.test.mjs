// End-to-end tests of the console chat adapter in a real browser.
//
// The first starts the built mentiondesk binary on a replay source, opens the console page in
// headless Chromium and works one card the way an agent would: set the name, claim, reply
// publicly, and see the card and its thread change live. A second source points at a port
// nobody listens on, so the ops-notices panel shows its connector-health notice. It saves a
// screenshot of the page to docs/console.png for the README.
//
// The second runs the bot with approval mode, a saved reply and kudos on, over three posts of
// its own (a complaint, praise, a question): a saved reply fills the reply text, the draft
// waits for an approver who approves it (the reply is posted and shown as sent), the Kudos
// tab's "Mark as complaint" moves the praise, and the Skipped tab's moves the question.
//
// Environment:
//   MENTIONDESK_BIN       path to the built mentiondesk binary (required)
//   MENTIONDESK_EXAMPLES  path to a mentions JSONL file for the replay source (required)
//   CHROMIUM              path to the Chromium binary (default /usr/bin/chromium)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
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

// Writes the bot's config: a store in `directory`, the replay source `demo` reading `posts`,
// the console and health ports, the brand's handles, then `extra` (more TOML tables).
function writeConfigFile(directory, { posts, consolePort, httpPort, handles, extra }) {
  const configPath = path.join(directory, 'mentiondesk.toml');
  const config = `# Written by tests/browser/console.test.mjs.
[store]
path = ${tomlString(path.join(directory, 'store'))}

[http]
listen = "127.0.0.1:${httpPort}"

[brand]
name = "Acme"
keywords = ["acme", "acme app"]
handles = ${JSON.stringify(handles)}

[[sources]]
type = "replay"
name = "demo"
path = ${tomlString(posts)}
sent_path = ${tomlString(path.join(directory, 'sent.jsonl'))}
pace = false

[console]
listen = "127.0.0.1:${consolePort}"
${extra}`;
  writeFileSync(configPath, config);
  return configPath;
}

function writeConfig(directory, examples, consolePort, httpPort, downPort) {
  return writeConfigFile(directory, {
    posts: examples,
    consolePort,
    httpPort,
    handles: ['acme.bsky.social', '@acme@mastodon.social', 'AcmeSupport'],
    extra: `
# Nothing listens here: the source fails from the start and is announced in the ops panel.
[[sources]]
type = "mastodon"
name = "down"
base_url = "http://127.0.0.1:${downPort}"
access_token = "unused"

[runtime]
health_notice_after = "2s"

[[escalations]]
id = "billing"
label = "Billing team"
`,
  });
}

// Approval mode, one saved reply, kudos on; `Lee` approves. The replay source reads `posts`.
function writeApprovalConfig(directory, posts, consolePort, httpPort) {
  return writeConfigFile(directory, {
    posts,
    consolePort,
    httpPort,
    handles: ['acme.bsky.social'],
    extra: `
[triage]
kudos = true

[replies]
require_approval = true

[[replies.saved]]
name = "Apology"
text = "{handle} sorry about this! We are looking into it now. {agent}"

[permissions]
reply = ["*"]
escalate = ["*"]
resolve = ["*"]
approve = ["console:lee"]
`,
  });
}

// A Bluesky post by `handle` for the replay source.
function bskyPost(id, handle, text) {
  return {
    network: 'bluesky',
    id: `at://did:plc:${handle}/app.bsky.feed.post/${id}`,
    url: `https://bsky.app/profile/${handle}/post/${id}`,
    author: { id: `did:plc:${handle}`, handle, display_name: handle },
    text,
    created_at: new Date().toISOString(),
    in_reply_to: null,
    root: null,
    kind: 'mention',
    lang: 'en',
  };
}

async function launchBrowser(directory) {
  return chromium.launchPersistentContext(path.join(directory, 'chromium-profile'), {
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
}

// Types `name` into the agent dialog (open already, or opened with "Change").
async function signIn(page, name) {
  if (!(await page.locator('#agent-dialog').isVisible())) await page.click('#agent-change');
  await page.locator('#agent-dialog').waitFor({ state: 'visible' });
  await page.fill('#agent-input', name);
  await page.click('#agent-form button[type="submit"]');
  await page.waitForFunction((expected) => document.getElementById('agent-name').textContent === expected, name);
}

// Waits for a toast whose text matches `pattern`.
async function toastMatching(page, pattern) {
  await page.waitForFunction(
    (source) => Array.from(document.querySelectorAll('#toasts .toast')).some((toast) => new RegExp(source).test(toast.textContent)),
    pattern.source,
  );
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

// Starts the bot on `configPath`, waits for its console and opens it in Chromium; everything
// (the browser, the bot, `directory`) goes away when the test `t` ends.
async function openConsole(t, binary, directory, configPath, consolePort) {
  const baseUrl = `http://127.0.0.1:${consolePort}`;
  const bot = startBot(binary, configPath, directory);
  let context = null;
  t.after(async () => {
    if (context) await context.close().catch(() => {});
    await stopBot(bot);
    rmSync(directory, { recursive: true, force: true });
  });
  const channels = await waitForConsole(baseUrl, bot);
  context = await launchBrowser(directory);
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(stepTimeoutMs);
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  return { bot, page, pageErrors, channels, baseUrl };
}

test('an agent claims a card and replies publicly from the console page', async (t) => {
  const binary = requiredEnv('MENTIONDESK_BIN');
  const examples = requiredEnv('MENTIONDESK_EXAMPLES');
  const directory = mkdtempSync(path.join(tmpdir(), 'mentiondesk-browser-'));
  const consolePort = await freePort();
  const httpPort = await freePort();
  const downPort = await freePort();
  const configPath = writeConfig(directory, examples, consolePort, httpPort, downPort);
  const { bot, page, pageErrors, channels, baseUrl } = await openConsole(t, binary, directory, configPath, consolePort);
  assert.ok(channels.some((channel) => channel.id === 'mentions'), 'the mentions channel exists');

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

test('approval, saved replies, and Mark as complaint from the Kudos and Skipped tabs', async (t) => {
  const binary = requiredEnv('MENTIONDESK_BIN');
  const directory = mkdtempSync(path.join(tmpdir(), 'mentiondesk-browser-'));
  const consolePort = await freePort();
  const httpPort = await freePort();
  const posts = path.join(directory, 'posts.jsonl');
  writeFileSync(
    posts,
    [
      bskyPost('c1', 'jo.bsky.social', '@acme.bsky.social my order never arrived and support ignores me'),
      bskyPost('k1', 'fan.bsky.social', 'thanks @acme.bsky.social, great job, love that the app logs me out every hour, amazing'),
      bskyPost('q1', 'asker.bsky.social', '@acme.bsky.social which plan includes the hub?'),
    ]
      .map((post) => JSON.stringify(post))
      .join('\n') + '\n',
  );
  const configPath = writeApprovalConfig(directory, posts, consolePort, httpPort);
  const { bot, page, pageErrors, baseUrl } = await openConsole(t, binary, directory, configPath, consolePort);

  try {
    await page.goto(baseUrl);
    await signIn(page, 'Ana');

    // The complaint's card; Ana picks the saved reply, which fills the text for her.
    const card = page.locator('.card[data-case="1"]');
    await card.waitFor({ state: 'visible', timeout: startupTimeoutMs });
    await card.locator('button[data-action="reply"]').click();
    const textarea = card.locator('.reply-form textarea');
    await textarea.waitFor({ state: 'visible' });
    assert.equal(await textarea.inputValue(), '@jo.bsky.social ', 'prefilled with the handle');
    const picker = card.locator('.reply-form select.saved-replies');
    await picker.selectOption({ label: 'Apology' });
    assert.equal(
      await textarea.inputValue(),
      '@jo.bsky.social sorry about this! We are looking into it now. Ana',
      'the saved reply, filled in for this customer and agent',
    );
    await card.locator('.reply-form button[type="submit"]').click();
    await card.locator('.reply-form').waitFor({ state: 'detached' });
    await toastMatching(page, /Draft saved/);
    // The card waits for an approver.
    await page.waitForFunction(() => {
      const element = document.querySelector('.card[data-case="1"]');
      return Boolean(element && element.querySelector('button[data-action="approve"]') && /awaiting approval/.test(element.textContent));
    });
    const sentPath = path.join(directory, 'sent.jsonl');
    assert.equal(existsSync(sentPath) ? readFileSync(sentPath).toString().trim() : '', '', 'nothing posted before approval');

    // Lee approves: the reply goes out and the thread shows it sent.
    await signIn(page, 'Lee');
    await page.locator('.card[data-case="1"] button[data-action="approve"]').click();
    await toastMatching(page, /Approved/);
    await page.waitForFunction(() => {
      const element = document.querySelector('.card[data-case="1"]');
      if (!element) return false;
      const notes = Array.from(element.querySelectorAll('.thread li')).map((note) => note.textContent);
      return notes.some((note) => /replied publicly/i.test(note) && /looking into it now/.test(note)) &&
        /replied/.test(element.querySelector('.state-pill').textContent);
    });
    const sent = readFileSync(sentPath).toString().trim().split('\n').map((line) => JSON.parse(line));
    assert.equal(sent.length, 1, 'one public reply');
    assert.match(JSON.stringify(sent[0]), /sorry about this! We are looking into it now\. Ana/);

    // The Kudos tab: the praise, moved to the complaint queue.
    await page.click('.tab[data-channel="kudos"]');
    const kudos = page.locator('.card', { has: page.locator('button[data-action="complaint"]') }).first();
    await kudos.waitFor({ state: 'visible' });
    const kudosId = await kudos.getAttribute('id');
    await kudos.locator('button[data-action="complaint"]').click();
    await toastMatching(page, /Moved to the complaint queue as case #2/);
    await page.waitForFunction((id) => {
      const element = document.getElementById(id);
      return Boolean(element && /Moved to the complaint queue by Lee/.test(element.textContent) &&
        !element.querySelector('button[data-action="complaint"]'));
    }, kudosId);

    // The Skipped tab: the question (and the praise, now a case), newest first.
    await page.click('.tab[data-view="skipped"]');
    await page.waitForURL(/\/skipped$/);
    const question = page.locator('.card.skipped', { hasText: 'which plan includes the hub' });
    await question.waitFor({ state: 'visible' });
    const praise = page.locator('.card.skipped', { hasText: 'logs me out' });
    assert.match(await praise.textContent(), /Now case #2/, 'the praise shows its case');
    assert.equal(await praise.locator('button').count(), 0);
    assert.match(await question.locator('.triage-line').textContent(), /score \d\.\d\d/);
    assert.equal(
      await question.locator('a', { hasText: 'View post' }).getAttribute('href'),
      'https://bsky.app/profile/asker.bsky.social/post/q1',
    );
    const order = await page.locator('.card.skipped').evaluateAll((cards) => cards.map((card) => card.textContent));
    assert.ok(order.findIndex((text) => /which plan/.test(text)) < order.findIndex((text) => /logs me out/.test(text)), 'newest first');
    await question.locator('button[data-action="skipped"]').click();
    await toastMatching(page, /Moved to the complaint queue as case #3/);
    await page.waitForFunction(() => {
      const entry = Array.from(document.querySelectorAll('.card.skipped')).find((card) => /which plan/.test(card.textContent));
      return Boolean(entry && entry.classList.contains('moved') && /Now case #3/.test(entry.textContent) && !entry.querySelector('button'));
    });

    // Its card is in the main channel.
    await page.click('.tab[data-channel="mentions"]');
    await page.locator('.card[data-case="3"]', { hasText: 'which plan includes the hub' }).waitFor({ state: 'visible' });
    assert.deepEqual(pageErrors, [], 'the page script raised no errors');
  } catch (error) {
    error.message += `\n--- mentiondesk output ---\n${bot.output.join('').slice(-8000)}`;
    throw error;
  }
});
