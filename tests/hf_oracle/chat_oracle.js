#!/usr/bin/env node
// HF's JavaScript Jinja engine (@huggingface/jinja, what transformers.js's apply_chat_template runs; the same
// lstrip_blocks/trim_blocks settings as transformers) as an oracle for kvbench's C++ chat formats.
//   node chat_oracle.js IN.jsonl  >  OUT.jsonl
// Input lines: {"template": FILE, "messages": [...], "add_generation_prompt": bool, "bos_token": s|null,
// "eos_token": s|null, "tokenizer": TOKENIZER_JSON|null}. The template gets enable_thinking=false (Qwen3's
// switch; other templates ignore it). Output lines: {"rendered": text, "ids": [...] (with a tokenizer: the
// rendering encoded without adding special tokens, as apply_chat_template(tokenize=True) does)} or {"error":
// message} when the template raises.
'use strict';
const fs = require('fs');
const { Template } = require('@huggingface/jinja');
const { Tokenizer } = require('tokenizers');

async function main() {
  const templates = new Map();
  const tokenizers = new Map();
  const out = [];
  for (const line of fs.readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l.length > 0)) {
    const row = JSON.parse(line);
    if (!templates.has(row.template)) templates.set(row.template, new Template(fs.readFileSync(row.template, 'utf8')));
    let rendered;
    try {
      rendered = templates.get(row.template).render({
        messages: row.messages,
        add_generation_prompt: row.add_generation_prompt,
        bos_token: row.bos_token ?? '',
        eos_token: row.eos_token ?? '',
        enable_thinking: false,
      });
    } catch (e) {
      out.push(JSON.stringify({ error: String(e && e.message ? e.message : e) }));
      continue;
    }
    const result = { rendered };
    if (row.tokenizer) {
      if (!tokenizers.has(row.tokenizer)) tokenizers.set(row.tokenizer, Tokenizer.fromFile(row.tokenizer));
      result.ids = (await tokenizers.get(row.tokenizer).encode(rendered, null, { addSpecialTokens: false })).getIds();
    }
    out.push(JSON.stringify(result));
  }
  process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
