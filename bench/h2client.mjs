// A closed-loop gRPC load generator with no dependencies beyond Node.js:
// raw HTTP/2 (node:http2) carrying pre-serialized, length-prefixed gRPC
// messages. Python's grpc client costs more CPU per call than the server
// handler being measured; this one costs a fraction, so on a 2-core machine
// the server, not the client, is what runs out of CPU.
//
// usage: node bench/h2client.mjs --target 127.0.0.1:50051 --path /pkg.Svc/Method
//          --requests FILE --connections 4 --streams 16 --seconds 8 [--warmup 1]
// FILE: consecutive records of [u32 big-endian length][serialized request];
// requests are sent in file order, cycling (so each id is sent once per cycle).
// Prints one JSON object: requests ok / failed (by grpc-status), req/s, latencies.
import http2 from "node:http2";
import fs from "node:fs";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1]]);
    return acc;
  }, []),
);
const target = args.target;
const path = args.path;
const connections = Number(args.connections ?? 4);
const streams = Number(args.streams ?? 16);
const seconds = Number(args.seconds ?? 8);
const warmup = Number(args.warmup ?? 1);

const raw = fs.readFileSync(args.requests);
const frames = [];
for (let off = 0; off < raw.length; ) {
  const n = raw.readUInt32BE(off);
  const frame = Buffer.alloc(5 + n);
  frame.writeUInt8(0, 0); // not compressed
  frame.writeUInt32BE(n, 1);
  raw.copy(frame, 5, off + 4, off + 4 + n);
  frames.push(frame);
  off += 4 + n;
}
if (frames.length === 0) throw new Error("no requests in " + args.requests);

let next = 0;
let measuring = false;
let stopping = false;
let ok = 0;
let failed = 0;
const codes = {};
const latencies = [];

function one(session) {
  return new Promise((resolve) => {
    const frame = frames[next];
    next = (next + 1) % frames.length;
    const start = process.hrtime.bigint();
    const req = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
    });
    let status = null;
    req.on("response", (headers) => {
      if (headers["grpc-status"] !== undefined) status = headers["grpc-status"];
    });
    req.on("trailers", (trailers) => {
      status = trailers["grpc-status"];
    });
    req.on("data", () => {});
    const done = () => {
      if (measuring) {
        const code = status ?? "none";
        if (code === "0") {
          ok += 1;
          latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
        } else {
          failed += 1;
          codes[code] = (codes[code] ?? 0) + 1;
        }
      }
      resolve();
    };
    req.on("close", done);
    req.on("error", () => {});
    req.end(frame);
  });
}

async function loop(session) {
  while (!stopping) await one(session);
}

const sessions = [];
for (let i = 0; i < connections; i++) {
  const s = http2.connect(`http://${target}`);
  s.on("error", (e) => {
    console.error("session error", e.message);
  });
  sessions.push(s);
}
const loops = [];
for (const s of sessions) for (let k = 0; k < streams; k++) loops.push(loop(s));

await new Promise((r) => setTimeout(r, warmup * 1000));
measuring = true;
const t0 = process.hrtime.bigint();
await new Promise((r) => setTimeout(r, seconds * 1000));
measuring = false;
const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
stopping = true;
await Promise.all(loops);
for (const s of sessions) s.close();

latencies.sort((a, b) => a - b);
const q = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : null);
console.log(
  JSON.stringify({
    ok,
    failed,
    codes,
    seconds: elapsed,
    rps: ok / elapsed,
    p50_ms: q(0.5),
    p99_ms: q(0.99),
    distinct_requests: frames.length,
  }),
);
