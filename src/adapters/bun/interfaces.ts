// Interface addresses: Bun implements node:os networkInterfaces() with the same fields (`cidr`
// included, checked on Bun 1.4), so the Node adapter's code serves as it is.

export { interfaceSubnets } from '../node/interfaces.ts';
