#!/usr/bin/env node
// HF tokenizers 0.23.2 (the official Node binding of the Rust library) as an oracle for kvbench's own
// tokenizer.json implementation. Same protocol as `kvbench tokenize --batch --with-decode`:
//   node oracle.js TOKENIZER_JSON IN.jsonl [--no-bos]  >  OUT.jsonl
// Input lines: {"text": "..."} or {"b64": "..."} (raw bytes; decoded here as UTF-8 with U+FFFD replacement,
// as Python's errors="replace" does). Output lines: {"ids": [...], "decoded": ..., "decoded_skip_special": ...}.
// With --time, prints {"encode_seconds": ...} to stderr: encode time only, one string at a time.
'use strict';
const fs = require('fs');
const { Tokenizer } = require('tokenizers');

async function main() {
  const [file, input, ...flags] = process.argv.slice(2);
  const addSpecialTokens = !flags.includes('--no-bos');
  const tokenizer = Tokenizer.fromFile(file);
  const lines = fs.readFileSync(input, 'utf8').split('\n').filter((l) => l.length > 0);
  const out = [];
  let seconds = 0;
  for (const line of lines) {
    const row = JSON.parse(line);
    const text = row.b64 !== undefined ? new TextDecoder('utf-8').decode(Buffer.from(row.b64, 'base64')) : row.text;
    const t0 = process.hrtime.bigint();
    const encoding = await tokenizer.encode(text, null, { addSpecialTokens });
    seconds += Number(process.hrtime.bigint() - t0) / 1e9;
    const ids = encoding.getIds();
    out.push(JSON.stringify({
      ids,
      decoded: await tokenizer.decode(ids, false),
      decoded_skip_special: await tokenizer.decode(ids, true),
    }));
  }
  process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
  if (flags.includes('--time')) process.stderr.write(JSON.stringify({ encode_seconds: seconds }) + '\n');
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
