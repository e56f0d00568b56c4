import { test, expect } from "@playwright/test";
import { hydrated, onboardAndSignIn } from "./helpers";

test("an admin tries a built-in tool, adds an HTTP tool without ever seeing its secret again, and removes it", async ({ page }) => {
  await onboardAndSignIn(page, `E2E Tools ${Date.now()}`);
  await page.getByRole("link", { name: "Tools", exact: true }).click();
  await expect(page).toHaveURL(/\/tools$/);
  await hydrated(page);
  // Every client has the built-in tools.
  await expect(page.getByTestId("tool-row")).toHaveCount(2);

  // A trial call shows what the model would be given.
  const clock = page.locator('[data-tool="current_time"]');
  await clock.getByText("Arguments and a trial call").click();
  await clock.getByRole("button", { name: "Try it" }).click();
  await expect(clock.getByTestId("tool-trial-status")).toHaveText("ok");
  await expect(clock.getByTestId("tool-trial")).toContainText("weekday");

  // A bad definition is refused with the field named.
  await page.locator("input[name=tool_name]").fill("Order Status");
  await page.locator("input[name=description]").fill("Looks up where an order is.");
  await page.locator("input[name=url_template]").fill("https://shop.example.com/api/orders/{order_id}");
  await page.getByRole("button", { name: "Add the tool" }).click();
  await expect(page.getByRole("alert")).toContainText("name");

  // A good one is added; its header is listed by name only, and the form forgets the value.
  await page.locator("input[name=tool_name]").fill("order_status");
  await page.locator("textarea[name=headers]").fill("Authorization: Bearer e2e-secret-value");
  await page.getByRole("button", { name: "Add the tool" }).click();
  await expect(page.getByText("Added order_status.")).toBeVisible();
  const row = page.locator('[data-tool="order_status"]');
  await expect(row).toContainText("GET https://shop.example.com/api/orders/{order_id} · sends Authorization");
  await expect(page.locator("textarea[name=headers]")).toHaveValue("");
  expect(await page.content()).not.toContain("e2e-secret-value");
  await page.reload();
  await expect(row).toBeVisible();
  expect(await page.content()).not.toContain("e2e-secret-value");

  // Removing asks first.
  await hydrated(page);
  page.once("dialog", (d) => d.accept());
  await row.getByRole("button", { name: "Remove" }).click();
  await expect(row).toHaveCount(0);
  await expect(page.getByTestId("tool-row")).toHaveCount(2);
});
