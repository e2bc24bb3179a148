// /sign load for interop/sunbird/run.py: Node's own http client, keep-alive, N requests in
// flight, so that the client costs little beside either server on a small machine.
// stdin: {"url", "bodies": [JSON text, ...], "concurrency"}; stdout: {"seconds", "ok", "failed"}.
import http from "node:http";

const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => { text += chunk; });
  process.stdin.on("end", () => resolve(text));
}));
const url = new URL(input.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: input.concurrency });
let next = 0, ok = 0, failed = 0;

function send(body) {
  return new Promise((resolve) => {
    const request = http.request({
      host: url.hostname, port: url.port, path: url.pathname, method: "POST", agent,
      headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) },
    }, (response) => {
      response.resume();
      response.on("end", () => { if (response.statusCode === 200) ok++; else failed++; resolve(); });
    });
    request.on("error", () => { failed++; resolve(); });
    request.end(body);
  });
}

async function worker() {
  while (next < input.bodies.length) await send(input.bodies[next++]);
}

const started = process.hrtime.bigint();
await Promise.all(Array.from({ length: input.concurrency }, worker));
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
agent.destroy();
process.stdout.write(JSON.stringify({ seconds, ok, failed }) + "\n");
