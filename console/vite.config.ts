import { fileURLToPath, URL } from 'node:url'
import { defineConfig } from 'vitest/config'
import vue from '@vitejs/plugin-vue'
import AutoImport from 'unplugin-auto-import/vite'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'

// Element Plus is imported per component (and its CSS per component) by the resolvers, so the
// initial chunk carries only what the sign-in screen and the shell use; every route is its own
// chunk (router/index.ts). `npm run budget` checks the result.
export default defineConfig({
  base: '/',
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  plugins: [
    vue(),
    AutoImport({ resolvers: [ElementPlusResolver()], dts: 'src/auto-imports.d.ts' }),
    Components({ resolvers: [ElementPlusResolver()], dts: 'src/components.d.ts' }),
  ],
  build: {
    target: 'es2020',
    sourcemap: false,
    manifest: true,
  },
  server: {
    // `npm run dev` against `make dev`'s stack: the API and config.json come from the gateway.
    proxy: { '/v1': 'http://127.0.0.1:3000', '/config.json': 'http://127.0.0.1:3000' },
  },
  test: {
    environment: 'happy-dom',
    include: ['tests/**/*.test.ts'],
  },
})
