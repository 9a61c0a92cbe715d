#!/usr/bin/env node
// Writes the tokenizer reference fixture: >= 1,000 diverse strings and the token IDs that the
// reference tokenizer, transformers.js (@huggingface/transformers@3), gives them with the real
// all-MiniLM-L6-v2 tokenizer files, one JSON object per line: {"text": "...", "ids": [...]}
// (special tokens added, no truncation). No string holds U+0000: the C API takes C strings. The strings are fixed edge cases plus seeded random
// mixtures, so a re-run gives the same file.
//
// Setup (npm only; the flag skips a GPU binary download that fails offline):
//   mkdir -p /tmp/tfjs && (cd /tmp/tfjs && npm install --ignore-scripts @huggingface/transformers@3)
// Usage:
//   node tools/tokenizer_reference.mjs /tmp/tfjs tests/fixtures/embed/minilm > tests/fixtures/embed/tokenizer_reference.jsonl
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [tfjsDir, modelDir] = process.argv.slice(2);
if (!tfjsDir || !modelDir) {
  process.stderr.write('usage: tokenizer_reference.mjs TRANSFORMERS_INSTALL_DIR MODEL_DIR\n');
  process.exit(2);
}
const entry = path.join(path.resolve(tfjsDir), 'node_modules/@huggingface/transformers/dist/transformers.node.mjs');
const { AutoTokenizer, env } = await import(pathToFileURL(entry).href);
env.allowRemoteModels = false;
env.localModelPath = path.dirname(path.resolve(modelDir)) + '/';
const tok = await AutoTokenizer.from_pretrained(path.basename(path.resolve(modelDir)));

function mulberry32(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6D2B79F5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const fixed = [
  '', ' ', '   ', '\t', '\n', '\r\n', ' \t\n ', 'hello', 'Hello, World!', 'HELLO WORLD',
  'The quick brown fox jumps over the lazy dog.', 'unaffable', 'unbelievably tokenization',
  'Café naïve résumé façade coöperate', 'ÉCOLE ÉLÉMENTAIRE', 'e\u0301 a\u0300 o\u0308',
  'Tiếng Việt có dấu', 'Ångström Øre Æsir', 'Straße Maß', 'İstanbul ıi İI',
  'ΟΔΥΣΣΕΥΣ Σίσυφος ΣΑΣ', 'Σ', 'ΑΣ.', 'αΣ\'β', 'Москва Россия Привет', 'Ελληνικά',
  '我爱北京天安门', '東京タワーは高い。', '한국어 텍스트', '中文English混合', '𠀀𠀁𠀂 ext-B',
  '日本語のテキスト、句読点。', 'ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３', 'ﬁ ﬂ ligatures', 'Ⅻ ⅻ ① ②',
  'I ❤️ 🍕!!', '👨‍👩‍👧‍👦 family', '🇫🇷🇩🇪 flags', 'smile😀face', '😀', '☃ ★ ♥ ✓',
  '!!!???...', '----', '...', '!?', '«quotes» “smart” ‘single’', '(parens) [brackets] {braces}',
  'a,b;c:d', 'don\'t can\'t won\'t', 'e-mail co-operate', 'path/to/file.txt',
  'https://example.com/a?b=c&d=e#f', 'user@example.com', '#hashtag @mention', '$100 €50 £30 ¥1000',
  '3.14159 1,000,000 -42 +7 1e10', '2024-01-01T12:00:00Z', 'C++ C# F# .NET', 'x = y + z * 2 / 3',
  'a'.repeat(99), 'a'.repeat(100), 'a'.repeat(101), 'a'.repeat(150), 'hello'.repeat(20),
  'hello'.repeat(21), 'ab'.repeat(60), 'supercalifragilisticexpialidocious',
  'pneumonoultramicroscopicsilicovolcanoconiosis', 'tab\there', 'new\nline', 'cr\rreturn',
  'nbsp\u00a0here', 'ideographic\u3000space', 'en\u2002em\u2003thin\u2009', 'line\u2028sep\u2029para',
  'narrow\u202fnbsp', 'zero\u200bwidth', 'bom\ufeffhere', 'soft\u00adhyphen', 'ctrl\u0001\u0002chars',
  'del\u007fchar', 'nel\u0085char', 'vt\u000bff\u000c', 'repl\ufffdchar', 'pua\ue000char',
  '[CLS] hello [SEP]', '[MASK] is a mask', 'a[SEP]b', '[mask] lower', '[UNK][PAD]', '[CLS', 'CLS]',
  'مرحبا بالعالم', 'שלום עולם', 'नमस्ते दुनिया', 'สวัสดีชาวโลก', 'ქართული', 'Հայերեն', 'ᏣᎳᎩ',
  'ﾊﾝｶｸ ｶﾀｶﾅ', 'ㄱㄴㄷ', 'a\u0308\u0301', '\u0301alone', 'x\u20dd', 'Ꭰ ꭰ', 'Ᲊ ᲊ',
  '   leading and trailing   ', 'multiple     spaces', 'MiXeD CaSe WoRdS', 'ALLCAPS', 'numbers123abc',
  '123', '0', 'über', 'Ü', 'ß', 'ẞ', 'ǅ ǆ Ǆ', 'ﬃ', 'ŉ', 'İ', 'K', 'Å',
];

const words = ['the', 'of', 'and', 'to', 'in', 'is', 'was', 'for', 'on', 'that', 'with', 'as', 'by',
  'search', 'vector', 'embedding', 'transformer', 'tokenization', 'unhappiness', 'internationalization',
  'antidisestablishmentarianism', 'café', 'naïve', 'résumé', 'Zürich', 'São', 'Paulo', 'Kraków', 'Dvořák',
  'München', 'Ålesund', 'Øresund', 'ÉTÉ', 'Ελλάδα', 'ΣΟΦΙΑ', 'Київ', 'Беларусь', '北京', '上海市',
  '東京', 'ひらがな', 'カタカナ', '서울', '대한민국', '🙂', '🚀', '👍🏽', '❤️', '∑', '∞', '≠', '√2',
  'π', 'µs', '°C', '½', '²', 'Ⅳ', 'x86_64', 'snake_case', 'camelCase', 'kebab-case', 'AT&T',
  'U.S.A.', 'e.g.', 'i.e.', '...', '—', '–', '…', '·', '•', '§', '¶', '©', '®', '™', '%', '‰',
  '42', '3.5', '1,234', '#1', '@home', 'www', 'http', 'COVID-19', 'GPT-4', 'BERT', 'MiniLM',
  'qwxz', 'zzzzzz', 'xylophone', 'rhythm', 'queueing', 'bookkeeper', 'floccinaucinihilipilification'];
const spaces = [' ', ' ', ' ', ' ', '  ', '\t', '\n', '\r\n', '\u00a0', '\u3000', '\u2003', '\u200b', '\u202f'];
const puncts = ['.', ',', '!', '?', ';', ':', '-', '(', ')', '"', '\'', '«', '»', '“', '”', '¿', '¡',
  '。', '、', '！', '？', '/', '\\', '*', '&', '^', '~', '`', '|', '<', '>', '=', '+', '_', '[', ']', '{', '}'];
const rnd = mulberry32(20261126);
const pick = (a) => a[Math.floor(rnd() * a.length)];
// Random code points from the planes people write in (surrogates excluded: not valid UTF-8).
function randomCodePoint() {
  const ranges = [[0x20, 0x7e], [0xa0, 0x24f], [0x370, 0x3ff], [0x400, 0x4ff], [0x590, 0x6ff],
    [0x900, 0x97f], [0xe00, 0xe7f], [0x1100, 0x11ff], [0x1e00, 0x1fff], [0x2000, 0x2bff],
    [0x3000, 0x30ff], [0x3400, 0x4dbf], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0xf900, 0xfaff],
    [0xfb00, 0xfdff], [0xfe00, 0xffef], [0x1f300, 0x1faff], [0x20000, 0x2a6df], [0x10000, 0x1ffff]];
  const [lo, hi] = pick(ranges);
  return String.fromCodePoint(lo + Math.floor(rnd() * (hi - lo + 1)));
}
const random = [];
while (random.length < 1100) {
  const kind = rnd();
  let s = '';
  const n = 1 + Math.floor(rnd() * 14);
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (kind < 0.45) { // sentences of words, punctuation and odd spaces
      let w = pick(words);
      if (r < 0.15) w = w.toUpperCase();
      else if (r < 0.3) w = w[0].toUpperCase() + w.slice(1);
      s += w + (rnd() < 0.25 ? pick(puncts) : '') + pick(spaces);
    } else if (kind < 0.75) { // random code points, some glued to words
      s += rnd() < 0.5 ? randomCodePoint() : pick(words) + randomCodePoint();
      if (rnd() < 0.3) s += pick(spaces);
    } else if (kind < 0.9) { // punctuation runs
      s += pick(puncts).repeat(1 + Math.floor(rnd() * 4)) + (rnd() < 0.3 ? pick(words) : '');
    } else { // long words
      s += pick(words).repeat(1 + Math.floor(rnd() * 12)) + ' ';
    }
  }
  random.push(s);
}

let count = 0;
for (const text of [...fixed, ...random]) {
  const ids = tok.encode(text); // add_special_tokens defaults to true; no truncation
  process.stdout.write(JSON.stringify({ text, ids }) + '\n');
  count++;
}
process.stderr.write(`tokenizer_reference: ${count} strings\n`);
