// The Customers area: one parent route with a tab per screen, each its own chunk.
import type { RouteRecordRaw } from 'vue-router'

export const customersRoute: RouteRecordRaw = {
  path: 'customers',
  component: () => import('./CustomersLayout.vue'),
  children: [
    { path: '', name: 'customers', component: () => import('./CustomerListView.vue') },
    { path: 'segments/:segmentId?', name: 'segments', component: () => import('./SegmentsView.vue') },
    { path: 'tags', name: 'customer-tags', component: () => import('./TagsView.vue') },
    { path: 'attributes', name: 'customer-attributes', component: () => import('./AttributesView.vue') },
    { path: 'tiers', name: 'customer-tiers', component: () => import('./TiersView.vue') },
  ],
}
