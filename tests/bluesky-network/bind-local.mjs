// Preload (`node --import ./bind-local.mjs`): every TCP listener that would bind to all
// interfaces binds to 127.0.0.1 instead. dev-env's servers call `listen(port)` with no host.
import net from 'node:net'

const orig = net.Server.prototype.listen
const ANY = new Set([undefined, null, '', '0.0.0.0', '::'])
net.Server.prototype.listen = function (...a) {
  if (a[0] !== null && typeof a[0] === 'object') {
    if (!a[0].path && ANY.has(a[0].host)) a[0] = { ...a[0], host: '127.0.0.1' }
  } else if (a.length === 0 || typeof a[0] === 'function') {
    a.unshift(0, '127.0.0.1')
  } else if (typeof a[0] === 'number' || /^\d+$/.test(String(a[0]))) {
    if (typeof a[1] !== 'string' || ANY.has(a[1])) {
      if (typeof a[1] === 'string' || a[1] == null) a[1] = '127.0.0.1'
      else a.splice(1, 0, '127.0.0.1')
    }
  }
  return orig.apply(this, a)
}
