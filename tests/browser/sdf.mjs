// Browser steps of the VM-SDF wizard (issue 14), called from run.mjs with its helpers: the
// seed's LNMP example and its `Section` example (both listed by `serve --demo` from
// examples/vm-sdf) open from the catalog; choosing an option shows or hides the variables it
// activates, through a section's default too; the YAML tab shows the answers with passwords
// masked; a password is generated on request. Nothing is deployed here (the demo apps' sources
// are on the internet); crates/server/tests/web_sdf.rs deploys from the wizard.
import assert from "node:assert/strict";

export async function sdfSteps({ check, accessible, shot, until, browser, base }) {
  const ctx = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
  const p = await ctx.newPage();
  const errors = [];
  p.on("pageerror", (e) => errors.push(String(e)));
  p.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  p.on("request", (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith("data:")) errors.push(`third-party request: ${r.url()}`);
  });
  const yaml = () => p.locator("[data-yaml]").innerText();
  const tab = (name) => p.getByRole("tab", { name }).click();

  try {
    await check("VM-SDF LNMP: the PhpMyAdmin choice shows and hides its fields, the YAML tab masks passwords", async () => {
      await p.goto(`${base}/`);
      await p.getByRole("heading", { name: "VM applications" }).waitFor();
      await p.getByRole("link", { name: "LNMP Server", exact: true }).click();
      await p.waitForURL(/\/apps\/lnmp-10$/);
      const port = p.getByLabel("PhpMyAdmin HTTPS port", { exact: true });
      const lets = p.getByRole("group", { name: "Use Let's Encrypt certificate?" });
      const install = p.getByRole("group", { name: "Install PhpMyAdmin?" });
      await install.waitFor();
      assert.equal(await port.isVisible(), false, "the port is inactive while PhpMyAdmin is not installed");
      assert.equal(await lets.isVisible(), false);
      await accessible(p, "LNMP wizard");

      await install.getByLabel("Yes").check();
      await port.waitFor({ state: "visible" });
      await lets.waitFor({ state: "visible" });
      assert.equal(await port.inputValue(), "8443", "the seed's default");

      await p.getByLabel("Password for MySQL root user", { exact: true }).fill("Root-pass-4242");
      await p.getByLabel("Confirm: Password for MySQL root user", { exact: true }).fill("Root-pass-4242");
      await p.getByRole("button", { name: "Generate: Database User Password" }).click();
      const user = p.getByLabel("Database User Password", { exact: true });
      const generated = await until("a generated password", async () => (await user.inputValue()) || undefined);
      assert.equal(await p.getByLabel("Confirm: Database User Password", { exact: true }).inputValue(), generated);
      assert.equal(await user.getAttribute("type"), "password");
      await p.getByRole("button", { name: "Show: Database User Password" }).click();
      assert.equal(await user.getAttribute("type"), "text");
      await p.getByLabel("Domain name for the first Website").fill("shop.example.org");

      await tab("YAML");
      await until("the YAML of the answers", async () => {
        const y = await yaml();
        return y.includes("domain-name: shop.example.org") && y.includes("mysql-php-admin-https-port: 8443");
      });
      const y = await yaml();
      assert.match(y, /mysql-root-password: '\*{8}'/);
      assert.match(y, /mysql-user-password: '\*{8}'/);
      assert.ok(!y.includes("Root-pass-4242") && !y.includes(generated), "passwords are masked");
      // Option keys keep their YAML type through the catalog: the boolean `false`, not 'false'.
      assert.match(y, /use-lets-encrypt: false\n/);
      assert.equal(await port.isVisible(), false, "the form tab is hidden behind the YAML tab");
      await accessible(p, "LNMP YAML tab");
      await shot(p, "20-sdf-lnmp-yaml");

      await tab("Settings");
      await install.getByLabel("No").check();
      await port.waitFor({ state: "hidden" });
      await lets.waitFor({ state: "hidden" });
      await tab("YAML");
      await until("inactive variables null", async () => (await yaml()).includes("mysql-php-admin-https-port: null"));
      assert.match(await yaml(), /use-lets-encrypt: null/);
      await tab("Settings");
      await shot(p, "21-sdf-lnmp-form");
    });

    await check("VM-SDF sections: the MySQL mode picks a section, the section's default its field", async () => {
      await p.goto(`${base}/`);
      await p.getByRole("link", { name: "MySQL sections (seed 004 example)", exact: true }).click();
      await p.waitForURL(/\/apps\/mysql-sections$/);
      const mode = p.getByRole("group", { name: "MySQL mode" });
      const installSection = p.locator("[data-var=mysql-install-section]");
      const installPw = p.locator("[data-var=mysql-install-root-password] input[type=password]").first();
      const useSection = p.locator("[data-var=mysql-use-section]");
      const usePw = p.locator("[data-var=mysql-use-root-password] input[type=password]").first();
      await mode.waitFor();
      assert.equal(await mode.getByLabel("Install MySQL").isChecked(), true, "the default");
      assert.equal(await installSection.isVisible(), true);
      assert.equal(await installPw.isVisible(), true);
      assert.equal(await useSection.isVisible(), false);
      assert.equal(await usePw.isVisible(), false);
      await p.getByText("MySQL Installation Options").waitFor();
      await accessible(p, "MySQL sections wizard");

      await mode.getByLabel("Use Installed MySQL").check();
      await useSection.waitFor({ state: "visible" });
      await usePw.waitFor({ state: "visible" });
      await installSection.waitFor({ state: "hidden" });
      await installPw.waitFor({ state: "hidden" });
      await usePw.fill("Use-pass-5151");
      await p.locator("[data-var=mysql-use-root-password] input[type=password]").nth(1).fill("Use-pass-5151");
      await tab("YAML");
      await until("the use branch in the YAML", async () => {
        const y = await yaml();
        return y.includes("mysql-mode: use") && /mysql-use-root-password: '\*{8}'/.test(y);
      });
      const y = await yaml();
      assert.match(y, /mysql-install-root-password: null/);
      assert.ok(!y.includes("Use-pass-5151"));
      await accessible(p, "MySQL sections YAML tab");
      await tab("Settings");

      await mode.getByLabel("Install MySQL").check();
      await installPw.waitFor({ state: "visible" });
      await usePw.waitFor({ state: "hidden" });
      await shot(p, "22-sdf-sections");
      assert.deepEqual(errors, []);
    });
  } finally {
    await ctx.close();
  }
}
