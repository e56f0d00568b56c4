import { test, expect } from "@playwright/test";
import http from "node:http";
import { hydrated, onboardAndSignIn } from "./helpers";

// An MCP server (streamable HTTP, JSON answers, no session) on the port `make test` opens to the
// app's outbound rules. It wants a bearer token and lists one tool.
const mcpPort = Number(process.env.E2E_MCP_PORT ?? 3912);
const MCP_TOKEN = "e2e-mcp-token-value";
let mcp: http.Server;

test.beforeAll(async () => {
  mcp = http.createServer((req, res) => {
    if (req.method !== "POST") {
      res.writeHead(405).end();
      return;
    }
    if (req.headers.authorization !== `Bearer ${MCP_TOKEN}`) {
      res.writeHead(401).end();
      return;
    }
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const msg = JSON.parse(body);
      if (msg.id === undefined) {
        res.writeHead(202).end();
        return;
      }
      const results: Record<string, unknown> = {
        initialize: {
          protocolVersion: msg.params?.protocolVersion ?? "2025-06-18",
          capabilities: { tools: {} },
          serverInfo: { name: "e2e-mcp", version: "0.0.0" },
        },
        "tools/list": {
          tools: [{
            name: "track_parcel",
            description: "Where a parcel is.",
            inputSchema: { type: "object", properties: { parcel: { type: "string" } }, required: ["parcel"] },
          }],
        },
        "tools/call": { content: [{ type: "text", text: `parcel ${msg.params?.arguments?.parcel} is in Lyon` }] },
      };
      const result = results[msg.method];
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(result === undefined
        ? { jsonrpc: "2.0", id: msg.id, error: { code: -32601, message: "no such method" } }
        : { jsonrpc: "2.0", id: msg.id, result }));
    });
  });
  await new Promise<void>((resolve) => mcp.listen(mcpPort, "127.0.0.1", resolve));
});

test.afterAll(async () => {
  // The app's HTTP client keeps its connection to the server open for the next call.
  mcp.closeAllConnections();
  await new Promise((resolve) => mcp.close(resolve));
});

test("an admin tries a built-in tool, adds an HTTP tool without ever seeing its secret again, and removes it", async ({ page }) => {
  await onboardAndSignIn(page, `E2E Tools ${Date.now()}`);
  await page.getByRole("link", { name: "Tools", exact: true }).click();
  await expect(page).toHaveURL(/\/tools$/);
  await hydrated(page);
  // Every client has the built-in tools.
  await expect(page.getByTestId("tool-row")).toHaveCount(3);

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
  await expect(page.getByTestId("tool-row")).toHaveCount(3);
});

test("an admin registers an MCP server, tries its tool and removes it", async ({ page }) => {
  await onboardAndSignIn(page, `E2E MCP ${Date.now()}`);
  await page.goto("/tools");
  await hydrated(page);
  await expect(page.getByText("No MCP server registered yet.")).toBeVisible();

  // An address the outbound rules keep closed is refused, with the reason on the URL field.
  await page.locator("input[name=mcp_name]").fill("parcels");
  await page.locator("input[name=mcp_url]").fill("http://169.254.169.254/mcp");
  await page.getByRole("button", { name: "Register the server" }).click();
  await expect(page.getByRole("alert")).toContainText("private or reserved");

  await page.locator("input[name=mcp_url]").fill(`http://127.0.0.1:${mcpPort}/mcp`);
  await page.locator("input[name=mcp_token]").fill(MCP_TOKEN);
  await page.getByRole("button", { name: "Register the server" }).click();
  await expect(page.getByText("Registered parcels, with 1 tool.")).toBeVisible();
  const server = page.locator('[data-server="parcels"]');
  await expect(server.getByTestId("mcp-tools")).toHaveText("track_parcel");
  await expect(server).toContainText("token set");
  expect(await page.content()).not.toContain(MCP_TOKEN);

  // Its tool is in the catalogue as server/tool, and a trial call reaches the server.
  const tool = page.locator('[data-tool="parcels/track_parcel"]');
  await expect(tool).toContainText("MCP");
  await tool.getByText("Arguments and a trial call").click();
  await tool.locator("textarea").fill('{"parcel": "P-7"}');
  await tool.getByRole("button", { name: "Try it" }).click();
  await expect(tool.getByTestId("tool-trial-status")).toHaveText("ok");
  await expect(tool.getByTestId("tool-trial")).toContainText("parcel P-7 is in Lyon");

  page.once("dialog", (d) => d.accept());
  await server.getByRole("button", { name: "Remove" }).click();
  await expect(server).toHaveCount(0);
  await expect(tool).toHaveCount(0);
});
