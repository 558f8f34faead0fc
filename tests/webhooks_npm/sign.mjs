// Sign and check webhook deliveries with the providers' own npm libraries, for
// tests/test_webhooks_*.py. Reads a JSON array of operations on stdin and writes a JSON array of
// results: [{"op": "octokit_sign", "secret": "...", "body": "..."}] -> ["sha256=..."].
import { sign as octokitSign, verify as octokitVerify } from "@octokit/webhooks-methods";
import { LinearWebhookClient } from "@linear/sdk/webhooks";
import { verifyKey } from "discord-interactions";

const ops = {
  // https://github.com/octokit/webhooks-methods.js
  octokit_sign: (o) => octokitSign(o.secret, o.body),
  octokit_verify: (o) => octokitVerify(o.secret, o.body, o.signature),
  // https://linear.app/developers/webhooks#securing-webhooks (@linear/sdk/webhooks)
  linear_verify: (o) => {
    try {
      return new LinearWebhookClient(o.secret).verify(Buffer.from(o.body), o.signature);
    } catch (e) {
      return String(e.message);
    }
  },
  // https://github.com/discord/discord-interactions-js
  discord_verify: (o) => verifyKey(Buffer.from(o.body), o.signature, o.timestamp, o.public_key),
};

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const o of JSON.parse(input)) results.push(await ops[o.op](o));
process.stdout.write(JSON.stringify(results));
