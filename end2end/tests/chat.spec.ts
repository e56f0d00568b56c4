import { test, expect } from "@playwright/test";
import http from "node:http";
import { AddressInfo } from "node:net";
import { openChat } from "./helpers";

// An OpenAI-compatible chat endpoint; `make test` points the app's `openai` provider at it.
const stubPort = Number(process.env.E2E_STUB_PORT ?? 3911);
const seen: any[] = [];
let stub: http.Server;

test.beforeAll(async () => {
  stub = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const request = JSON.parse(body || "{}");
      seen.push(request);
      const last = request.messages?.[request.messages.length - 1]?.content ?? "";
      const reply = `Happy to help with: ${last}`;
      if (request.stream) {
        // Word by word, slowly enough for the page to show the answer growing.
        res.writeHead(200, { "content-type": "text/event-stream" });
        const chunk = (delta: object, usage: object | null = null) =>
          `data: ${JSON.stringify({
            id: "chatcmpl-e2e", object: "chat.completion.chunk", created: 0, model: request.model,
            choices: usage ? [] : [{ index: 0, delta, finish_reason: null }], usage,
          })}\n\n`;
        const words = reply.split(" ");
        let i = 0;
        const next = () => {
          if (i < words.length) {
            res.write(chunk({ content: (i === 0 ? "" : " ") + words[i] }));
            i += 1;
            setTimeout(next, 250);
          } else {
            // As OpenAI ends a stream: a piece with the finish reason, then usage, then [DONE].
            res.write(`data: ${JSON.stringify({
              id: "chatcmpl-e2e", object: "chat.completion.chunk", created: 0, model: request.model,
              choices: [{ index: 0, delta: {}, finish_reason: "stop" }],
            })}\n\n`);
            res.write(chunk({}, { prompt_tokens: 10, completion_tokens: words.length, total_tokens: 10 + words.length }));
            res.end("data: [DONE]\n\n");
          }
        };
        next();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({
        id: "chatcmpl-e2e", object: "chat.completion", created: 0, model: request.model,
        choices: [{ index: 0, message: { role: "assistant", content: reply }, finish_reason: "stop" }],
        usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
      }));
    });
  });
  await new Promise<void>((resolve) => stub.listen(stubPort, "127.0.0.1", resolve));
  expect((stub.address() as AddressInfo).port).toBe(stubPort);
});

test.afterAll(() => new Promise<void>((resolve) => stub.close(() => resolve())));

test("a client chats with an employee and finds the conversation again", async ({ page }) => {
  await openChat(page, `E2E Chat ${Date.now()}`, "Claims assistant", "gpt-4o-mini");

  await page.locator("input[name=message]").fill("My windscreen cracked on the motorway");
  await page.getByRole("button", { name: "Send" }).click();
  // The answer streams in: part of it is on the page before the rest has been generated.
  const growing = page.getByTestId("chat-pending").getByTestId("answer");
  await expect(growing).toContainText("Happy to help");
  await expect(growing).not.toContainText("motorway", { timeout: 100 }).catch(() => {
    throw new Error("the whole answer arrived at once: it was not streamed");
  });
  const log = page.getByTestId("chat-log");
  await expect(log).toContainText("My windscreen cracked on the motorway");
  await expect(log).toContainText("Happy to help with: My windscreen cracked on the motorway");

  // The model got the employee's personality as its system prompt.
  const request = seen[seen.length - 1];
  expect(request.model).toBe("gpt-4o-mini");
  expect(request.stream).toBe(true);
  expect(request.messages[0].role).toBe("system");
  expect(request.messages[0].content).toContain("a Claims assistant in the insurance industry");

  // The conversation is stored: it is there after a reload.
  await page.reload();
  await expect(page.getByTestId("chat-log")).toContainText("Happy to help with: My windscreen cracked on the motorway");
});

test("with the built-in local model, chat works without any provider and the conversation stays", async ({ page }) => {
  // SmolLM2 runs in the server's process, on one core: allow for a long answer.
  test.setTimeout(150_000);
  const asked = seen.length;
  await openChat(page, `E2E Local ${Date.now()}`, "Policy helper", "smollm2-135m-instruct");

  await page.locator("input[name=message]").fill("What does home insurance cover?");
  await page.getByRole("button", { name: "Send" }).click();
  const log = page.getByTestId("chat-log");
  await expect(log).toContainText("What does home insurance cover?", { timeout: 120_000 });
  const answer = ((await log.getByTestId("answer").last().textContent()) ?? "").trim();
  expect(answer.length, "the local model answered with some text").toBeGreaterThan(0);
  // The only provider with a key is the stub: it was never asked.
  expect(seen.length).toBe(asked);

  // Stored: after a reload (a new page, as in a later session) the answer is still there.
  await page.reload();
  const firstLine = answer.split("\n")[0].trim().slice(0, 40);
  await expect(page.getByTestId("chat-log")).toContainText(firstLine);
});
