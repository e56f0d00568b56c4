import { test, expect, Page } from "@playwright/test";
import fs from "node:fs";
import { createEmployee, hydrated, onboardAndSignIn } from "./helpers";

// Screenshots for a reviewer (ignored by git): every page, light and dark, desktop and phone.
const SHOTS = "screenshots";

async function noSideways(page: Page, what: string) {
  const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  expect(scroll, `${what} scrolls sideways at ${client} px`).toBeLessThanOrEqual(client);
}

test("every page has its own title, fits a 390 px phone, and has a dark theme", async ({ page }) => {
  test.setTimeout(120_000);
  const name = `E2E Look ${Date.now()}`;
  await onboardAndSignIn(page, name);
  // The header says who is signed in.
  await expect(page.getByTestId("signed-in-as")).toContainText(name);
  await createEmployee(page, "Phone support");
  const employee = new URL(page.url()).pathname;
  const client = employee.match(/(client_[0-9a-f]{24})_emp_/)![1];
  const pages: [string, string, string][] = [
    ["dashboard", "/dashboard", "Dashboard · workforce"],
    ["employee", employee, "· workforce"],
    ["chat", `${employee}/chat`, "Chat with"],
    ["memory", `${employee}/memory`, "Memory of"],
    ["audit", "/audit", "Audit trail · workforce"],
    ["new-employee", "/employees/new", "New employee · workforce"],
    ["edit-employee", `${employee}/edit`, "Edit employee · workforce"],
    ["account", "/account", "People and keys · workforce"],
    ["tools", "/tools", "Tools · workforce"],
    ["knowledge", "/knowledge", "Knowledge · workforce"],
    ["client-limits", `/operator/clients/${client}`, "Client limits · workforce"],
    ["operator", "/operator", "Operator console · workforce"],
    ["signin", "/signin", "Sign in · workforce"],
    ["api-docs", "/api/docs", "API reference · workforce"],
  ];
  fs.mkdirSync(SHOTS, { recursive: true });
  const backgrounds: Record<string, string> = {};
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const [width, height] of [[1280, 800], [390, 844]]) {
      await page.setViewportSize({ width, height });
      for (const [label, path, title] of pages) {
        await page.goto(path);
        await expect(page).toHaveTitle(new RegExp(title.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
        if (width === 390) await noSideways(page, label);
        await page.screenshot({ path: `${SHOTS}/${label}-${scheme}-${width}.png`, fullPage: true });
      }
      backgrounds[scheme] = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    }
  }
  expect(backgrounds.dark, "the dark theme has another background").not.toBe(backgrounds.light);

  // The toggle overrides the system setting, and the choice stays after a reload.
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto("/dashboard");
  await hydrated(page);
  await page.getByRole("button", { name: "Switch between light and dark" }).click();
  await expect(page.locator("html")).toHaveClass(/dark/);
  await page.reload();
  await expect(page.locator("html")).toHaveClass(/dark/);
  expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe(backgrounds.dark);
});

test("a second client's people cannot open the first client's employee", async ({ page, browser }) => {
  await onboardAndSignIn(page, `E2E First ${Date.now()}`);
  await createEmployee(page, "Private banker");
  const theirs = new URL(page.url()).pathname;

  const other = await browser.newContext();
  const intruder = await other.newPage();
  await onboardAndSignIn(intruder, `E2E Second ${Date.now()}`);
  for (const path of [theirs, `${theirs}/chat`]) {
    await intruder.goto(path);
    await expect(intruder.getByRole("alert")).toContainText("not found");
    await expect(intruder.getByTestId("employee-name")).toHaveCount(0);
    await expect(intruder.getByText("Private banker")).toHaveCount(0);
  }
  await other.close();
});
