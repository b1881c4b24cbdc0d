// vitrina's browser tests: the real server (`vitrina serve --demo`) driven in headless Debian
// Chromium through playwright-core, acting as a user would — by visible text and labels.
// Every page is checked with axe-core (no serious or critical violation) and photographed.
//
//   node tests/browser/run.mjs            (scripts/test.sh runs it after `cargo test`)
//
// VITRINA_BIN: the `vitrina` binary (default target/debug/vitrina); CHROMIUM: the browser
// (default /usr/bin/chromium). Screenshots go to target/browser-screenshots/.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { vendorSteps } from "./vendor.mjs";
import { sdfSteps } from "./sdf.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const bin = process.env.VITRINA_BIN || join(root, "target", "debug", "vitrina");
const browserPath = process.env.CHROMIUM || "/usr/bin/chromium";
const shots = join(root, "target", "browser-screenshots");
const axeSource = readFileSync(join(here, "node_modules", "axe-core", "axe.min.js"), "utf8");

for (const [what, path, how] of [
  ["the vitrina binary", bin, "build it with `cargo build -p vitrina-cli`"],
  ["Chromium", browserPath, "install it with `apt-get install chromium chromium-driver`"],
]) {
  if (!existsSync(path)) {
    console.error(`FAIL: ${what} is missing at ${path}: ${how}`);
    process.exit(1);
  }
}
mkdirSync(shots, { recursive: true });

/** Polls `f` until it returns a truthy value or `ms` pass. */
async function until(what, f, ms = 120000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function startServer() {
  const data = mkdtempSync(join(tmpdir(), "vitrina-browser-"));
  const child = spawn(bin, ["serve", "--demo", "--data", data, "--listen", "127.0.0.1:0",
    "--cloud-network", "shared", "--stop-servers-on-exit"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout.on("data", (d) => { log += d; });
  child.stderr.on("data", (d) => { log += d; });
  const creds = join(data, "demo-credentials.json");
  const info = await until("the demo server", async () => {
    if (child.exitCode !== null) throw new Error(`the server exited:\n${log}`);
    if (!existsSync(creds)) return undefined;
    const c = JSON.parse(readFileSync(creds, "utf8"));
    const r = await fetch(`${c.url}/healthz`);
    return r.ok ? c : undefined;
  });
  async function stop() {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const late = setTimeout(() => child.kill("SIGKILL"), 20000);
      await exited;
      clearTimeout(late);
    }
    rmSync(data, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
  return { info, data, stop, log: () => log };
}

const results = [];
async function check(name, f) {
  try {
    await f();
    results.push([name, "ok"]);
    console.log(`ok   ${name}`);
  } catch (e) {
    results.push([name, "FAIL"]);
    console.log(`FAIL ${name}\n${e.stack || e}`);
  }
}

/** Runs axe-core on the page: no serious or critical violation. */
async function accessible(page, label) {
  await page.addScriptTag({ content: axeSource });
  const found = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
  assert.deepEqual(found, [], `${label}: accessibility violations`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** The panel's total as a number: "1 234.50 ₽" → 1234.5. */
async function total(page) {
  const text = await page.locator("[data-total]").innerText();
  return Number(text.replace(/[^0-9.]/g, ""));
}

const server = await startServer();
const base = server.info.url;
const browser = await chromium.launch({ executablePath: browserPath, args: ["--no-sandbox"] });
const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
const consoleErrors = [];
page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
page.on("pageerror", (e) => consoleErrors.push(String(e)));
page.on("response", (r) => { if (r.status() >= 400) consoleErrors.push(`${r.status()} ${r.request().method()} ${r.url()}`); });
// No third-party request: everything the pages load comes from the server.
page.on("request", (r) => {
  if (!r.url().startsWith(base) && !r.url().startsWith("data:")) consoleErrors.push(`third-party request: ${r.url()}`);
});

/** Change options of a running hello_web (issue 12, build point 5): the wizard opens with the
 *  current answers, the preview says what changes and the new price, apply runs it again. */
async function changeOptionsOfARunningDeployment() {
  const ctx = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
  const p = await ctx.newPage();
  p.on("dialog", (d) => d.accept());
  p.on("pageerror", (e) => consoleErrors.push(String(e)));
  try {
    await p.goto(`${base}/signin`);
    await p.getByLabel("Project API token").fill(server.info.project.auth_token);
    await p.getByRole("button", { name: "Sign in" }).first().click();
    await p.getByText(/Signed in as/).waitFor();
    await p.goto(`${base}/`);
    await p.getByRole("link", { name: "Hello Web" }).click();
    await p.getByRole("link", { name: /Choose: .*Профессиональный/ }).click();
    const days = "Хранение журналов посещений, дней";
    await p.getByLabel(days, { exact: true }).waitFor();
    const t0 = await total(p);
    await p.getByRole("button", { name: `Increase: ${days}` }).click();
    await until("one paid step", async () => (await total(p)) === t0 + 100);
    await p.getByRole("button", { name: "Review and deploy" }).click();
    await p.getByRole("button", { name: "Deploy" }).click();
    await p.waitForURL(/\/deployments\/[^/]+$/);
    const deployment = p.url();
    const running = async (extra) => until("the deployment running", async () => {
      await p.goto(deployment);
      if ((await p.locator("[data-status]").innerText()) !== "running") return false;
      return extra ? (await p.locator("ol.log").innerText()).includes(extra) : true;
    }, Number(process.env.DEPLOY_WAIT_MS || 300000));
    try {
      await running();
    } catch (e) {
      await shot(p, "09-change-stuck");
      throw new Error(`${e.message}; the page says:\n${await p.locator("main").innerText()}`);
    }
    // The wizard opens with the deployment's answers (one paid step), not the defaults (0).
    await p.getByRole("link", { name: "Change options" }).click();
    const field = p.getByLabel(days, { exact: true });
    await field.waitFor();
    assert.equal(await field.inputValue(), "1", "the current answer, not the default");
    await accessible(p, "change wizard");
    const before = await total(p);
    await p.getByRole("button", { name: `Increase: ${days}` }).click();
    await until("the change priced", async () => (await total(p)) === before + 100);
    await p.getByRole("button", { name: "Preview the change" }).click();
    await p.getByRole("heading", { name: "What the change will do" }).first().waitFor();
    const row = p.locator("table.changes tbody tr", { hasText: days });
    assert.match(await row.innerText(), /Changed in place/);
    const money = async (sel) => Number((await p.locator(sel).innerText()).replace(/[^0-9.]/g, ""));
    assert.equal(await money("[data-price-after]"), (await money("[data-price-before]")) + 100);
    await accessible(p, "change preview");
    await shot(p, "09-change-preview");
    await p.getByRole("button", { name: "Apply the change" }).click();
    await p.waitForURL(deployment);
    await running("update requested");
    await accessible(p, "deployment page after the change");
    await shot(p, "10-changed-running");
    await p.getByRole("button", { name: "Delete" }).click();
    await until("the changed deployment deleted", async () => {
      await p.goto(deployment);
      return (await p.locator("[data-status]").innerText()) === "deleted";
    }, 300000);
  } finally {
    await ctx.close();
  }
}

try {
  await check("sign in as the demo project with its API token", async () => {
    await page.goto(`${base}/signin`);
    await accessible(page, "sign-in page");
    await page.getByLabel("Project API token").fill(server.info.project.auth_token);
    await page.getByRole("button", { name: "Sign in" }).first().click();
    await page.getByText(/Signed in as/).waitFor();
  });

  await check("catalog: find hello_web by search and open it", async () => {
    await page.goto(`${base}/`);
    await accessible(page, "catalog");
    await shot(page, "01-catalog");
    await page.getByLabel("Search applications").fill("hello");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByRole("link", { name: "Hello Web" }).click();
    await page.getByRole("heading", { name: "Hello Web" }).waitFor();
  });

  await check("service page: the matrix shows both plans with prices", async () => {
    const table = page.locator("table.matrix");
    await table.waitFor();
    const text = await table.innerText();
    assert.match(text, /Free/);
    assert.match(text, /990\.00/);
    assert.equal(await page.getByRole("link", { name: /^Choose/ }).count(), 2);
    await accessible(page, "service page");
    await shot(page, "02-service");
  });

  await check("wizard: paid steps, a bigger flavor, an invalid value and its fix", async () => {
    await page.getByRole("link", { name: /Choose: .*Профессиональный/ }).click();
    await page.getByLabel("Хранение журналов посещений, дней", { exact: true }).waitFor();
    await accessible(page, "wizard");
    await shot(page, "03-wizard");
    const t0 = await total(page);
    const plus = page.getByRole("button", { name: "Increase: Хранение журналов посещений, дней" });
    await plus.click();
    await until("the first step priced", async () => (await total(page)) === t0 + 100);
    await plus.click();
    await until("the second step priced", async () => (await total(page)) === t0 + 200);
    const t2 = await total(page);
    const flavor = page.getByLabel("Тип виртуальной машины", { exact: true });
    const options = await flavor.locator("option").allInnerTexts();
    const bigger = options.find((o) => /Standard-2-4-40/.test(o));
    assert.ok(bigger, `a bigger flavor among ${options}`);
    await flavor.selectOption({ label: bigger });
    await until("the infrastructure repriced", async () => (await total(page)) > t2);
    const size = page.getByLabel("Размер диска данных, ГБ", { exact: true });
    await size.fill("999");
    await size.dispatchEvent("change");
    await page.getByText("must be at most 200").waitFor();
    await shot(page, "04-wizard-error");
    await size.fill("30");
    await size.dispatchEvent("change");
    await until("the error gone", async () => (await page.getByText("must be at most 200").count()) === 0);
    await page.getByRole("button", { name: "Review and deploy" }).click();
    await page.getByText("Monthly cost").first().waitFor();
    await accessible(page, "review");
    await shot(page, "05-review");
  });

  await check("deploy hello_web, watch it run, open its URL, reveal the password, delete it", async () => {
    const signin = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
    const p = await signin.newPage();
    p.on("dialog", (d) => d.accept());
    await p.goto(`${base}/signin`);
    await p.getByLabel("Project API token").fill(server.info.project.auth_token);
    await p.getByRole("button", { name: "Sign in" }).first().click();
    await p.getByText(/Signed in as/).waitFor();
    await p.goto(`${base}/`);
    await p.getByRole("link", { name: "Hello Web" }).click();
    await p.getByRole("link", { name: /Choose: .*Бесплатный|Choose: free/i }).first().click();
    await p.getByRole("button", { name: "Review and deploy" }).click();
    await p.getByRole("button", { name: "Deploy" }).click();
    await p.waitForURL(/\/deployments\//);
    try {
      await until("the deployment running", async () => {
        await p.reload();
        return (await p.locator("[data-status]").innerText()) === "running";
      }, Number(process.env.DEPLOY_WAIT_MS || 300000));
    } catch (e) {
      await shot(p, "07-deployment-stuck");
      throw new Error(`${e.message}; the page says:\n${await p.locator("main").innerText()}`);
    }
    await accessible(p, "deployment page");
    await shot(p, "07-deployment");
    const url = await p.locator("dd a").first().getAttribute("href");
    assert.ok(url && url.startsWith("http"), `a URL output, got ${url}`);
    const answer = await until("the URL answering", async () => {
      const r = await fetch(url);
      return r.ok ? r : undefined;
    }, 60000);
    assert.equal(answer.status, 200);
    assert.ok((await p.locator("dd code", { hasText: "<sensitive>" }).count()) > 0, "a masked output");
    await p.getByRole("button", { name: "Reveal hidden values" }).click();
    await p.locator("[data-status]").waitFor();
    assert.equal(await p.locator("dd code", { hasText: "<sensitive>" }).count(), 0, "every value shown");
    await shot(p, "08-revealed");
    await p.getByRole("button", { name: "Delete" }).click();
    await until("the deployment deleted", async () => {
      await p.reload();
      return (await p.locator("[data-status]").innerText()) === "deleted";
    }, 300000);
    await signin.close();
  });

  await check("change an option, see the preview (what changes and the new price), apply, see it running again", changeOptionsOfARunningDeployment);

  await check("every example wizard renders with no console error", async () => {
    await page.goto(`${base}/`);
    const services = await page.locator(".card h2 a").evaluateAll((as) => as.map((a) => a.href));
    for (const s of services) {
      await page.goto(s);
      const plans = await page.locator("a.button").evaluateAll((as) => as.map((a) => a.href));
      for (const p of plans) {
        await page.goto(p);
        await page.locator("form.wizard").waitFor();
        await accessible(page, p);
      }
    }
    assert.deepEqual(consoleErrors, []);
  });

  await check("a phone-sized screen and the dark theme", async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "ru-RU" });
    const p = await phone.newPage();
    await p.goto(`${base}/`);
    await p.getByRole("heading", { name: "Каталог" }).waitFor();
    await p.getByRole("button", { name: /Тема/ }).click();
    assert.equal(await p.evaluate(() => document.documentElement.dataset.theme), "dark");
    await accessible(p, "dark catalog");
    await shot(p, "06-phone-dark");
    await phone.close();
  });
  await sdfSteps({ check, accessible, shot, until, browser, base });
  await vendorSteps({ check, accessible, shot, until, browser, base, server, root });
} finally {
  await browser.close();
  await server.stop();
}

const failed = results.filter((r) => r[1] !== "ok");
console.log(`\n${results.length - failed.length} passed, ${failed.length} failed; screenshots in ${shots}`);
process.exit(failed.length ? 1 : 0);
