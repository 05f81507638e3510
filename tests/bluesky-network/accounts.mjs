// Creates the brand's and the customer's accounts on the local PDS (invites are off), gives
// the brand an app password (what mentiondesk signs in with), and prints the env file the
// bluesky_network test reads. Usage: node accounts.mjs <pds url>
// (Handles need 3-18 characters before .test, and some words, "acme" among them, are reserved.)
import { randomBytes } from 'node:crypto'

const pds = process.argv[2] ?? 'http://localhost:2583'

async function xrpc(nsid, body, token) {
  const headers = { 'content-type': 'application/json' }
  if (token) headers.authorization = `Bearer ${token}`
  const response = await fetch(`${pds}/xrpc/${nsid}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`${nsid}: ${response.status} ${text}`)
  return JSON.parse(text)
}

async function account(handle) {
  const password = randomBytes(12).toString('hex')
  const created = await xrpc('com.atproto.server.createAccount', {
    handle,
    email: `${handle.split('.')[0]}@example.com`,
    password,
  })
  return { ...created, password }
}

const brand = await account('acmeshop.test')
const customer = await account('jodoe.test')
const appPassword = await xrpc(
  'com.atproto.server.createAppPassword',
  { name: 'mentiondesk' },
  brand.accessJwt,
)

const env = {
  BSKY_PDS_URL: pds,
  BSKY_BRAND_HANDLE: brand.handle,
  BSKY_BRAND_DID: brand.did,
  BSKY_BRAND_APP_PASSWORD: appPassword.password,
  BSKY_CUSTOMER_HANDLE: customer.handle,
  BSKY_CUSTOMER_DID: customer.did,
  BSKY_CUSTOMER_PASSWORD: customer.password,
}
for (const [key, value] of Object.entries(env)) console.log(`${key}=${value}`)
