// Drives `synthral mcp` with the official MCP TypeScript SDK client, for tests/test_mcp_clients.py.
//
//   node client.mjs PLAN.json
//
// PLAN: {"transport": "stdio", "command": "...", "args": [...]}  (the server gets this process's env)
//    or {"transport": "http", "url": "http://127.0.0.1:N/mcp", "token": "..."?}
//   plus "elicitation": null | "accept" | "decline"   (declare the capability and answer so)
//   and  "steps": [{"op": "list"}, {"op": "call", "name": "...", "arguments": {...}}, ...]
//
// Prints one JSON report on stdout: server info, the negotiated protocol version, each step's
// result (or the protocol error the SDK raised) and every elicitation request received.
// Assertions are made in Python; this script only reports what the SDK client saw.

import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const capabilities = plan.elicitation ? { elicitation: { form: {} } } : {};
const client = new Client({ name: "synthral-tests", version: "1.0.0" }, { capabilities });
const elicitations = [];

if (plan.elicitation) {
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    elicitations.push(request.params);
    if (plan.elicitation === "accept") {
      return { action: "accept", content: { confirm: true } };
    }
    return { action: plan.elicitation };
  });
}

let transport;
let stderr = "";
if (plan.transport === "stdio") {
  transport = new StdioClientTransport({
    command: plan.command,
    args: plan.args ?? [],
    env: { ...process.env },
    stderr: "pipe",
  });
  transport.stderr?.on("data", (chunk) => { stderr += chunk.toString(); });
} else {
  const headers = plan.token ? { Authorization: `Bearer ${plan.token}` } : {};
  transport = new StreamableHTTPClientTransport(new URL(plan.url), { requestInit: { headers } });
}

const report = { steps: [], elicitations };
try {
  await client.connect(transport);
  report.server = client.getServerVersion();
  report.capabilities = client.getServerCapabilities();
  report.instructions = client.getInstructions();
  report.protocolVersion = transport.protocolVersion ?? null;
  for (const step of plan.steps) {
    try {
      if (step.op === "list") {
        const listed = await client.listTools();
        report.steps.push({ op: "list", tools: listed.tools });
      } else if (step.op === "call") {
        const result = await client.callTool({ name: step.name, arguments: step.arguments ?? {} });
        report.steps.push({ op: "call", name: step.name, result });
      } else {
        throw new Error(`unknown step ${step.op}`);
      }
    } catch (error) {
      report.steps.push({ op: step.op, name: step.name, error: { code: error.code ?? null, message: String(error.message ?? error) } });
    }
  }
} catch (error) {
  report.fatal = String(error?.stack ?? error);
} finally {
  await client.close().catch(() => {});
}
report.stderr = stderr;
process.stdout.write(JSON.stringify(report) + "\n");
