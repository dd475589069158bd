// Yeoman looks for generators/<name>/index.js; the generator itself is written
// in TypeScript next to this file and compiled to dist/ by `npm run build`.
export { default } from '../../dist/generators/app/generator.js';
