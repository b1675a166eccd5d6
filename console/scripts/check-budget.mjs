// The initial JavaScript budget: what index.html loads before any route chunk, gzipped.
// Reads dist/.vite/manifest.json (vite build --manifest), follows the entry's static imports.
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { join } from 'node:path'

const BUDGET = Number(process.env.KEFU_JS_BUDGET_KB ?? 300) * 1024
const dist = new URL('../dist/', import.meta.url).pathname
const manifest = JSON.parse(readFileSync(join(dist, '.vite/manifest.json'), 'utf8'))
const entry = Object.values(manifest).find((chunk) => chunk.isEntry)
if (!entry) throw new Error('no entry chunk in the manifest: run npm run build first')
const seen = new Set()
const visit = (chunk) => {
  if (seen.has(chunk.file)) return
  seen.add(chunk.file)
  for (const key of chunk.imports ?? []) visit(manifest[key])
}
visit(entry)
let total = 0
for (const file of seen) {
  const size = gzipSync(readFileSync(join(dist, file))).length
  total += size
  console.log(`${(size / 1024).toFixed(1).padStart(8)} kB  ${file}`)
}
console.log(`${(total / 1024).toFixed(1).padStart(8)} kB  initial JS (gzip), budget ${BUDGET / 1024} kB`)
if (total > BUDGET) {
  console.error('over budget')
  process.exit(1)
}
