// Browser steps of the vendor console, the quota check, `when` conditions and page weight
// (called from run.mjs with its helpers). Package zips are made with Python's standard
// `zipfile` module (python3), since a broken package is what one step uploads.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, cpSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";

const HELLO = "2cfe21ad-f403-47a7-9c00-74e92d1ee7db";

/** Copies hello_web with `revision` and `edit(dir)` applied, zips it; returns the zip's path. */
function helloZip(root, work, revision, edit) {
  const dir = join(work, revision, "hello_web");
  cpSync(join(root, "examples", "packages", "hello_web"), dir, { recursive: true });
  const svc = join(dir, "service.yaml");
  const text = readFileSync(svc, "utf8");
  assert.ok(text.includes('revision: "1.0"'), "hello_web's revision is 1.0");
  writeFileSync(svc, text.replace('revision: "1.0"', `revision: "${revision}"`));
  edit(dir);
  const zip = join(work, `hello_web-${revision}.zip`);
  const r = spawnSync("python3", ["-m", "zipfile", "-c", zip, "hello_web"], { cwd: join(work, revision) });
  if (r.error || r.status !== 0) {
    throw new Error(`python3 could not zip the package (install python3): ${r.error || r.stderr}`);
  }
  return zip;
}

/** The revision 2.0 of the good upload: the "Журналы" group shows only with SSD data disks. */
function withWhen(dir) {
  const display = join(dir, "plans", "pro", "display.yaml");
  const text = readFileSync(display, "utf8");
  const group = "      - name: Журналы\n";
  assert.ok(text.includes(group), "the pro plan has the Журналы group");
  writeFileSync(display, text.replace(group,
    group + "        when:\n          in:\n            key:\n              param: data_type\n            values:\n              - const: ceph-ssd\n"));
}

async function signIn(p, base, kind, secret) {
  await p.goto(`${base}/signin`);
  if (kind === "vendor") {
    await p.getByLabel("Service token").fill(secret);
    await p.locator("form", { has: p.getByLabel("Service token") }).getByRole("button", { name: "Sign in" }).click();
  } else {
    await p.getByLabel("Project API token").fill(secret);
    await p.getByRole("button", { name: "Sign in" }).first().click();
  }
  await p.getByText(/Signed in as/).waitFor();
}

/** Polls the deployment page at `url` until its status is `status`. */
async function statusOf(p, url, status, until) {
  await until(`the deployment ${status}`, async () => {
    await p.goto(url);
    return (await p.locator("[data-status]").innerText()) === status;
  }, Number(process.env.DEPLOY_WAIT_MS || 300000));
}

/** Bytes a page load transferred (headers and bodies of every response) and its requests. */
async function weigh(browser, base, url, cookies) {
  const ctx = await browser.newContext({ locale: "en-US" });
  if (cookies) await ctx.addCookies(cookies);
  const p = await ctx.newPage();
  const done = [];
  p.on("requestfinished", (r) => done.push(r));
  await p.goto(url, { waitUntil: "networkidle" });
  let bytes = 0;
  const foreign = [];
  for (const r of done) {
    const s = await r.sizes();
    bytes += s.responseBodySize + s.responseHeadersSize;
    if (!r.url().startsWith(base) && !r.url().startsWith("data:")) foreign.push(r.url());
  }
  await ctx.close();
  return { bytes, foreign, requests: done.length };
}

/** An admin token of the built-in cloud (for changing the demo project's quotas). `serve
 *  --demo` writes no admin credentials, so they are read from the cloud's own state file in
 *  the test's data folder. */
async function adminToken(info, data, until) {
  const statePath = join(data, "cloud", "state.json");
  const admin = await until(`the built-in cloud's admin in ${statePath}`, async () => {
    if (!existsSync(statePath)) return undefined;
    const s = JSON.parse(readFileSync(statePath, "utf8")).state;
    const u = s && s.bootstrap && s.users[s.bootstrap.admin_user_id];
    return u && u.password ? u : undefined;
  }, 60000);
  const r = await fetch(`${info.cloud.auth_url}/auth/tokens`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ auth: {
      identity: { methods: ["password"], password: { user: { name: admin.name, domain: { name: "Default" }, password: admin.password } } },
      scope: { project: { name: "admin", domain: { name: "Default" } } } } }),
  });
  assert.equal(r.status, 201, "admin sign-in to the built-in cloud");
  return r.headers.get("x-subject-token");
}

async function setCores(info, data, until, cores) {
  const token = await adminToken(info, data, until);
  const compute = info.cloud.auth_url.replace(/\/identity\/v3$/, "/compute/v2.1");
  const r = await fetch(`${compute}/os-quota-sets/${info.cloud.project_id}`, {
    method: "PUT",
    headers: { "content-type": "application/json", "x-auth-token": token },
    body: JSON.stringify({ quota_set: { cores } }),
  });
  assert.equal(r.status, 200, `setting the demo project's cores quota to ${cores}`);
}

export async function vendorSteps({ check, accessible, shot, until, browser, base, server, root }) {
  const work = mkdtempSync(join(tmpdir(), "vitrina-browser-zips-"));
  const info = server.info;
  try {
    await check("vendor console: a zip with an error shows its diagnostic; a good revision previews, publishes, reaches the catalog and upgrades a running deployment from its page", async () => {
      const bad = helloZip(root, work, "3.0", (d) => {
        const svc = join(d, "service.yaml");
        writeFileSync(svc, readFileSync(svc, "utf8").replace(HELLO, "not-a-uuid"));
      });
      const good = helloZip(root, work, "2.0", withWhen);
      // The consumer's hello_web on revision 1.0, which the new revision will upgrade.
      const consumer = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
      const c = await consumer.newPage();
      c.on("dialog", (d) => d.accept());
      await signIn(c, base, "project", info.project.auth_token);
      await c.goto(`${base}/services/${HELLO}`);
      await c.getByRole("link", { name: /Choose: .*Профессиональный/ }).click();
      await c.getByRole("button", { name: "Review and deploy" }).click();
      await c.getByRole("button", { name: "Deploy", exact: true }).click();
      await c.waitForURL(/\/deployments\/[^/]+$/);
      const deployment = c.url();
      await statusOf(c, deployment, "running", until);
      assert.equal(await c.locator("[data-upgrade]").count(), 0, "no newer revision yet");

      const ctx = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
      const p = await ctx.newPage();
      await signIn(p, base, "vendor", info.vendor.service_token);
      await p.getByRole("link", { name: "Vendor console" }).click();
      await p.getByRole("heading", { name: "Vendor console", level: 1 }).waitFor();
      await accessible(p, "vendor console");
      await shot(p, "10-vendor-console");

      await p.getByLabel("Package zip").setInputFiles(bad);
      await p.getByRole("button", { name: "Upload", exact: true }).click();
      await p.getByText("The package was not accepted").waitFor();
      const loc = p.locator("code.loc", { hasText: /^service\.yaml:1:\d+$/ }).first();
      await loc.waitFor();
      const src = await p.locator("pre.src").first().innerText();
      assert.match(src, /not-a-uuid/);
      assert.match(src, /\^/);
      await accessible(p, "vendor console with diagnostics");
      await shot(p, "11-vendor-diagnostic");

      await p.getByLabel("Package zip").setInputFiles(good);
      await p.getByRole("button", { name: "Upload", exact: true }).click();
      await p.getByText("Uploaded into the test namespace: Hello Web 2.0").waitFor();
      const row = p.locator(`tr[data-product="${HELLO}"][data-revision="2.0"]`);
      assert.equal(await row.locator("[data-namespace]").innerText(), "test");

      // Preview: the service page and the paid plan's wizard of 2.0, as consumers will see them.
      await p.getByRole("link", { name: "Preview: Hello Web 2.0, service page" }).click();
      await p.locator("table.matrix").waitFor();
      await p.goBack();
      await p.getByRole("link", { name: "Preview: Hello Web 2.0, Профессиональный" }).first().click();
      await p.locator("form.wizard").waitFor();
      assert.equal(await p.locator('input[name="_revision"]').inputValue(), "2.0");
      await accessible(p, "preview wizard");
      await shot(p, "12-vendor-preview-wizard");

      await p.goto(`${base}/vendor`);
      await p.getByRole("button", { name: "Publish: Hello Web 2.0" }).click();
      await p.getByText(/^Published:/).waitFor();
      assert.equal(await p.locator(`tr[data-product="${HELLO}"][data-revision="2.0"] [data-namespace]`).innerText(), "public");
      assert.equal(await p.locator(`tr[data-product="${HELLO}"][data-revision="1.0"] [data-namespace]`).innerText(), "test");

      // The consumer's deployment page offers the upgrade to 2.0, previews it and applies it.
      await c.goto(deployment);
      await c.getByRole("link", { name: "Upgrade to revision 2.0" }).click();
      await c.getByText(/1\.0 → 2\.0/).waitFor();
      await accessible(c, "upgrade preview");
      await shot(c, "16-upgrade-preview");
      await c.getByRole("button", { name: "Apply the upgrade" }).click();
      await c.waitForURL(deployment);
      await until("the upgrade requested and run", async () => {
        await c.goto(deployment);
        return (await c.locator("[data-status]").innerText()) === "running"
          && (await c.locator("[data-upgrade]").count()) === 0;
      }, Number(process.env.DEPLOY_WAIT_MS || 300000));
      await shot(c, "17-upgraded-running");
      await c.getByRole("button", { name: "Delete" }).click();
      await statusOf(c, deployment, "deleted", until);
      await consumer.close();

      // Archive 1.0: a confirmation page first.
      await p.getByRole("button", { name: "Archive: Hello Web 1.0" }).click();
      await p.getByRole("heading", { name: "Archive this revision?" }).waitFor();
      await accessible(p, "archive confirmation");
      await p.getByRole("button", { name: "Archive for good" }).click();
      await p.getByText(/^Archived:/).waitFor();
      assert.equal(await p.locator(`tr[data-product="${HELLO}"][data-revision="1.0"] [data-namespace]`).innerText(), "archived");
      await shot(p, "13-vendor-published");
      await ctx.close();

      // The catalog (anonymous) runs revision 2.0.
      const anon = await browser.newContext({ locale: "en-US" });
      const a = await anon.newPage();
      await a.goto(`${base}/`);
      await a.getByRole("link", { name: "Hello Web" }).click();
      await a.getByRole("link", { name: /Choose: .*Профессиональный/ }).click();
      await a.locator("form.wizard").waitFor();
      assert.equal(await a.locator('input[name="_revision"]').inputValue(), "2.0");
      await anon.close();
    });

    await check("a `when` condition shows and hides its group as the controlling option changes", async () => {
      const ctx = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
      const p = await ctx.newPage();
      await p.goto(`${base}/services/${HELLO}`);
      await p.getByRole("link", { name: /Choose: .*Профессиональный/ }).click();
      const group = p.locator("fieldset.group", { has: p.locator("legend", { hasText: "Журналы" }) });
      await group.waitFor();
      const type = p.getByLabel("Тип диска данных", { exact: true });
      const values = await type.locator("option").evaluateAll((os) => os.map((o) => o.value));
      const other = values.find((v) => v !== "ceph-ssd");
      assert.ok(other, `a volume type besides ceph-ssd among ${values}`);
      await type.selectOption("ceph-ssd");
      await until("the group shown", async () => await group.isVisible());
      await type.selectOption(other);
      await until("the group hidden", async () => !(await group.isVisible()));
      await shot(p, "14-wizard-when-hidden");
      await type.selectOption("ceph-ssd");
      await until("the group shown again", async () => await group.isVisible());
      await ctx.close();
    });

    await check("an answer that exceeds the quota is flagged before deploying", async () => {
      await setCores(info, server.data, until, 1);
      const ctx = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
      const p = await ctx.newPage();
      try {
        await signIn(p, base, "project", info.project.auth_token);
        await p.goto(`${base}/services/${HELLO}`);
        await p.getByRole("link", { name: /Choose: .*Профессиональный/ }).click();
        const flavor = p.getByLabel("Тип виртуальной машины", { exact: true });
        const options = await flavor.locator("option").allInnerTexts();
        const bigger = options.find((o) => /Standard-2-4-40/.test(o));
        assert.ok(bigger, `a 2-vCPU flavor among ${options}`);
        await flavor.selectOption({ label: bigger });
        await p.getByRole("button", { name: "Review and deploy" }).click();
        await p.getByText("The project's quotas do not allow this deployment:").waitFor();
        const row = await p.locator('[data-shortfall="cores"]').innerText();
        assert.match(row, /vCPUs: needs 2, free [01]/);
        assert.match(row, /fewer vCPUs/);
        assert.equal(await p.getByRole("button", { name: "Deploy", exact: true }).count(), 0, "no deploy button");
        await accessible(p, "review with a quota shortfall");
        await shot(p, "15-review-quota-short");
        // Back to the wizard with the answers kept.
        await p.getByRole("button", { name: "Change the answers" }).click();
        await p.locator("form.wizard").waitFor();
        assert.match(await p.getByLabel("Тип виртуальной машины", { exact: true }).locator("option:checked").innerText(), /Standard-2-4-40/);
      } finally {
        await setCores(info, server.data, until, 20000);
        await ctx.close();
      }
    });

    await check("every page is under 300 KB transferred, with no third-party request", async () => {
      const ctx = await browser.newContext({ locale: "en-US" });
      const p = await ctx.newPage();
      await signIn(p, base, "vendor", info.vendor.service_token);
      const vendorCookies = await ctx.cookies();
      await ctx.close();
      const pages = [`${base}/`, `${base}/signin`, `${base}/services/${HELLO}`];
      const anon = await browser.newContext();
      const a = await anon.newPage();
      await a.goto(`${base}/`);
      const services = await a.locator(".card h2 a").evaluateAll((as) => as.map((x) => x.href));
      for (const s of services) {
        pages.push(s);
        await a.goto(s);
        pages.push(...(await a.locator("a.button").evaluateAll((as) => as.map((x) => x.href))));
      }
      await anon.close();
      const report = [];
      for (const url of pages) {
        const w = await weigh(browser, base, url);
        report.push([url.replace(base, ""), w.bytes]);
        assert.ok(w.bytes < 300 * 1024, `${url}: ${w.bytes} bytes`);
        assert.deepEqual(w.foreign, [], `${url}: third-party requests`);
      }
      const v = await weigh(browser, base, `${base}/vendor`, vendorCookies);
      report.push(["/vendor", v.bytes]);
      assert.ok(v.bytes < 300 * 1024, `/vendor: ${v.bytes} bytes`);
      assert.deepEqual(v.foreign, []);
      const heaviest = report.reduce((m, r) => (r[1] > m[1] ? r : m));
      console.log(`     page weight: ${report.length} pages, heaviest ${heaviest[0]} at ${heaviest[1]} bytes`);
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
