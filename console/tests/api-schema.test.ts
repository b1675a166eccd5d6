// @vitest-environment node
// The typed client is only as good as its types: schema.d.ts must be what `npm run gen:api`
// makes from today's docs/openapi.yaml.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import openapiTS, { astToString } from 'openapi-typescript'

describe('src/api/schema.d.ts', () => {
  it('is generated from the current docs/openapi.yaml', async () => {
    const spec = readFileSync(new URL('../../docs/openapi.yaml', import.meta.url), 'utf8')
    const fresh = astToString(await openapiTS(spec, { defaultNonNullable: false }))
    const committed = readFileSync(new URL('../src/api/schema.d.ts', import.meta.url), 'utf8')
    expect(committed.slice(committed.indexOf('export'))).toBe(fresh.slice(fresh.indexOf('export')))
  }, 60_000)
})
