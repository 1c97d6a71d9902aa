/** The Fastify plugin of tokend's SDK: `import { tokendFastify } from 'tokend/sdk/fastify'`. */
export { tokendFastify, type TokendFastifyOptions } from './server/fastify.js';
